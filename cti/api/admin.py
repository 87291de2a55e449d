"""Administrator endpoints: the configuration (validate, reload, versions) and the
tickets the work-order backend rejected (list, re-send).

A reload that the checks refuse answers ``422`` and leaves the running
configuration in place; so does one that cannot read the configuration
directory at all (missing, or a file), and every reload, refused or not,
is audited.  A re-send makes a rejected outbox row pending again,
optionally with a corrected payload (a ``Ticket`` for a create row, a
``RatingUpdate`` for an update row); the outbox writes the audit row.
Caller numbers in the rejected list are masked: an administrator repairs
tickets, they do not call citizens.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cti.api import schemas as s
from cti.api.audit import mark_audited
from cti.api.auth import Role
from cti.api.http import ApiError, bad_request, body_of, path_of, principal, query_of
from cti.api.openapi import REF
from cti.api.spec import Operation, register, reply
from cti.appkeys import CONFIG, OUTBOX, WRITER
from cti.config import ConfigManager, check_config
from cti.errors import ConfigError
from cti.logs import mask_number
from cti.tickets import RatingUpdate, Ticket, TicketNotFound, TicketStateError
from cti.tickets.rows import OutboxRow

TAG = "admin"
ADMIN = (Role.ADMIN,)


class OutboxPath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outbox_id: int = Field(ge=1, le=2**62, description="the outbox row id")


class RejectedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=100, ge=1, le=1000)


class ResendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: dict[str, Any] | None = None


def _manager(request: web.Request) -> ConfigManager:

    return request.app[CONFIG]


def _version(v: Any) -> s.ConfigVersion:
    return s.ConfigVersion(
        digest=v.digest, loaded_at=v.loaded_at, requested_by=v.requested_by, summary=v.summary
    )


async def validate(request: web.Request) -> web.Response:
    principal(request, *ADMIN)
    try:
        result = await asyncio.to_thread(check_config, _manager(request).directory)
    except (ConfigError, OSError) as exc:
        return reply(s.Validation(valid=False, issues=[_one_line(exc)]))
    return reply(
        s.Validation(valid=result.config is not None, issues=[str(i) for i in result.issues])
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


async def reload(request: web.Request) -> web.Response:
    who = principal(request, *ADMIN)
    manager = _manager(request)

    mark_audited(request)
    try:
        result = await manager.areload(f"admin:{who.id}")
    except (ConfigError, OSError) as exc:
        # The directory itself cannot be read (missing, a file): nothing changes.
        current = manager.snapshot()[1]
        request.app[WRITER].submit(
            "audit",
            {
                "at": datetime.now(UTC),
                "actor": who.id,
                "role": who.role.value,
                "action": "config_reload",
                "target": current.digest,
                "allowed": False,
                "detail": {"status": "refused", "error": _one_line(exc)[:500]},
            },
        )
        failed = s.ReloadResult(
            status="refused", version=_version(current), issues=[_one_line(exc)]
        )
        return reply(failed, status=422)
    request.app[WRITER].submit(
        "audit",
        {
            "at": datetime.now(UTC),
            "actor": who.id,
            "role": who.role.value,
            "action": "config_reload",
            "target": result.candidate_digest or result.current.digest,
            "allowed": result.status != "refused",
            "detail": {"status": result.status},
        },
    )
    body = s.ReloadResult(
        status=result.status,
        version=_version(result.current),
        issues=[str(i) for i in result.issues],
    )
    return reply(body, status=422 if result.status == "refused" else 200)


async def versions(request: web.Request) -> web.Response:
    principal(request, *ADMIN)
    history = [_version(v) for v in _manager(request).history]
    return reply(history, kind=list[s.ConfigVersion])


def _masked_payload(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    caller = out.get("caller")
    if isinstance(caller, dict):
        out["caller"] = {**caller, "number": mask_number(str(caller.get("number") or ""))}
    if isinstance(out.get("callback_number"), str):
        out["callback_number"] = mask_number(out["callback_number"])
    return out


def _rejected(row: OutboxRow) -> s.RejectedTicket:
    return s.RejectedTicket(
        id=row.id,
        call_id=row.call_id,
        kind=row.kind,
        status=row.status.value,
        attempts=row.attempts,
        caller=row.caller_masked,
        response_status=row.response_status,
        response_body=row.response_body,
        last_error=row.last_error,
        created_at=row.created_at,
        rejected_at=row.rejected_at,
        payload=_masked_payload(row.payload),
    )


def _outbox(request: web.Request) -> Any:

    return request.app[OUTBOX]


async def rejected_tickets(request: web.Request) -> web.Response:
    principal(request, *ADMIN)
    query = query_of(request, RejectedQuery)
    rows = await _outbox(request).list_rejected(query.limit)
    return reply([_rejected(r) for r in rows], kind=list[s.RejectedTicket])


async def resend_ticket(request: web.Request) -> web.Response:
    who = principal(request, *ADMIN)
    params = path_of(request, OutboxPath)
    body = await body_of(request, ResendRequest)
    outbox = _outbox(request)
    try:
        row = await outbox.get(params.outbox_id)
    except TicketNotFound as exc:
        raise ApiError(404, "unknown_ticket", f"outbox_id: {exc}") from exc
    payload: Ticket | RatingUpdate | None = None
    if body.payload is not None:
        model = Ticket if row.kind == "create" else RatingUpdate
        try:
            payload = model.model_validate(body.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(["payload", *(str(p) for p in first["loc"])])
            raise bad_request(field, first["msg"]) from exc
    try:
        row = await outbox.resend(params.outbox_id, by=who.id, role=who.role.value, payload=payload)
    except TicketNotFound as exc:
        raise ApiError(404, "unknown_ticket", f"outbox_id: {exc}") from exc
    except TicketStateError as exc:
        raise ApiError(409, "not_rejected", str(exc)) from exc
    return reply(_rejected(row))


def _resend_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for model in (Ticket, RatingUpdate):
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "payload": {
                "description": "a corrected Ticket (create rows) or RatingUpdate (updates)",
                "anyOf": [
                    {"$ref": REF.format(model="Ticket")},
                    {"$ref": REF.format(model="RatingUpdate")},
                    {"type": "null"},
                ],
            }
        },
        "$defs": defs,
    }


def add_routes(app: web.Application) -> None:
    ops = [
        Operation("POST", "/api/admin/config/validate", validate, "admin_config_validate",
                  "Check the configuration directory as it is on disk", TAG, ADMIN,
                  response=s.Validation),
        Operation("POST", "/api/admin/config/reload", reload, "admin_config_reload",
                  "Reload the configuration (refused: 422, the running one stays)", TAG,
                  ADMIN, response=s.ReloadResult, other={422: s.ReloadResult}),
        Operation("GET", "/api/admin/config/versions", versions, "admin_config_versions",
                  "The configuration versions loaded since start", TAG, ADMIN,
                  response=list[s.ConfigVersion]),
        Operation("GET", "/api/admin/tickets/rejected", rejected_tickets,
                  "admin_tickets_rejected", "Tickets the backend refused (4xx), oldest first",
                  TAG, ADMIN, query=RejectedQuery, response=list[s.RejectedTicket],
                  errors=(503,)),
        Operation("POST", "/api/admin/tickets/{outbox_id}/resend", resend_ticket,
                  "admin_ticket_resend", "Send a rejected ticket again, optionally corrected",
                  TAG, ADMIN, path_params=OutboxPath, body_schema=_resend_schema(),
                  response=s.RejectedTicket, errors=(404, 409, 503)),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
