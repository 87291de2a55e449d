"""Recorded calls end to end: pbxsim over real sockets, the engine's ARI client, a real
PostgreSQL.  The test plays the orchestrator's part of the call (answer, agent leg,
mixing bridge, bridge recording) and hands every ARI event to the recording service,
except the ``RecordingFinished`` events a test declares lost (as Asterisk loses them,
see :func:`test_a_recording_whose_end_is_never_reported_is_still_stored`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cti.ari import AriClient, AriHttpError, RecordingFinished, StasisStart
from cti.ids import BridgeId, ChannelId
from cti.ids import RecordingName as AriRecordingName
from cti.recordings.service import RecordingAlarm, RecordingService, RecordingSettings
from cti.recordings.source import AriRecordingSource
from cti.store import Database
from pbxsim import CallerScript, PbxSim
from recordings import CallId, Recording, RecordingName, RecordingState, recording_name
from tests.recordings_support import eventually
from tests.support.sim import SECRET, USER, running_sim

pytestmark = pytest.mark.recordings


@dataclass
class World:
    sim: PbxSim
    ari: AriClient
    db: Database
    service: RecordingService
    alarms: list[RecordingAlarm]
    root: Path
    unheard: set[str] = field(default_factory=set)  # recordings whose RecordingFinished is lost

    async def row(self, name: str) -> Recording | None:
        return await self.service.store.get(RecordingName(name))

    async def stored(self, name: str) -> Recording | None:
        rec = await self.row(name)
        return rec if rec and rec.state is RecordingState.STORED and rec.source_deleted else None

    async def bridged_call(self, call_id: str) -> tuple[ChannelId, ChannelId, BridgeId]:
        """A caller answered and bridged with agent 8001, as the orchestrator does it."""
        events = self.ari.subscribe("StasisStart")
        try:
            self.sim.place_call(CallerScript(number="13800138000", name="张三市民"))
            caller = await _stasis_start(events, "inbound")
            await self.ari.channels.answer(caller)
            agent = ChannelId(f"agent-{call_id}")
            await self.ari.channels.originate(
                "PJSIP/8001",
                app="hotline",
                app_args=f"agent,{call_id}",
                caller_id="13800138000",
                timeout=15,
                channel_id=agent,
            )
            await _stasis_start(events, "agent")
        finally:
            events.close()
        bridge = await self.ari.bridges.create(
            type="mixing", bridge_id=BridgeId(f"br-{call_id}"), name=f"call-{call_id}"
        )
        await self.ari.bridges.add_channel(bridge.id, [caller, agent])
        return caller, agent, bridge.id


async def _stasis_start(events: Any, kind: str) -> ChannelId:
    async with asyncio.timeout(5):
        async for item in events:
            if isinstance(item, StasisStart) and item.args[:1] == (kind,):
                return item.channel.id
    raise AssertionError("no StasisStart")


@pytest.fixture
async def world(empty_dsn: str, tmp_path: Path) -> AsyncIterator[World]:
    db = Database(empty_dsn)
    await db.open()
    async with running_sim(recordings_dir=tmp_path / "spool") as sim:
        ari = AriClient(sim.ari_url, USER, SECRET, "hotline", request_timeout=5.0)
        alarms: list[RecordingAlarm] = []
        settings = RecordingSettings(
            directory=tmp_path / "recordings",
            retention_months=6,
            retry_base=0.02,
            retry_cap=0.1,
            poll_interval=0.3,
            purge_interval=None,
            live_check_interval=0.3,
        )
        service = RecordingService(db, AriRecordingSource(ari), settings, on_alarm=alarms.append)
        feed = ari.subscribe("RecordingStarted", "RecordingFinished", "RecordingFailed")
        unheard: set[str] = set()

        async def pump() -> None:
            async for item in feed:
                if isinstance(item, RecordingFinished) and item.recording.name in unheard:
                    continue
                await service.handle_ari_event(item)

        await ari.connect()
        pumping = asyncio.create_task(pump())
        try:
            async with service:
                yield World(sim, ari, db, service, alarms, tmp_path / "recordings", unheard)
        finally:
            feed.close()
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            await ari.close()
    await db.close()


async def _record(world: World, bridge: BridgeId, call_id: str, name: str) -> None:
    """Record the bridge, then tell the service, once the request answered 201 (as the
    orchestrator does: before that Asterisk knows no live recording of that name)."""
    await world.ari.bridges.record(
        bridge, AriRecordingName(name), "wav", if_exists="overwrite", beep=False
    )
    await world.service.recording_started(call_id, name, agents=["8001"])


async def _talk(world: World, bridge: BridgeId) -> None:
    """Let the recording run for one prompt played into the bridge (2 simulated seconds)."""
    events = world.ari.subscribe("PlaybackFinished")
    try:
        await world.ari.bridges.play(bridge, "sound:hello-world")
        async with asyncio.timeout(5):
            await anext(aiter(events))
    finally:
        events.close()


async def _record_a_while(world: World, bridge: BridgeId, call_id: str, name: str) -> None:
    await _record(world, bridge, call_id, name)
    await _talk(world, bridge)
    await world.ari.recordings.stop(AriRecordingName(name))


async def test_a_recorded_call_lands_with_the_right_hash(world: World) -> None:
    call_id = "c-e2e-1"
    name = recording_name(CallId(call_id), 1)
    _caller, _agent, bridge = await world.bridged_call(call_id)
    await _record_a_while(world, bridge, call_id, name)

    stored = await eventually(lambda: world.stored(name))
    data = (world.root / str(stored.file_path)).read_bytes()
    assert hashlib.sha256(data).hexdigest() == stored.sha256
    assert stored.size_bytes == len(data) > 44
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert stored.duration_s is not None and stored.duration_s > 0
    assert stored.agents == ("8001",) and stored.call_id == call_id
    stored_on_pbx = await world.ari.recordings.list_stored()
    assert name not in {r.name for r in stored_on_pbx}  # deleted from "Asterisk"
    assert world.alarms == []


async def test_a_fetch_that_fails_twice_then_succeeds(world: World) -> None:
    call_id = "c-e2e-2"
    name = recording_name(CallId(call_id), 1)
    world.sim.fail_requests("GET", rf"^/recordings/stored/{name}/file$", status=500, times=2)
    _caller, _agent, bridge = await world.bridged_call(call_id)
    await _record_a_while(world, bridge, call_id, name)

    stored = await eventually(lambda: world.stored(name))
    fetches = [
        r.status
        for r in world.sim.requests
        if r.method == "GET" and r.path == f"/recordings/stored/{name}/file"
    ]
    assert fetches == [500, 500, 200]
    deletes = [r.status for r in world.sim.requests if r.method == "DELETE" and name in r.path]
    assert deletes == [204]
    assert stored.attempts == 2
    files = [p for p in world.root.rglob("*") if p.is_file()]
    assert files == [world.root / str(stored.file_path)]


async def test_asterisk_refusing_to_record_is_reported_and_the_call_goes_on(world: World) -> None:
    """The 500 of ``record_dir_missing_500.jsonl``: the spool directory is missing."""
    call_id = "c-e2e-3"
    name = recording_name(CallId(call_id), 1)
    caller, agent, bridge = await world.bridged_call(call_id)
    world.sim.set_recording_storage_broken()
    with pytest.raises(AriHttpError) as refused:
        await world.ari.bridges.record(bridge, AriRecordingName(name), "wav", beep=False)
    assert refused.value.status == 500
    await world.service.record_request_failed(
        call_id, name, status=refused.value.status, message=refused.value.message, agents=["8001"]
    )

    row = await world.row(name)
    assert row is not None and row.state is RecordingState.FAILED
    events = await world.db.fetch(
        "SELECT kind, detail FROM call_events WHERE call_id = $1", call_id
    )
    assert [(e["kind"], e["detail"]["status"]) for e in events] == [("recording_failed", 500)]
    assert [(a.kind, a.call_id, a.name) for a in world.alarms] == [
        ("recording_failed", call_id, name)
    ]
    still = await world.ari.bridges.get(bridge)  # the call itself is untouched
    assert set(still.channels) == {caller, agent}


@pytest.mark.hardening
async def test_a_recording_whose_end_is_never_reported_is_still_stored(world: World) -> None:
    """The engine ends a conversation by destroying its bridge.  Asterisk 22 publishes a
    bridge recording's ``RecordingFinished`` on the bridge's topic, after the recorder
    has seen its hang-up and closed the file; when the application has left the
    destroyed bridge by then, the event is lost (seen on a loaded machine: the recording
    stayed ``recording`` and was never fetched).  The service must learn the end from
    Asterisk itself: the live recording is gone, so the file is complete."""
    call_id = "c-e2e-4"
    name = recording_name(CallId(call_id), 1)
    world.unheard.add(name)
    _caller, _agent, bridge = await world.bridged_call(call_id)
    await _record(world, bridge, call_id, name)
    await _talk(world, bridge)
    await world.ari.bridges.destroy(bridge)

    stored = await eventually(lambda: world.stored(name))
    data = (world.root / str(stored.file_path)).read_bytes()
    assert hashlib.sha256(data).hexdigest() == stored.sha256
    assert stored.size_bytes == len(data) > 44
    assert stored.agents == ("8001",) and stored.call_id == call_id
    asked = [
        r.status
        for r in world.sim.requests
        if r.method == "GET" and r.path == f"/recordings/live/{name}"
    ]
    assert asked and asked[-1] == 404 and set(asked) <= {200, 404}
    assert world.alarms == []
