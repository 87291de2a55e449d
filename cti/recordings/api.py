"""HTTP access to recordings: ``GET /api/recordings/{call_id}`` and ``GET /api/recordings``.

The audio is served from the engine's own copy (Asterisk ignores ``Range``),
with HTTP range support so a browser can seek: ``206`` with
``Content-Range`` for a satisfiable range, ``416`` for one that is not
(aiohttp's ``FileResponse``).  ``?segment=N`` picks a segment (default 1).

Every request is decided by :class:`recordings.AccessPolicy` for the
authenticated :class:`recordings.Principal`, which a ``principal_of``
function extracts from the request (by default the value the auth
middleware put under :data:`PRINCIPAL_KEY`).  Statuses: ``401`` without a
principal, ``403`` refused, ``404`` unknown call (or no stored file yet),
``503`` when the database cannot be reached.  Every access and every refusal
is written to the audit log (``recording_access``) with who, which call and
recording, why, and the range asked; an access whose audit row cannot be
written is refused (``503``), so nobody listens unaudited.  Listings mask the
caller's number unless the role may see it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from cti.api.audit import AUDITOR, mark_audited, storable
from cti.recordings.service import RecordingService
from recordings import AuditEntry, MetadataUnavailable, Principal, Recording, RecordingState

log = structlog.get_logger("cti.recordings.api")

PRINCIPAL_KEY = web.RequestKey("recordings_principal", Principal)
"""Where the auth middleware leaves the request's :class:`recordings.Principal`."""

ACCESS_ACTION = "recording_access"
ANONYMOUS_TEXT = 128
"""Characters kept of a stranger's call id when no :class:`cti.api.audit.Auditor` is set."""
LIST_ACTION = "recording_list"

PrincipalOf = Callable[[web.Request], "Principal | Awaitable[Principal | None] | None"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def principal_from_request(request: web.Request) -> Principal | None:
    """The principal the auth middleware stored under :data:`PRINCIPAL_KEY`."""
    return request.get(PRINCIPAL_KEY)


async def _principal(request: web.Request, principal_of: PrincipalOf) -> Principal | None:
    found = principal_of(request)
    if inspect.isawaitable(found):
        found = await found
    return found


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"message": message, **extra}, status=status)


def recording_stream_handler(
    service: RecordingService,
    *,
    principal_of: PrincipalOf = principal_from_request,
) -> Handler:
    """The handler of ``GET /api/recordings/{call_id}`` (see the module docstring)."""

    async def audit(
        who: Principal | None, target: str, allowed: bool, detail: dict[str, Any]
    ) -> bool:
        entry = AuditEntry(
            actor=who.id if who else "anonymous",
            role=who.role if who else "",
            action=ACCESS_ACTION,
            target=storable(target),
            allowed=allowed,
            detail=storable(detail),
        )
        try:
            await service.audit.record(entry)
        except MetadataUnavailable as exc:
            log.error("recording_audit_failed", target=target, allowed=allowed, error=str(exc))
            return False
        return True

    async def handler(request: web.Request) -> web.StreamResponse:
        call_id = request.match_info["call_id"]
        who = await _principal(request, principal_of)
        detail: dict[str, Any] = {"call_id": call_id, "range": request.headers.get("Range")}
        mark_audited(request)
        if who is None:
            # A stranger's row is bounded in size and rate (cti.api.audit).
            auditor = request.app.get(AUDITOR)
            if auditor is None or auditor.anonymous_allowed():
                limit = auditor.text_max if auditor is not None else ANONYMOUS_TEXT
                row = {**detail, "reason": "unauthenticated"}
                missed = auditor.take_suppressed() if auditor is not None else 0
                if missed:
                    row["suppressed"] = missed
                await audit(None, storable(call_id, limit), False, storable(row, limit))
            return _error(401, "authentication required")
        if not service.policy.role_may_listen(who):
            await audit(who, call_id, False, {**detail, "reason": "role_denied"})
            return _error(403, "not allowed to listen to recordings")
        try:
            segment = int(request.query.get("segment", "1"))
        except ValueError:
            await audit(who, call_id, False, {**detail, "reason": "bad_segment"})
            return _error(400, "segment must be a number")
        detail["segment"] = segment
        try:
            found = await service.access_facts(call_id)
        except MetadataUnavailable:
            return _error(503, "recordings are unavailable, try again")
        if found is None:
            await audit(who, call_id, False, {**detail, "reason": "unknown_call"})
            return _error(404, "no recording for this call")
        recordings, facts = found
        decision = service.policy.decide(who, facts, service.now())
        if not decision.allowed:
            await audit(who, call_id, False, {**detail, "reason": decision.reason.value})
            return _error(403, "not allowed to listen to this call")
        recording = next((r for r in recordings if r.segment == segment), None)
        if recording is None:
            await audit(who, call_id, False, {**detail, "reason": "unknown_segment"})
            return _error(404, "no such segment", segments=[r.segment for r in recordings])
        detail["recording"] = recording.name
        path = (
            service.files.path_of(recording.file_path)
            if recording.state is RecordingState.STORED and recording.file_path
            else None
        )
        if path is None or not path.is_file():
            await audit(who, recording.name, False, {**detail, "reason": "not_available"})
            return _error(404, "recording not available", state=recording.public_status.value)
        size = path.stat().st_size
        if not _satisfiable(request, size):
            await audit(who, recording.name, False, {**detail, "reason": "range_not_satisfiable"})
            return web.Response(
                status=416,
                headers={"Content-Range": f"bytes */{size}", "Cache-Control": "no-store"},
            )
        if not await audit(who, recording.name, True, {**detail, "reason": decision.reason.value}):
            return _error(503, "access cannot be audited now, try again")
        return web.FileResponse(
            path,
            headers={
                "Content-Type": _MIME.get(recording.format, "application/octet-stream"),
                "Cache-Control": "private, no-store",
                "Content-Disposition": f'inline; filename="{path.name}"',
            },
        )

    return handler


def _satisfiable(request: web.Request, size: int) -> bool:
    """Whether the request's ``Range`` (if any) selects bytes of a ``size``-byte file.

    The same reading as aiohttp's ``FileResponse``, decided before the access
    is audited so that the row tells what was sent.
    """
    if "Range" not in request.headers:
        return True
    if_range = request.if_range
    if if_range is not None:
        return True  # FileResponse then sends the whole file when it changed, else the range
    try:
        selected = request.http_range
    except ValueError:
        return False
    start: int | None = selected.start
    if start is None:
        return True
    if start < 0 and selected.stop is None:
        return size > 0
    return start < size


_MIME = {"wav": "audio/wav", "gsm": "audio/x-gsm", "ulaw": "audio/basic"}


def recording_list_handler(
    service: RecordingService,
    *,
    principal_of: PrincipalOf = principal_from_request,
) -> Handler:
    """The handler of ``GET /api/recordings?call_id=&agent=&since=&until=&limit=``.

    Supervisors and quality inspectors list everything; an agent lists only
    the calls they may still listen to.  Numbers are masked unless the role
    may see them.
    """

    async def handler(request: web.Request) -> web.StreamResponse:
        who = await _principal(request, principal_of)
        if who is None:
            # Audited by the refusal-audit middleware, bounded for strangers.
            return _error(401, "authentication required")
        mark_audited(request)
        if not service.policy.role_may_listen(who):
            await _audit_list(service, who, False, {"reason": "role_denied"})
            return _error(403, "not allowed to list recordings")
        try:
            since = _parse_time(request.query.get("since"))
            until = _parse_time(request.query.get("until"))
            limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
        except ValueError as exc:
            await _audit_list(
                service, who, False, {"reason": "bad_query", "query": _query(request)}
            )
            return _error(400, str(exc))
        agent = request.query.get("agent")
        if who.role not in service.policy.full_access_roles:
            agent = who.id
        try:
            listed = await service.store.listing(
                call_id=request.query.get("call_id"),
                agent=agent,
                since=since,
                until=until,
                limit=limit,
            )
        except MetadataUnavailable:
            return _error(503, "recordings are unavailable, try again")
        now = service.now()
        items = []
        for item in listed:
            if who.role not in service.policy.full_access_roles:
                facts = await service.access_facts(item.recording.call_id)
                if facts is None or not service.policy.decide(who, facts[1], now).allowed:
                    continue
            number = item.call.caller_number if item.call else None
            items.append(_view(item.recording, service.policy.show_number(who, number), item.call))
        await _audit_list(service, who, True, {"query": _query(request), "count": len(items)})
        return web.json_response({"recordings": items})

    return handler


async def _audit_list(
    service: RecordingService, who: Principal, allowed: bool, detail: dict[str, Any]
) -> None:
    try:
        await service.audit.record(
            AuditEntry(
                who.id, who.role, LIST_ACTION, None, allowed=allowed, detail=storable(detail)
            )
        )
    except MetadataUnavailable as exc:
        log.error("recording_audit_failed", action=LIST_ACTION, error=str(exc))


def _query(request: web.Request) -> dict[str, str]:
    return {key: value[:200] for key, value in request.query.items()}


def _view(recording: Recording, caller_number: str, call: Any) -> dict[str, Any]:
    return {
        "call_id": recording.call_id,
        "segment": recording.segment,
        "name": recording.name,
        "status": recording.public_status.value,
        "started_at": recording.started_at.isoformat(),
        "duration_s": recording.duration_s,
        "agents": list(recording.agents),
        "caller_number": caller_number,
        "dialled": call.dialled if call else None,
        "size_bytes": recording.size_bytes,
        "sha256": recording.sha256,
        "url": f"/api/recordings/{recording.call_id}?segment={recording.segment}",
    }


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r}: a time zone is required")
    return parsed


def add_recording_routes(
    app: web.Application,
    service: RecordingService,
    *,
    principal_of: PrincipalOf = principal_from_request,
) -> None:
    """Register both routes on ``app``."""
    app.router.add_get(
        "/api/recordings", recording_list_handler(service, principal_of=principal_of)
    )
    app.router.add_get(
        "/api/recordings/{call_id}", recording_stream_handler(service, principal_of=principal_of)
    )
