"""Transfers inside the switchboard's call: the transfer plans carried out in virtual time."""

from __future__ import annotations

import pytest

import acd
import switchboard as sb
import transfer as tr
from switchboard.sim import CallerScript, Simulation
from tests.switchboard_support import AGENTS, DIRECT, START, switchboard

pytestmark = pytest.mark.switchboard

CALL = sb.CallId("c-1")
AGENT = acd.AgentId("1001")
NUMBER = tr.Target(tr.TargetKind.NUMBER, "13900001111", dial="PJSIP/13900001111@trunk")


def connected() -> tuple[Simulation, sb.ChannelId, sb.InboundCall]:
    """A caller talking to agent 1001; the other agents logged in."""
    sim = Simulation(switchboard(), start=START)
    sim.login("1001", "s1001")
    sim.call(CallerScript(DIRECT, rating_key="1"))
    sim.settle()
    (leg,) = sim.ringing_legs()
    sim.answer_leg(leg.id)
    sim.settle()
    for agent in AGENTS[1:]:
        sim.login(agent, f"s{agent}")
    call = sim.board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.CONNECTED
    return sim, sb.ChannelId("sip-caller-1"), call


def start(sim: Simulation, mode: tr.Mode, target: tr.Target = NUMBER) -> sb.ChannelId:
    sim.feed(sb.TransferRequested(CALL, AGENT, mode, target))
    sim.settle()
    legs = [ch.id for ch in sim.ringing_legs() if ch.consultee]
    assert len(legs) == 1
    return legs[0]


def kinds(sim: Simulation) -> list[str]:
    return [row.kind for row in sim.timeline]


def test_a_blind_transfer_hands_the_caller_off_then_offers_the_survey() -> None:
    sim, caller, call = connected()
    consultee = start(sim, tr.Mode.BLIND)
    assert call.phase is sb.CallPhase.TRANSFERRING
    assert sim.channels[sb.ChannelId("c-1-a1")].gone  # the agent has left
    assert sim.board.distributor.agent_view(AGENT).state is acd.AgentState.WRAPUP  # type: ignore[union-attr]
    sim.answer_leg(consultee)
    sim.settle()
    assert call.phase is sb.CallPhase.HANDED_OFF
    assert sim.bridges[sb.BridgeId("br-c-1")] == {caller, consultee}
    sim.hang_up(consultee)
    sim.settle()
    assert call.phase is sb.CallPhase.SURVEY
    sim.press(caller, "1")
    sim.run_until(sim.now + 30)
    (final,) = sim.finals[CALL]
    assert final.ticket is not None
    assert [(leg.kind, leg.outcome) for leg in final.ticket.legs] == [
        (tr.LegKind.BLIND, tr.Outcome.COMPLETED)
    ]
    assert final.record.rating == 1


def test_an_attended_transfer_cancelled_takes_the_caller_back() -> None:
    sim, caller, call = connected()
    consultee = start(sim, tr.Mode.ATTENDED)
    assert sim.channels[caller].moh and sim.channels[caller].bridge is None
    sim.answer_leg(consultee)
    sim.settle()
    sim.feed(sb.TransferAction(CALL, AGENT, sb.TransferStep.CANCEL))
    sim.settle()
    assert sim.channels[consultee].gone
    assert not sim.channels[caller].moh and sim.channels[caller].bridge is not None
    assert call.phase is sb.CallPhase.CONNECTED and call.transfers.live is None
    assert call.facts.transfer_legs[-1].outcome is tr.Outcome.CANCELLED


def test_a_three_way_call_the_agent_drops_out_of() -> None:
    sim, caller, call = connected()
    consultee = start(sim, tr.Mode.THREE_WAY)
    sim.answer_leg(consultee)
    sim.settle()
    agent_leg = sb.ChannelId("c-1-a1")
    assert sim.bridges[sb.BridgeId("br-c-1")] == {caller, agent_leg, consultee}
    sim.feed(sb.TransferAction(CALL, AGENT, sb.TransferStep.COMPLETE))
    sim.settle()
    assert call.phase is sb.CallPhase.HANDED_OFF and sim.channels[agent_leg].gone
    sim.hang_up(caller)
    sim.settle()
    (final,) = sim.finals[CALL]
    assert final.record.outcome == "answered"
    assert sim.channels[consultee].gone
    assert not [k for k in sim.timers if isinstance(k, sb.CallTimer)]


def test_a_blind_transfer_to_a_queue_is_answered_there() -> None:
    sim, _, call = connected()
    sim.feed(
        sb.TransferRequested(CALL, AGENT, tr.Mode.BLIND, tr.Target(tr.TargetKind.QUEUE, "general"))
    )
    sim.settle()
    assert call.phase is sb.CallPhase.QUEUED
    ringing = sim.ringing_legs()
    assert ringing and all(ch.agent != AGENT for ch in ringing)
    sim.answer_leg(ringing[0].id)
    sim.settle()
    assert call.phase is sb.CallPhase.CONNECTED
    assert call.facts.first_agent == AGENT and call.facts.agent == ringing[0].agent
    assert call.facts.recording == "c-1-2"
    assert call.transfers.live is None


def test_a_failed_blind_transfer_puts_the_caller_back_in_the_queue() -> None:
    sim, _, call = connected()
    consultee = start(sim, tr.Mode.BLIND)
    sim.reject_leg(consultee, sb.DialStatus.BUSY)
    sim.settle()
    assert call.phase is sb.CallPhase.QUEUED
    assert call.facts.transfer_legs[-1].outcome is tr.Outcome.BUSY
    assert [ch.agent for ch in sim.ringing_legs()]


def test_the_caller_hanging_up_during_a_consult_ends_everything() -> None:
    sim, caller, _ = connected()
    consultee = start(sim, tr.Mode.ATTENDED)
    sim.hang_up(caller)
    sim.settle()
    assert sim.channels[consultee].gone and sim.channels[sb.ChannelId("c-1-a1")].gone
    (final,) = sim.finals[CALL]
    assert final.ticket is not None and len(final.ticket.legs) == 1
    assert not [k for k in sim.timers if isinstance(k, sb.CallTimer)]
    assert not sim.board.calls()


def test_requests_that_are_not_the_agents_are_refused() -> None:
    sim, _, _ = connected()
    sim.feed(sb.TransferRequested(CALL, acd.AgentId("1002"), tr.Mode.BLIND, NUMBER))
    sim.feed(sb.TransferAction(CALL, AGENT, sb.TransferStep.JOIN))
    sim.feed(sb.TransferRequested(sb.CallId("c-404"), AGENT, tr.Mode.BLIND, NUMBER))
    codes = [r.code for r in sim.refusals if isinstance(r, sb.RefuseTransfer)]
    assert codes == ["not_your_call", "no_transfer", "no_call"]


def test_an_emergency_hand_off_cancels_a_transfer_in_progress() -> None:
    sim, _, call = connected()
    first = start(sim, tr.Mode.ATTENDED)
    emergency = tr.Target(tr.TargetKind.EMERGENCY, "110", dial="PJSIP/110@trunk")
    sim.feed(sb.TransferRequested(CALL, AGENT, tr.Mode.BLIND, emergency))
    sim.settle()
    assert sim.channels[first].gone
    assert call.facts.tags["emergency"] == "110"
    assert [ch.id for ch in sim.ringing_legs()] == [sb.ChannelId("c-1-k2")]


def test_an_emergency_hand_off_records_the_number_the_service_is_shown() -> None:
    sim, _, call = connected()
    emergency = tr.Target(
        tr.TargetKind.EMERGENCY,
        "120",
        dial="PJSIP/120@trunk",
        caller_id='"Citizen" <13800000000>',
    )
    sim.feed(sb.TransferRequested(CALL, AGENT, tr.Mode.BLIND, emergency))
    sim.settle()
    assert call.facts.tags["emergency_presented"] == "13800000000"
    rows = [r for r in sim.timeline if r.kind == "emergency"]
    assert [(r.agent, dict(r.detail)) for r in rows] == [
        (AGENT, {"number": "120", "mode": "blind", "presented": "13800000000"})
    ]
    assert sim.records[CALL].record.tags["emergency_presented"] == "13800000000"


def test_hold_takes_the_caller_out_of_the_bridge_with_music_and_back() -> None:
    sim, caller, call = connected()
    sim.feed(sb.HoldRequested(CALL, AGENT, True))
    assert sim.channels[caller].moh and sim.channels[caller].bridge is None
    sim.feed(sb.HoldRequested(CALL, AGENT, False))
    assert not sim.channels[caller].moh and sim.channels[caller].bridge is not None
    assert [k for k in (r.kind for r in sim.timeline) if k.startswith("caller_")] == [
        "caller_held",
        "caller_unheld",
    ]
    assert not call.facts.held


def test_the_agent_leaving_a_held_caller_sends_it_to_the_survey_without_music() -> None:
    sim, caller, call = connected()
    sim.feed(sb.HoldRequested(CALL, AGENT, True))
    sim.hang_up(sb.ChannelId("c-1-a1"))
    sim.settle()
    assert call.phase is sb.CallPhase.SURVEY and not sim.channels[caller].moh


def test_mute_and_hold_are_the_agents_own() -> None:
    sim, _, call = connected()
    commands = sim.feed(sb.MuteRequested(CALL, AGENT, True))
    assert sb.MuteChannel(CALL, sb.ChannelId("c-1-a1"), True) in commands
    assert call.facts.muted
    assert sim.feed(sb.MuteRequested(CALL, AGENT, True)) == []
    start(sim, tr.Mode.ATTENDED)
    sim.feed(sb.HoldRequested(CALL, AGENT, False))
    sim.feed(sb.HoldRequested(CALL, acd.AgentId("1002"), True))
    codes = [r.code for r in sim.refusals if isinstance(r, sb.RefuseTransfer)]
    assert codes == ["transfer_in_progress", "not_your_call"]
