"""A three-way call (三方通话) to a parallel hotline, on a real Asterisk.

The 12319 city-management centre keeps its own number and staff (并联整合)
behind its own trunk (``hotline-12319`` in pjsip.conf); a second SIPp plays
it.  The caller, the agent and the consultee share one mixing bridge; the
agent drops out and the caller stays with 12319.

The first test drives the call over ARI with the project's client, as the
engine would, proving the shipped configuration carries it (trunk, dial
string ``PJSIP/12319@hotline-12319`` from config/lines.yaml, softmix).  The
others ask the engine to do it, through the agent's HTTP API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti.ari import AriClient, ChannelEnteredBridge, ChannelLeftBridge, StasisStart
from cti.ids import BridgeId, ChannelId
from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import (
    bridged_call,
    call_events,
    call_record,
    prompt_seconds,
    trunk_reachable,
)
from tests.asterisk.sip import CALLER_NUMBER, Phone, Sipp, answering_peer, call

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]


@pytest.fixture
async def ari(asterisk: Asterisk) -> AsyncIterator[AriClient]:
    client = asterisk.ari()
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


async def centre_reachable(asterisk: Asterisk, workdir: Path, talk_ms: int) -> Sipp:
    """Start the 12319 centre and make Asterisk see it.

    The trunk is qualified (OPTIONS every 60 s) and PJSIP does not dial a
    contact it last found unreachable, which is what the centre was while no
    SIPp listened (:func:`trunk_reachable`).
    """
    centre = await answering_peer(workdir, port=asterisk.ports.hotline_12319, talk_ms=talk_ms)
    await trunk_reachable(asterisk, "hotline-12319")
    return centre


async def test_parallel_hotline_stays_with_the_caller_when_the_agent_leaves(
    asterisk: Asterisk, ari: AriClient, phones: PhoneFactory, tmp_path: Path
) -> None:
    await phones("8009", "answer", ring_ms=300, talk_ms=60_000)
    centre = await centre_reachable(asterisk, tmp_path, talk_ms=60_000)
    bridge_id = BridgeId("tier-threeway")
    with ari.subscribe("StasisStart", "ChannelEnteredBridge", "ChannelLeftBridge") as events:
        caller = await call(
            tmp_path,
            sip_port=asterisk.ports.sip,
            source_port=asterisk.ports.carrier,
            dialled="12345",
            wait_ms=60_000,
        )
        try:
            start = await events.wait_for(lambda e: isinstance(e, StasisStart), timeout=10)
            assert isinstance(start, StasisStart)
            caller_channel = start.channel.id
            await ari.channels.answer(caller_channel)
            await ari.bridges.create_with_id(bridge_id, type="mixing")
            await ari.bridges.add_channel(bridge_id, caller_channel)

            async def join(endpoint: str, role: str, leg: str) -> ChannelId:
                await ari.channels.originate(
                    endpoint,
                    app="hotline",
                    app_args=f"{role},tier",
                    caller_id=f"<{CALLER_NUMBER}>",
                    timeout=15,
                    channel_id=ChannelId(leg),
                )
                answered = await events.wait_for(
                    lambda e: isinstance(e, StasisStart) and e.channel.id == leg, timeout=15
                )
                assert isinstance(answered, StasisStart)
                await ari.bridges.add_channel(bridge_id, ChannelId(leg))
                await events.wait_for(
                    lambda e: isinstance(e, ChannelEnteredBridge) and e.channel.id == leg,
                    timeout=5,
                )
                return ChannelId(leg)

            agent = await join("PJSIP/8009", "agent", "tier-agent")
            consultee = await join("PJSIP/12319@hotline-12319", "consultee", "tier-consultee")
            bridge = await ari.bridges.get(bridge_id)
            assert sorted(bridge.channels) == sorted([caller_channel, agent, consultee])

            # The agent drops out of the three-way call.
            await ari.channels.hangup(agent)
            await events.wait_for(
                lambda e: isinstance(e, ChannelLeftBridge) and e.channel.id == agent, timeout=5
            )
            bridge = await ari.bridges.get(bridge_id)
            assert sorted(bridge.channels) == sorted([caller_channel, consultee])
            # Neither the caller nor 12319 was hung up.
            assert caller.process.returncode is None
            assert centre.process.returncode is None
            assert centre.received("INVITE") == 1
            assert f"sip:{CALLER_NUMBER}@" in centre.messages()

            await ari.channels.hangup(consultee)
            await ari.channels.hangup(caller_channel)
            await caller.expect_success(timeout=10)
        finally:
            await caller.stop()
            await centre.stop()


async def three_way_then_leave(
    asterisk: Asterisk, agent: AgentSession, seat_phone: Phone, centre: Sipp, timeout: float
) -> str:
    """The agent (on a bridged call) adds 12319, then drops out; returns the call id."""
    view = await agent.wait_for_call(timeout=timeout)
    call_id = str(view["call_id"])
    await bridged_call(asterisk, timeout=10)
    # The agent adds the 12319 centre (a parallel line of lines.yaml) to the call.
    started = await agent.post(
        f"/api/calls/{call_id}/transfer",
        {"mode": "three_way", "target": {"kind": "line", "ref": "city_management"}},
    )
    assert started["kind"] == "three_way"
    await agent.wait_for(f"/api/calls/{call_id}/transfer", "state", "conference", 15)
    assert centre.received("INVITE") == 1
    conference = await bridged_call(asterisk, timeout=5, parties=3)
    # The agent drops out; the caller stays with 12319.
    await agent.post(f"/api/calls/{call_id}/transfer/leave")
    assert seat_phone.uas is not None
    await seat_phone.uas.wait_for_received("BYE", count=1, timeout=5)
    watcher = asterisk.ari(app="watcher")
    try:
        remaining = await watcher.bridges.get(conference.id)
    finally:
        await watcher.close()
    assert len(remaining.channels) == 2
    return call_id


async def test_engine_three_way_call_to_12319_the_agent_leaves(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    seat_phone = await phones("8010", "answer", ring_ms=300, talk_ms=60_000)
    agent = AgentSession(runner, "1011", "s10")
    await agent.login()
    centre = await centre_reachable(asterisk, tmp_path, talk_ms=60_000)
    notice = prompt_seconds("recording-notice")
    # The caller talks with 12319 for a while after the agent left, then hangs up.
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + 7) * 1000),
    )
    try:
        await three_way_then_leave(asterisk, agent, seat_phone, centre, timeout=notice + 10)
        assert caller.process.returncode is None
        await caller.expect_success(timeout=15)
        # The caller's hang-up ends the consultee's leg too.
        await centre.wait_for_received("BYE", count=1, timeout=5)
    finally:
        await caller.stop()
        await centre.stop()
    record = await call_record(empty_dsn, dialled="12345")
    assert record["first_agent"] == "1011"
    assert record["outcome"] == "answered"  # one call, one record, through the transfer
    assert record["hangup_by"] == "caller"
    events = await call_events(empty_dsn, record["call_id"])
    steps = ["transfer_started", "consultee_answered", "conference", "agent_left", "handed_over"]
    assert [e for e in events if e in steps] == steps, events
    assert events.index("handed_over") < events.index("caller_hangup") < events.index("ended")
    assert "leg_ended" in events


async def test_engine_ends_the_call_when_12319_hangs_up_after_the_agent_left(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    seat_phone = await phones("8011", "answer", ring_ms=300, talk_ms=60_000)
    agent = AgentSession(runner, "1012", "s11")
    await agent.login()
    centre = await centre_reachable(asterisk, tmp_path, talk_ms=4000)
    notice = prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + 60) * 1000),
    )
    try:
        await three_way_then_leave(asterisk, agent, seat_phone, centre, timeout=notice + 10)
        # 12319 hangs up 4 s after answering: the caller is offered the
        # satisfaction survey, presses nothing, and the engine hangs up.
        await caller.expect_success(timeout=45)
        assert caller.received("BYE") == 1
    finally:
        await caller.stop()
        await centre.stop()
    record = await call_record(empty_dsn, timeout=3, dialled="12345")
    assert record["hangup_by"] != "caller"
