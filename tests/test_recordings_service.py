"""The recording service against a real PostgreSQL and a real ARI HTTP server.

The source of recordings is an aiohttp server on loopback that answers the
stored-recording requests as Asterisk 22 does (``GET
/ari/recordings/stored/{name}/file`` -> 200 audio/wav or 404 ``Recording not
found``, ``DELETE`` -> 204 / 404, basic auth), with fault injection, reached
through the engine's own :class:`cti.ari.AriClient`.  It is used here rather than
pbxsim (see ``test_recordings_pbxsim.py`` for whole recorded calls) for faults
pbxsim has no knob for: a body cut short, a refused connection on a fixed port,
a look at the metadata at the instant Asterisk's copy is deleted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from cti.ari import AriClient, RecordingFailed, parse_event
from cti.recordings.service import RecordingAlarm, RecordingService, RecordingSettings
from cti.recordings.source import AriRecordingSource
from cti.store import Database
from recordings import (
    CallId,
    Recording,
    RecordingName,
    RecordingState,
    make_wav,
    recording_name,
)
from tests.recordings_support import eventually

pytestmark = pytest.mark.recordings

T = TypeVar("T")
USER, SECRET = "hotline", "test-secret"


@dataclass
class StoredRecordingServer:
    """Asterisk's stored recordings over ARI HTTP, with faults on demand."""

    files: dict[str, bytes] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    faults: dict[tuple[str, str], deque[int]] = field(default_factory=lambda: defaultdict(deque))
    truncate_next: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    on_delete: Callable[[str], Awaitable[None]] | None = None
    runner: web.AppRunner | None = None
    port: int = 0

    def fail(self, method: str, name: str, *statuses: int) -> None:
        self.faults[(method, name)].extend(statuses)

    def count(self, method: str, name: str) -> int:
        return sum(1 for m, n in self.requests if (m, n) == (method, name))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ari/recordings/stored/{name}/file", self._file)
        app.router.add_delete("/ari/recordings/stored/{name}", self._delete)
        app.router.add_get("/ari/recordings/live/{name}", self._live)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}/ari"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def _check(self, request: web.Request, method: str) -> web.Response | None:
        name = request.match_info["name"]
        self.requests.append((method, name))
        expected = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"message": "Authentication required"}, status=401)
        queued = self.faults.get((method, name))
        if queued:
            status = queued.popleft()
            return web.json_response({"message": "Internal Server Error"}, status=status)
        if name not in self.files:
            return web.json_response({"message": "Recording not found"}, status=404)
        return None

    async def _file(self, request: web.Request) -> web.StreamResponse:
        refused = self._check(request, "GET")
        if refused is not None:
            return refused
        name = request.match_info["name"]
        data = self.files[name]
        cut = self.truncate_next.pop(name, 0)
        return web.Response(body=data[: len(data) - cut], content_type="audio/wav")

    async def _live(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(("GET live", name))
        queued = self.faults.get(("GET live", name))
        if queued:
            return web.json_response({"message": "Internal Server Error"}, status=queued.popleft())
        if name not in self.live:
            return web.json_response({"message": "Recording not found"}, status=404)
        body = {"name": name, "format": "wav", "state": "recording", "target_uri": "bridge:b"}
        return web.json_response(body)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        refused = self._check(request, "DELETE")
        if refused is not None:
            return refused
        if self.on_delete is not None:
            await self.on_delete(request.match_info["name"])
        del self.files[request.match_info["name"]]
        return web.Response(status=204)


@dataclass
class Env:
    db: Database
    server: StoredRecordingServer
    ari: AriClient
    root: Path
    alarms: list[RecordingAlarm]

    def settings(self, **changes: Any) -> RecordingSettings:
        values: dict[str, Any] = {
            "directory": self.root,
            "retention_months": 6,
            "retry_base": 0.02,
            "retry_cap": 0.1,
            "poll_interval": 0.3,
            "alarm_after": 3,
            "purge_interval": None,
            "live_check_interval": None,
        }
        values.update(changes)
        return RecordingSettings(**values)

    def service(self, **changes: Any) -> RecordingService:
        return RecordingService(
            self.db,
            AriRecordingSource(self.ari),
            self.settings(**changes),
            on_alarm=self.alarms.append,
        )

    async def row(self, name: str) -> Recording | None:
        return await RecordingService(
            self.db, AriRecordingSource(self.ari), self.settings()
        ).store.get(RecordingName(name))

    async def stored(self, name: str) -> Recording | None:
        rec = await self.row(name)
        return rec if rec and rec.state is RecordingState.STORED and rec.source_deleted else None

    def files_on_disk(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())


@pytest.fixture
async def env(empty_dsn: str, tmp_path: Path) -> AsyncIterator[Env]:
    db = Database(empty_dsn)
    await db.open()
    server = StoredRecordingServer()
    base = await server.start()
    ari = AriClient(base, USER, SECRET, "hotline", request_timeout=5.0)
    try:
        yield Env(db, server, ari, tmp_path / "recordings", [])
    finally:
        await ari.close()
        await server.stop()
        await db.close()


def wav_of(seconds: float, seed: int = 1) -> bytes:
    samples = int(8000 * seconds)
    pcm = bytes((i * seed) % 251 for i in range(samples * 2))
    return make_wav(pcm)


async def call_events(db: Database, call_id: str) -> list[dict[str, Any]]:
    return await db.fetch(
        "SELECT kind, detail FROM call_events WHERE call_id = $1 ORDER BY id", call_id
    )


# -- a recorded call lands with the right hash -------------------------------------------


async def test_finished_recording_is_fetched_stored_hashed_then_deleted(env: Env) -> None:
    name = recording_name(CallId("c-0001"), 1)
    wav = wav_of(2.0)
    env.server.files[name] = wav
    started = datetime(2026, 5, 4, 16, 30, tzinfo=UTC)
    seen_at_delete: list[Recording | None] = []

    async def before_delete(deleted: str) -> None:
        seen_at_delete.append(await env.row(deleted))

    env.server.on_delete = before_delete
    async with env.service() as service:
        await service.recording_started("c-0001", name, agents=["8001"], started_at=started)
        assert (await env.row(name)).state is RecordingState.RECORDING  # type: ignore[union-attr]
        await service.handle_ari_event(
            {
                "type": "RecordingFinished",
                "recording": {"name": name, "format": "wav", "state": "done", "duration": 2},
            }
        )
        stored = await eventually(lambda: env.stored(name))
    assert stored.file_path == "2026/05/04/c-0001-1.wav"
    on_disk = (env.root / stored.file_path).read_bytes()
    assert hashlib.sha256(on_disk).hexdigest() == stored.sha256 == hashlib.sha256(wav).hexdigest()
    assert stored.size_bytes == len(wav) and stored.duration_s == pytest.approx(2.0)
    assert stored.agents == ("8001",) and stored.attempts == 0
    assert name not in env.server.files  # deleted from Asterisk, only after it was stored
    assert env.server.requests == [("GET", name), ("DELETE", name)]
    # Asterisk's copy was deleted only once the metadata said stored, with the hash.
    (at_delete,) = seen_at_delete
    assert at_delete is not None and at_delete.state is RecordingState.STORED
    assert at_delete.sha256 == stored.sha256 and not at_delete.source_deleted
    assert env.files_on_disk() == [env.root / stored.file_path]  # no temporary left behind
    assert env.alarms == []


async def test_a_fetch_that_fails_twice_then_succeeds_stores_once(env: Env) -> None:
    name = "c-0002-1"
    wav = wav_of(0.5, seed=3)
    env.server.files[name] = wav
    env.server.fail("GET", name, 500, 500)
    async with env.service() as service:
        await service.recording_started("c-0002", name)
        await service.recording_finished(name, duration_s=1)
        stored = await eventually(lambda: env.stored(name))
    assert env.server.count("GET", name) == 3 and env.server.count("DELETE", name) == 1
    assert stored.attempts == 2 and stored.error is None
    assert stored.sha256 == hashlib.sha256(wav).hexdigest()
    assert env.files_on_disk() == [env.root / str(stored.file_path)]
    assert env.alarms == []  # below alarm_after


async def test_a_short_body_is_refused_and_fetched_again(env: Env) -> None:
    name = "c-0003-1"
    wav = wav_of(1.0)
    env.server.files[name] = wav
    env.server.truncate_next[name] = 3000  # a body cut short, sent as a complete response
    async with env.service() as service:
        await service.recording_finished(name, duration_s=1)  # never heard start: kept anyway
        stored = await eventually(lambda: env.stored(name))
    assert stored.call_id == "c-0003" and stored.segment == 1
    assert stored.attempts == 1 and stored.size_bytes == len(wav)
    assert env.server.count("GET", name) == 2


async def test_a_failed_delete_is_retried_and_the_file_kept(env: Env) -> None:
    name = "c-0004-1"
    env.server.files[name] = wav_of(0.2)
    env.server.fail("DELETE", name, 503)
    async with env.service() as service:
        await service.recording_started("c-0004", name)
        await service.recording_finished(name)
        stored = await eventually(lambda: env.stored(name))
    assert env.server.count("GET", name) == 1 and env.server.count("DELETE", name) == 2
    assert (env.root / str(stored.file_path)).is_file()


async def test_fetch_keeps_failing_raises_one_alarm_and_nothing_is_lost(env: Env) -> None:
    name = "c-0005-1"
    env.server.files[name] = wav_of(0.2)
    env.server.fail("GET", name, *([500] * 4))
    async with env.service() as service:
        await service.recording_started("c-0005", name)
        await service.recording_finished(name)
        stored = await eventually(lambda: env.stored(name))
    assert stored.attempts == 4
    assert [(a.kind, a.call_id, a.name) for a in env.alarms] == [
        ("recording_fetch_failing", "c-0005", name)
    ]
    assert list(service.alarms) == env.alarms


# -- restart resumes pending fetches ------------------------------------------------------


async def test_restart_resumes_pending_and_abandoned_fetches(env: Env) -> None:
    pending, abandoned = "c-0006-1", "c-0007-1"
    env.server.files[pending] = wav_of(0.3, seed=5)
    env.server.files[abandoned] = wav_of(0.3, seed=7)
    port = env.server.port
    await env.server.stop()  # Asterisk unreachable: connection refused
    # A backoff long enough that the row is seen between two attempts, not in the next one.
    first = env.service(retry_base=0.5, retry_cap=1.0)
    async with first:
        await first.recording_started("c-0006", pending)
        await first.recording_finished(pending)
        failed_once = await eventually(
            lambda: _with(
                env.row(pending),
                lambda r: r.attempts >= 1 and r.state is RecordingState.FINISHED and r,
            )
        )
        assert failed_once.state is RecordingState.FINISHED
        assert "unavailable" in (failed_once.error or "")
    # A previous engine died mid-fetch: its row is left in 'fetching' with a long lease.
    await first.store.save(
        Recording(
            name=RecordingName(abandoned),
            call_id=CallId("c-0007"),
            started_at=datetime.now(UTC),
            state=RecordingState.FETCHING,
            next_attempt_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    env.server.port = port
    await env.server.start()
    async with env.service() as second:
        for name in (pending, abandoned):
            stored = await eventually(lambda n=name: env.stored(n))  # type: ignore[misc]
            assert (
                stored.sha256
                == hashlib.sha256((env.root / str(stored.file_path)).read_bytes()).hexdigest()
            )
        assert second.fetcher.passes >= 1
    assert env.server.files == {}


async def _with(row: Awaitable[T | None], pick: Callable[[T], Any]) -> Any:
    value = await row
    return pick(value) if value is not None else None


async def test_recordings_that_ended_while_the_engine_was_away_are_fetched(env: Env) -> None:
    """After a restart or a WebSocket cut, ``RecordingFinished`` may never arrive."""
    ended, running, vanished = "c-0020-1", "c-0021-1", "c-0022-1"
    env.server.files[ended] = wav_of(0.4)
    env.server.live.add(running)
    source = AriRecordingSource(env.ari)
    async with env.service() as before:
        for name in (ended, running, vanished):
            await before.recording_started(name[:-2], name)
    async with env.service() as after:
        assert sorted(await after.resume_in_progress(source.is_live)) == [ended, vanished]
        await eventually(lambda: env.stored(ended))
        lost = await eventually(
            lambda: _with(env.row(vanished), lambda r: r.state is RecordingState.FAILED and r)
        )
    assert lost.error == "not found on the source"
    still = await env.row(running)
    assert still is not None and still.state is RecordingState.RECORDING
    assert [a.kind for a in env.alarms] == ["recording_lost"]


# -- Asterisk-side failures ----------------------------------------------------------------


async def test_record_request_500_is_reported_on_the_call_and_alarmed(env: Env) -> None:
    """``record_dir_missing_500.jsonl``: POST /bridges/{id}/record answered 500."""
    async with env.service() as service:
        failed = await service.record_request_failed(
            "c-0008", "c-0008-1", status=500, message="Internal Server Error", agents=["8001"]
        )
        assert failed.state is RecordingState.FAILED
        # the service is still healthy: the next call's recording goes through
        env.server.files["c-0009-1"] = wav_of(0.2)
        await service.recording_started("c-0009", "c-0009-1")
        await service.recording_finished("c-0009-1")
        await eventually(lambda: env.stored("c-0009-1"))
        # RecordingFailed from Asterisk for a recording that was running
        await service.recording_started("c-0010", "c-0010-1")
        typed = parse_event(
            {
                "type": "RecordingFailed",
                "timestamp": "2026-11-21T23:13:12.180+0000",
                "recording": {
                    "name": "c-0010-1",
                    "format": "wav",
                    "state": "failed",
                    "target_uri": "bridge:br-c-0010",
                    "cause": "write error",
                },
                "asterisk_id": "02:fc:00:00:00:01",
                "application": "hotline",
            }
        )
        assert isinstance(typed, RecordingFailed)
        await service.handle_ari_event(typed)
    row = await env.row("c-0008-1")
    assert row is not None and row.state is RecordingState.FAILED
    assert "500" in (row.error or "")
    events = await call_events(env.db, "c-0008")
    assert [e["kind"] for e in events] == ["recording_failed"]
    assert events[0]["detail"]["status"] == 500 and events[0]["detail"]["recording"] == "c-0008-1"
    events_10 = await call_events(env.db, "c-0010")
    assert [(e["kind"], e["detail"]["error"]) for e in events_10] == [
        ("recording_failed", "write error")
    ]
    assert [(a.kind, a.call_id) for a in env.alarms] == [
        ("recording_failed", "c-0008"),
        ("recording_failed", "c-0010"),
    ]
    assert env.server.count("GET", "c-0008-1") == 0  # nothing to fetch


async def test_a_file_gone_from_asterisk_is_lost_reported_and_alarmed(env: Env) -> None:
    async with env.service() as service:
        await service.recording_started("c-0011", "c-0011-1")
        await service.recording_finished("c-0011-1")  # but Asterisk has no such file
        lost = await eventually(
            lambda: _with(env.row("c-0011-1"), lambda r: r.state is RecordingState.FAILED and r)
        )
        events = await eventually(lambda: call_events(env.db, "c-0011"))
    assert lost.error == "not found on the source"
    assert [e["kind"] for e in events] == ["recording_lost"]
    assert [a.kind for a in env.alarms] == ["recording_lost"]


async def test_duplicate_and_late_events_change_nothing(env: Env) -> None:
    env.server.files["c-0012-1"] = wav_of(0.2)
    async with env.service() as service:
        first = await service.recording_started("c-0012", "c-0012-1", agents=["8001"])
        again = await service.recording_started("c-0012", "c-0012-1", agents=["8002"])
        assert again.agents == ("8001", "8002") and again.started_at == first.started_at
        await service.recording_finished("c-0012-1")
        await eventually(lambda: env.stored("c-0012-1"))
        await service.recording_finished("c-0012-1")
        await service.recording_failed("c-0012-1", "late")
    row = await env.row("c-0012-1")
    assert row is not None and row.state is RecordingState.STORED
    assert env.alarms == [] and await call_events(env.db, "c-0012") == []


async def test_database_outage_keeps_writes_and_catches_up(env: Env) -> None:
    name = "c-0013-1"
    wav = wav_of(0.3)
    env.server.files[name] = wav
    async with env.service() as service:
        await env.db.close()  # the database goes away
        await service.recording_started("c-0013", name)
        await service.recording_finished(name)
        await service.record_request_failed("c-0014", "c-0014-1", status=500, message="x")
        assert service.unsaved == 3  # two recordings and one call event, kept in order
        await env.db.open(run_migrations=False)
        stored = await eventually(lambda: env.stored(name))
        await eventually(lambda: call_events(env.db, "c-0014"))
        assert service.unsaved == 0
    assert stored.sha256 == hashlib.sha256(wav).hexdigest()
    row = await env.row("c-0014-1")
    assert row is not None and row.state is RecordingState.FAILED


# -- the end of a recording that no event reports (issue 14) ------------------------------


def recording_started_event(name: str, bridge: str) -> Any:
    return parse_event(
        {
            "type": "RecordingStarted",
            "timestamp": "2026-12-06T07:28:45.700+0000",
            "recording": {
                "name": name,
                "format": "wav",
                "state": "recording",
                "target_uri": f"bridge:{bridge}",
            },
            "asterisk_id": "02:fc:00:00:00:01",
            "application": "hotline",
        }
    )


@pytest.mark.hardening
async def test_recording_started_overtaken_by_its_event_keeps_the_agents(env: Env) -> None:
    """``RecordingStarted`` often arrives before the 201 of ``POST /bridges/{id}/record``,
    and the engine hands every event to a task of its own: the event's handler and the
    orchestrator's ``recording_started`` read the row at the same time (seen on the real
    tier as two ``recording_started`` log lines).  The one that knows the agent must not
    be written over by the one that does not."""
    names = [f"c-003{i}-1" for i in range(5)]
    async with env.service() as service:
        for name in names:
            env.server.files[name] = wav_of(0.2)
            await asyncio.gather(
                service.handle_ari_event(recording_started_event(name, f"br-{name[:-2]}")),
                service.recording_started(name[:-2], name, agents=["8001"]),
            )
            await service.recording_finished(name)
        stored = [await eventually(lambda n=name: env.stored(n)) for name in names]  # type: ignore[misc]
    assert [r.agents for r in stored] == [("8001",)] * len(names)


@pytest.mark.hardening
async def test_a_recording_asterisk_no_longer_records_is_fetched_without_its_event(
    env: Env,
) -> None:
    """No ``RecordingFinished`` (lost with its destroyed bridge): the watch asks Asterisk.
    While the recording is live nothing is fetched; once it is gone it is stored."""
    name = "c-0040-1"
    env.server.live.add(name)
    async with env.service(live_check_interval=0.1) as service:
        await service.recording_started("c-0040", name, agents=["8001"])
        await eventually(lambda: _asked_live(env, name, 2))
        row = await env.row(name)
        assert row is not None and row.state is RecordingState.RECORDING
        assert env.server.count("GET", name) == 0
        env.server.live.discard(name)
        env.server.files[name] = wav_of(0.5)
        stored = await eventually(lambda: env.stored(name))
    assert stored.agents == ("8001",) and stored.size_bytes == len(wav_of(0.5))
    assert env.alarms == []


@pytest.mark.hardening
async def test_asterisk_not_answering_is_not_taken_for_the_end_of_a_recording(env: Env) -> None:
    """``GET /recordings/live/{name}`` answering 500 says nothing: the file may still be
    written, so it is not fetched (a fetch then would find a WAV whose header is not yet
    final and back off).  The same holds after a reconnection (``resume_in_progress``)."""
    name = "c-0041-1"
    env.server.files[name] = wav_of(0.5)  # what Asterisk has written so far
    env.server.fail("GET live", name, 500, 500, 500, 500, 500, 500)
    async with env.service(live_check_interval=0.1) as service:
        await service.recording_started("c-0041", name)
        assert await service.resume_in_progress() == []
        await eventually(lambda: _asked_live(env, name, 4))
        row = await env.row(name)
        assert row is not None and row.state is RecordingState.RECORDING
        assert env.server.count("GET", name) == 0
        await eventually(lambda: env.stored(name))  # Asterisk answers again: 404, done


@pytest.mark.hardening
async def test_recordings_left_recording_by_an_earlier_run_are_watched(env: Env) -> None:
    """An engine restarted mid-call has no memory of the recordings it started: its first
    watch round takes them up from the table, and their end is noticed like any other."""
    ended, running = "c-0042-1", "c-0043-1"
    env.server.files[ended] = wav_of(0.2)
    env.server.live.add(running)
    async with env.service() as before:
        for name in (ended, running):
            await before.recording_started(name[:-2], name)
    async with env.service(live_check_interval=0.1):
        await eventually(lambda: env.stored(ended))
        await eventually(lambda: _asked_live(env, running, 3))
        row = await env.row(running)
        assert row is not None and row.state is RecordingState.RECORDING
        env.server.live.discard(running)
        env.server.files[running] = wav_of(0.3)
        await eventually(lambda: env.stored(running))


async def _asked_live(env: Env, name: str, times: int) -> bool:
    return env.server.count("GET live", name) >= times
