"""The softswitch bridge end to end: the engine's own ARI and AMI clients
drive pbxsim over real sockets, and every step is asserted from the events
received.

1. A scripted caller 张三市民 dials 12345: ``StasisStart``; the call is
   answered, hears a prompt (``PlaybackFinished``), an agent leg is
   originated to phone 8001 which answers (its own ``StasisStart``), both
   legs share a mixing bridge, the bridge is recorded and the recording
   stopped, and both legs are hung up.  The caller's name arrives intact on
   the agent leg's caller id and in AMI.
2. Mid-call, the ARI WebSocket and the AMI connection are cut and restored:
   both clients reconnect, and reconciliation finds the call whole; when a
   leg hangs up during the cut, reconciliation reports it vanished.
3. Three panoramisk guards against pbxsim itself: frames split inside a
   character (pbxsim's ``ami_split_writes``), a wrong secret, and
   ``OriginateResponse`` as an event.  The other two need a peer that stays
   silent, see ``test_ami_client.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from cti.ami import AmiAuthError, AmiClient, Hangup, Newchannel, OriginateResponse
from cti.ari import (
    EVENT_TYPES,
    AriClient,
    AriStreamItem,
    ChannelDestroyed,
    ChannelEnteredBridge,
    ChannelStateChange,
    Dial,
    GenericEvent,
    Known,
    PlaybackFinished,
    PlaybackStarted,
    Reconciled,
    RecordingFinished,
    RecordingStarted,
    StasisEnd,
    StasisStart,
)
from cti.fanout import Subscription
from cti.ids import BridgeId, ChannelId, PlaybackId, RecordingName
from cti.link import Backoff
from pbxsim import CallerScript, PbxSim
from tests.support.sim import SECRET, USER, running_sim
from tests.support.swagger import check_request

pytestmark = pytest.mark.bridge

DEADLINE = 5.0
NAME = "张三市民"
NUMBER = "13800138000"
AGENT_LEG = ChannelId("agent-leg-1")
BRIDGE = BridgeId("br-c-0001")
RECORDING = RecordingName("c-0001")

E = TypeVar("E")


@dataclass
class Engine:
    """The two clients and what a (very small) engine would know."""

    sim: PbxSim
    ari: AriClient
    ami: AmiClient
    events: Subscription[AriStreamItem]
    channels: set[ChannelId] = field(default_factory=set)
    bridges: set[BridgeId] = field(default_factory=set)

    def known(self) -> Known:
        return Known(frozenset(self.channels), frozenset(self.bridges))

    async def next(self, kind: type[E], match: Callable[[E], bool] = lambda _: True) -> E:
        """The next ARI item of ``kind`` that matches, within the deadline."""
        item = await self.events.wait_for(
            lambda e: isinstance(e, kind) and match(e),  # type: ignore[arg-type]
            DEADLINE,
        )
        return item  # type: ignore[return-value]


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, object]]]:
    """Fail the test when a background task or callback raised."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)
    assert errors == []


@contextlib.asynccontextmanager
async def engine_on(sim: PbxSim) -> AsyncIterator[Engine]:
    backoff = Backoff(initial=0.05, maximum=0.2, rng=random.Random(3))
    ari = AriClient(sim.ari_url, USER, SECRET, "hotline", backoff=backoff, heartbeat=1.0)
    ami = AmiClient(
        sim.config.host,
        sim.ami_port,
        USER,
        SECRET,
        ping_interval=0.2,
        ping_timeout=1.0,
        backoff=Backoff(initial=0.05, maximum=0.2, rng=random.Random(4)),
    )
    engine = Engine(sim, ari, ami, ari.subscribe())
    ari.set_known(engine.known)
    untyped: list[GenericEvent] = []
    ari.on_event(
        lambda e: (
            untyped.append(e) if isinstance(e, GenericEvent) and e.type in EVENT_TYPES else None
        )
    )
    await ami.connect()
    await ari.connect()
    try:
        yield engine
    finally:
        await ari.close()
        await ami.close()
    # Every event pbxsim sent of a type the engine uses matched its model.
    assert untyped == []
    problems = [
        problem
        for request in sim.requests
        for problem in check_request(request.method, request.path, request.params, request.body)
    ]
    assert problems == []


@pytest.fixture
async def engine(loop_errors: list[dict[str, object]]) -> AsyncIterator[Engine]:
    async with running_sim() as sim, engine_on(sim) as connected:
        yield connected


async def bring_up_call(engine: Engine) -> tuple[ChannelId, StasisStart]:
    """Steps up to both legs in one recorded mixing bridge; returns the caller."""
    ari = engine.ari
    first = await engine.next(Reconciled)
    assert first.report.clean and not first.reconnect

    engine.sim.place_call(CallerScript(number=NUMBER, name=NAME))
    start = await engine.next(StasisStart)
    caller = start.channel.id
    engine.channels.add(caller)
    assert start.args == ("inbound", "12345", "")
    assert (start.channel.caller.name, start.channel.caller.number) == (NAME, NUMBER)

    await ari.channels.set_variable(caller, "HOTLINE_CALL_ID", "c-0001")
    await ari.channels.answer(caller)
    up = await engine.next(ChannelStateChange, lambda e: e.channel.id == caller)
    assert up.channel.state == "Up"

    await ari.channels.play(caller, "sound:hello-world", playback_id=PlaybackId("pb-1"))
    started = await engine.next(PlaybackStarted)
    finished = await engine.next(PlaybackFinished)
    assert started.playback.id == finished.playback.id == "pb-1"
    assert finished.playback.target_uri == f"channel:{caller}"

    leg = await ari.channels.originate(
        "PJSIP/8001",
        app="hotline",
        app_args="agent,c-0001",
        caller_id=f'"{NAME}" <{NUMBER}>',
        timeout=15,
        channel_id=AGENT_LEG,
    )
    engine.channels.add(leg.id)
    assert leg.state == "Down"
    answered = await engine.next(Dial, lambda e: e.dialstatus == "ANSWER")
    assert answered.peer.id == AGENT_LEG
    agent = await engine.next(StasisStart, lambda e: e.channel.id == AGENT_LEG)
    assert agent.args == ("agent", "c-0001")
    assert agent.channel.caller.name == NAME

    bridge = await ari.bridges.create(type="mixing", bridge_id=BRIDGE, name="call-c-0001")
    engine.bridges.add(bridge.id)
    await ari.bridges.add_channel(BRIDGE, [caller, AGENT_LEG])
    entered = {
        (await engine.next(ChannelEnteredBridge)).channel.id,  # type: ignore[union-attr]
        (await engine.next(ChannelEnteredBridge)).channel.id,  # type: ignore[union-attr]
    }
    assert entered == {caller, AGENT_LEG}

    live = await ari.bridges.record(BRIDGE, RECORDING, "wav", if_exists="overwrite", beep=False)
    assert live.name == RECORDING
    recording = await engine.next(RecordingStarted)
    assert recording.recording.target_uri == f"bridge:{BRIDGE}"
    return caller, start


async def hang_up(engine: Engine, caller: ChannelId) -> None:
    ari = engine.ari
    await ari.channels.hangup(AGENT_LEG, reason="normal")
    await engine.next(ChannelDestroyed, lambda e: e.channel.id == AGENT_LEG)
    await ari.channels.hangup(caller)
    # A channel that came in through the dialplan leaves the application with
    # StasisEnd; its ChannelDestroyed is not delivered (inbound_answer_bridge_record.jsonl).
    await engine.next(StasisEnd, lambda e: e.channel.id == caller)
    await ari.bridges.destroy(BRIDGE)
    engine.channels.clear()
    engine.bridges.clear()
    assert (await ari.reconcile(engine.known())).clean
    assert await ari.channels.list() == []


async def test_a_call_from_answer_to_hang_up(engine: Engine) -> None:
    ami_events = engine.ami.subscribe("Newchannel", "Hangup")
    caller, _ = await bring_up_call(engine)
    ari = engine.ari

    await ari.recordings.stop(RECORDING)
    done = await engine.next(RecordingFinished)
    assert done.recording.name == RECORDING and done.recording.state == "done"
    stored = await ari.recordings.get_stored(RECORDING)
    assert stored.format == "wav"
    audio = await ari.recordings.get_stored_file(RECORDING)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"

    await hang_up(engine, caller)

    newchannel = await ami_events.wait_for(
        lambda e: isinstance(e, Newchannel) and e.uniqueid == caller, DEADLINE
    )
    assert isinstance(newchannel, Newchannel)
    assert (newchannel.caller_id_name, newchannel.caller_id_num) == (NAME, NUMBER)
    hangup = await ami_events.wait_for(
        lambda e: isinstance(e, Hangup) and e.uniqueid == AGENT_LEG, DEADLINE
    )
    assert isinstance(hangup, Hangup)


async def test_cutting_both_links_mid_call_keeps_the_call(engine: Engine) -> None:
    caller, _ = await bring_up_call(engine)
    sim, ari, ami = engine.sim, engine.ari, engine.ami

    await sim.drop_ari_websockets(refuse_for=0.2)
    await sim.drop_ami_connections()
    report = await engine.next(Reconciled)
    assert report.reconnect
    assert report.report.channels.present == {caller, AGENT_LEG}
    assert report.report.bridges.present == {BRIDGE}
    assert report.report.clean
    assert set(report.report.listed_bridges[BRIDGE].channels) == {caller, AGENT_LEG}
    await ari.link.wait_until(lambda link: link.connected and link.reconnects == 1, DEADLINE)
    await ami.link.wait_until(lambda link: link.connected and link.reconnects == 1, DEADLINE)
    assert await ari.channels.get_variable(caller, "HOTLINE_CALL_ID") == "c-0001"

    # AMI sees the same call, the caller's name intact.
    snapshot = await ami.action({"Action": "CoreShowChannels"})
    names = {e.get("Uniqueid"): e.get("CallerIDName") for e in snapshot.events}
    assert names.get(caller) == NAME

    # Events flow again on the new socket.
    await ari.recordings.stop(RECORDING)
    await engine.next(RecordingFinished)
    await hang_up(engine, caller)


async def test_a_leg_that_hangs_up_during_the_cut_is_reported_vanished(engine: Engine) -> None:
    caller, _ = await bring_up_call(engine)
    sim, ari = engine.sim, engine.ari

    await sim.drop_ari_websockets(refuse_for=0.3)
    await ari.link.wait_until(lambda link: not link.connected, DEADLINE)
    assert sim.hangup_phone("8001") == 1
    report = await engine.next(Reconciled)
    assert report.reconnect
    assert report.report.channels.vanished == {AGENT_LEG}
    assert report.report.channels.present == {caller}
    assert report.report.bridges.present == {BRIDGE}
    engine.channels.discard(AGENT_LEG)
    await ari.recordings.stop(RECORDING)
    await engine.next(RecordingFinished)
    await ari.channels.hangup(caller)
    await engine.next(StasisEnd, lambda e: e.channel.id == caller)
    await ari.bridges.destroy(BRIDGE)


async def test_ami_frames_split_inside_characters_arrive_intact(
    loop_errors: list[dict[str, object]],
) -> None:
    async with running_sim(ami_split_writes=True) as sim, engine_on(sim) as engine:
        events: Subscription[Any] = engine.ami.subscribe("Newchannel")
        sim.place_call(CallerScript(number=NUMBER, name=NAME))
        start = await engine.next(StasisStart)
        newchannel = await events.wait_for(
            lambda e: isinstance(e, Newchannel) and e.uniqueid == start.channel.id, DEADLINE
        )
        assert newchannel.caller_id_name == NAME
        await engine.ari.channels.hangup(start.channel.id)
        await engine.next(StasisEnd)


async def test_guards_against_pbxsim_wrong_secret_and_originate_response(
    loop_errors: list[dict[str, object]],
) -> None:
    async with running_sim() as sim:
        refused = AmiClient(sim.config.host, sim.ami_port, USER, "not-the-secret")
        with pytest.raises(AmiAuthError):
            await refused.connect()
        await refused.close()

        ami = AmiClient(sim.config.host, sim.ami_port, USER, SECRET)
        await ami.connect()
        try:
            with ami.subscribe("OriginateResponse") as outcomes:
                answer = await ami.action(
                    {
                        "Action": "Originate",
                        "Channel": "PJSIP/8001",
                        "Application": "Stasis",
                        "Data": "hotline,agent,c-0009",
                        "CallerID": f'"{NAME}" <{NUMBER}>',
                        "Async": "true",
                    }
                )
                outcome = await outcomes.get(DEADLINE)
        finally:
            await ami.close()
    assert answer.message == "Originate successfully queued"
    assert isinstance(outcome, OriginateResponse)
    assert outcome.action_id == answer.response.action_id
    assert outcome.success and outcome.caller_id_name == NAME
