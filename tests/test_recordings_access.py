"""Recording access over real HTTP (policy, ranges, audit) and the retention purge,
against a real PostgreSQL and real files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cti.recordings.api import PRINCIPAL_KEY, add_recording_routes
from cti.recordings.service import RecordingService, RecordingSettings
from cti.store import Database
from recordings import (
    PURGE_ACTION,
    CallId,
    Principal,
    Recording,
    RecordingName,
    RecordingState,
    SourceUnavailable,
    make_wav,
    recording_name,
    relative_path,
)
from tests.recordings_support import eventually

pytestmark = pytest.mark.recordings


class UnreachableSource:
    """A recording source that is down; these tests never fetch."""

    async def fetch(self, name: RecordingName) -> bytes:
        raise SourceUnavailable(name, "not used here")

    async def delete(self, name: RecordingName) -> None:
        raise SourceUnavailable(name, "not used here")

    async def is_live(self, name: str) -> bool:
        return True  # cannot be asked: as if still recording


def header_principal(request: web.Request) -> Principal | None:
    value = request.headers.get("X-User")
    if not value:
        return None
    user, _, role = value.partition(":")
    return Principal(user, role)


@dataclass
class Site:
    db: Database
    service: RecordingService
    url: str
    http: aiohttp.ClientSession

    async def get(self, path: str, user: str | None, **headers: str) -> aiohttp.ClientResponse:
        if user is not None:
            headers["X-User"] = user
        return await self.http.get(self.url + path, headers=headers)

    async def audit_rows(self, action: str = "recording_access") -> list[dict[str, Any]]:
        return await self.db.fetch(
            "SELECT actor, role, action, target, allowed, detail, at FROM audit_log"
            " WHERE action = $1 ORDER BY id",
            action,
        )


async def seed_call(
    db: Database, call_id: str, *, caller: str, agent: str, ended_at: datetime
) -> None:
    await db.execute(
        "INSERT INTO calls (call_id, caller_number, dialled, first_agent, last_agent, arrived_at,"
        " answered_at, ended_at, outcome) VALUES ($1, $2, '12345', $3, $3, $4, $4, $5, 'answered')",
        call_id,
        caller,
        agent,
        ended_at - timedelta(minutes=5),
        ended_at,
    )


async def seed_stored(
    service: RecordingService,
    call_id: str,
    data: bytes,
    *,
    segment: int = 1,
    started_at: datetime,
    agents: tuple[str, ...] = (),
    write_file: bool = True,
) -> Recording:
    path = relative_path(CallId(call_id), segment, started_at, service.settings.zone)
    if write_file:
        sha = await service.files.write_atomic(path, data)
    else:
        sha = "0" * 64
    recording = Recording(
        name=recording_name(CallId(call_id), segment),
        call_id=CallId(call_id),
        segment=segment,
        started_at=started_at,
        state=RecordingState.STORED,
        agents=agents,
        finished_at=started_at + timedelta(minutes=4),
        duration_s=240.0,
        file_path=path,
        size_bytes=len(data),
        sha256=sha,
        source_deleted=True,
    )
    await service.store.save(recording)
    return recording


@pytest.fixture
async def site(empty_dsn: str, tmp_path: Path) -> AsyncIterator[Site]:
    db = Database(empty_dsn)
    await db.open()
    settings = RecordingSettings(
        directory=tmp_path / "rec", retention_months=6, purge_interval=None
    )
    service = RecordingService(db, UnreachableSource(), settings)
    app = web.Application()
    add_recording_routes(app, service, principal_of=header_principal)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    http = aiohttp.ClientSession()
    try:
        yield Site(db, service, f"http://127.0.0.1:{port}", http)
    finally:
        await http.close()
        await runner.cleanup()
        await db.close()


WAV = make_wav(bytes(range(256)) * 40)  # 10 284 bytes


async def test_granted_and_refused_requests_and_their_audit_rows(site: Site) -> None:
    now = datetime.now(UTC)
    await seed_call(site.db, "c-100", caller="13800138000", agent="8001", ended_at=now)
    await seed_stored(site.service, "c-100", WAV, started_at=now - timedelta(minutes=4))

    resp = await site.get("/api/recordings/c-100", "s1:supervisor")
    assert resp.status == 200 and await resp.read() == WAV
    assert resp.headers["Content-Type"] == "audio/wav"
    assert resp.headers["Accept-Ranges"] == "bytes"

    denied = await site.get("/api/recordings/c-100", "8002:agent")  # not their call
    assert denied.status == 403
    assert (await site.get("/api/recordings/c-100", "ops:admin")).status == 403
    assert (await site.get("/api/recordings/c-404", "s1:supervisor")).status == 404
    assert (await site.get("/api/recordings/c-100", None)).status == 401
    own = await site.get("/api/recordings/c-100", "8001:agent")
    assert own.status == 200 and await own.read() == WAV

    rows = await site.audit_rows()
    assert [
        (r["actor"], r["role"], r["target"], r["allowed"], r["detail"]["reason"]) for r in rows
    ] == [
        ("s1", "supervisor", "c-100-1", True, "role_always"),
        ("8002", "agent", "c-100", False, "not_agent_of_call"),
        ("ops", "admin", "c-100", False, "role_denied"),
        ("s1", "supervisor", "c-404", False, "unknown_call"),
        ("anonymous", "", "c-100", False, "unauthenticated"),
        ("8001", "agent", "c-100-1", True, "agent_of_call"),
    ]
    assert all(r["detail"]["call_id"] in ("c-100", "c-404") for r in rows)
    assert all(abs((r["at"] - now).total_seconds()) < 60 for r in rows)


async def test_range_requests_serve_the_right_bytes(site: Site) -> None:
    now = datetime.now(UTC)
    await seed_call(site.db, "c-200", caller="13900139000", agent="8001", ended_at=now)
    await seed_stored(site.service, "c-200", WAV, started_at=now)
    second = make_wav(b"\x07\x00" * 500)
    await seed_stored(site.service, "c-200", second, segment=2, started_at=now)
    size = len(WAV)
    user = "q1:quality_inspector"

    head = await site.get("/api/recordings/c-200", user, Range="bytes=0-43")
    assert head.status == 206 and await head.read() == WAV[:44]
    assert head.headers["Content-Range"] == f"bytes 0-43/{size}"

    middle = await site.get("/api/recordings/c-200", user, Range="bytes=1000-1999")
    assert middle.status == 206 and await middle.read() == WAV[1000:2000]

    tail = await site.get("/api/recordings/c-200", user, Range="bytes=-10")
    assert tail.status == 206 and await tail.read() == WAV[-10:]
    assert tail.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"

    rest = await site.get("/api/recordings/c-200", user, Range=f"bytes={size - 5}-")
    assert rest.status == 206 and await rest.read() == WAV[-5:]

    beyond = await site.get("/api/recordings/c-200", user, Range=f"bytes={size}-")
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"

    seg2 = await site.get("/api/recordings/c-200?segment=2", user, Range="bytes=44-47")
    assert seg2.status == 206 and await seg2.read() == b"\x07\x00\x07\x00"
    assert (await site.get("/api/recordings/c-200?segment=3", user)).status == 404
    assert (await site.get("/api/recordings/c-200?segment=x", user)).status == 400

    ranges = [r["detail"]["range"] for r in await site.audit_rows() if r["allowed"]]
    assert ranges[:2] == ["bytes=0-43", "bytes=1000-1999"]


async def test_agent_access_ends_after_the_window(site: Site) -> None:
    now = datetime.now(UTC)
    recent, old = now - timedelta(days=6, hours=23), now - timedelta(days=7, minutes=1)
    await seed_call(site.db, "c-301", caller="13800000001", agent="8001", ended_at=recent)
    await seed_call(site.db, "c-302", caller="13800000002", agent="8001", ended_at=old)
    await seed_stored(site.service, "c-301", WAV, started_at=recent - timedelta(minutes=4))
    await seed_stored(site.service, "c-302", WAV, started_at=old - timedelta(minutes=4))

    assert (await site.get("/api/recordings/c-301", "8001:agent")).status == 200
    assert (await site.get("/api/recordings/c-302", "8001:agent")).status == 403
    assert (await site.get("/api/recordings/c-302", "s1:supervisor")).status == 200
    reasons = [r["detail"]["reason"] for r in await site.audit_rows()]
    assert reasons == ["agent_of_call", "agent_window_over", "role_always"]


async def test_a_recording_not_yet_fetched_is_not_served(site: Site) -> None:
    now = datetime.now(UTC)
    pending = Recording(
        name=RecordingName("c-400-1"),
        call_id=CallId("c-400"),
        started_at=now,
        state=RecordingState.FINISHED,
    )
    await site.service.store.save(pending)
    resp = await site.get("/api/recordings/c-400", "s1:supervisor")
    assert resp.status == 404 and (await resp.json())["state"] == "processing"


async def test_listings_mask_numbers_unless_the_role_may_see_them(site: Site) -> None:
    now = datetime.now(UTC)
    await seed_call(site.db, "c-501", caller="13800138000", agent="8001", ended_at=now)
    await seed_call(site.db, "c-502", caller="13900139000", agent="8002", ended_at=now)
    await seed_stored(site.service, "c-501", WAV, started_at=now, agents=("8001",))
    await seed_stored(site.service, "c-502", WAV, started_at=now, agents=("8002",))

    async def listing(user: str, query: str = "") -> dict[str, str]:
        resp = await site.get("/api/recordings" + query, user)
        assert resp.status == 200
        return {r["call_id"]: r["caller_number"] for r in (await resp.json())["recordings"]}

    assert await listing("s1:supervisor") == {"c-501": "13800138000", "c-502": "13900139000"}
    assert await listing("q1:quality_inspector") == {
        "c-501": "138****8000",
        "c-502": "139****9000",
    }
    assert await listing("8001:agent") == {"c-501": "138****8000"}
    assert await listing("8001:agent", "?agent=8002") == {"c-501": "138****8000"}
    assert await listing("s1:supervisor", "?call_id=c-502") == {"c-502": "13900139000"}
    assert (await site.get("/api/recordings", "x:citizen")).status == 403
    assert (await site.get("/api/recordings?since=yesterday", "s1:supervisor")).status == 400


async def test_principal_from_the_request_key_and_database_outage(
    empty_dsn: str, tmp_path: Path
) -> None:
    db = Database(empty_dsn)
    await db.open()
    service = RecordingService(
        db, UnreachableSource(), RecordingSettings(directory=tmp_path, retention_months=6)
    )
    now = datetime.now(UTC)
    await seed_call(db, "c-600", caller="13800138000", agent="8001", ended_at=now)
    await seed_stored(service, "c-600", WAV, started_at=now)

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") == "Bearer sup":
            request[PRINCIPAL_KEY] = Principal("s1", "supervisor")
        return await handler(request)

    app = web.Application(middlewares=[auth])
    add_recording_routes(app, service)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/recordings/c-600"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Authorization": "Bearer sup"}) as resp:
                assert resp.status == 200 and await resp.read() == WAV
            async with http.get(url) as resp:
                assert resp.status == 401
            await db.close()  # no database: no decision, no unaudited access
            async with http.get(url, headers={"Authorization": "Bearer sup"}) as resp:
                assert resp.status == 503
    finally:
        await runner.cleanup()
        await db.close()


# -- retention ---------------------------------------------------------------------------


async def test_retention_purge_deletes_expired_files_and_rows_with_audit(site: Site) -> None:
    service = site.service
    now = datetime.now(UTC)
    old = now - timedelta(days=250)  # about 8 months: past the 6-month retention
    recent = now - timedelta(days=150)  # about 5 months: kept
    expired = await seed_stored(service, "c-701", WAV, started_at=old)
    gone = await seed_stored(service, "c-702", WAV, started_at=old, write_file=False)
    kept = await seed_stored(service, "c-703", WAV, started_at=recent)
    failed = Recording(
        name=RecordingName("c-704-1"),
        call_id=CallId("c-704"),
        started_at=old,
        state=RecordingState.FAILED,
        error="record request refused",
    )
    pending = Recording(
        name=RecordingName("c-705-1"),
        call_id=CallId("c-705"),
        started_at=old,
        state=RecordingState.FINISHED,
    )
    for row in (failed, pending):
        await service.store.save(row)

    report = await service.purge_now()

    assert sorted(report.purged) == ["c-701-1", "c-702-1", "c-704-1"]
    assert report.files_already_gone == 1 and report.errors == {}
    assert not service.files.exists(str(expired.file_path))
    assert service.files.exists(str(kept.file_path))
    for name in ("c-701-1", "c-702-1", "c-704-1"):
        assert await service.store.get(RecordingName(name)) is None
    assert (await service.store.get(kept.name)) is not None
    still = await service.store.get(pending.name)
    assert still is not None and still.state is RecordingState.FINISHED  # never purged unfetched

    audit = await site.audit_rows(PURGE_ACTION)
    assert sorted(r["target"] for r in audit) == ["c-701-1", "c-702-1", "c-704-1"]
    by_target = {r["target"]: r for r in audit}
    assert by_target["c-701-1"]["detail"]["sha256"] == expired.sha256
    assert by_target["c-701-1"]["detail"]["file"] == expired.file_path
    assert by_target["c-702-1"]["detail"]["file"] == gone.file_path
    assert by_target["c-704-1"]["detail"]["state"] == "failed"
    assert all(r["detail"]["retention_months"] == 6 and r["allowed"] for r in audit)

    again = await service.purge_now()
    assert again.purged == [] and len(await site.audit_rows(PURGE_ACTION)) == 3


async def test_the_purge_job_runs_in_the_background(empty_dsn: str, tmp_path: Path) -> None:
    db = Database(empty_dsn)
    await db.open()
    settings = RecordingSettings(directory=tmp_path, retention_months=1, purge_interval=3600)
    service = RecordingService(db, UnreachableSource(), settings)
    try:
        old = await seed_stored(
            service, "c-801", WAV, started_at=datetime.now(UTC) - timedelta(days=70)
        )
        async with service:

            async def purged() -> bool:
                return await service.store.get(old.name) is None

            await eventually(purged)
        assert not service.files.exists(str(old.file_path))
    finally:
        await db.close()
