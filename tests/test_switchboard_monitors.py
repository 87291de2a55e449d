"""Supervisors on a call inside the switchboard: listen, whisper, barge, in virtual time."""

from __future__ import annotations

import pytest

import acd
import switchboard as sb
import transfer as tr
from switchboard.sim import CallerScript, Simulation
from tests.switchboard_support import DIRECT, START, switchboard

pytestmark = pytest.mark.switchboard

CALL = sb.CallId("c-1")
AGENT_LEG = sb.ChannelId("c-1-a1")
SUP_LEG = sb.ChannelId("c-1-m1-sup")
MON = sb.BridgeId("mon-c-1-m1")


def talking() -> tuple[Simulation, sb.ChannelId]:
    sim = Simulation(switchboard(), start=START)
    sim.login("1001", "s1001")
    caller = sim.call(CallerScript(DIRECT))
    sim.settle()
    sim.answer_leg(AGENT_LEG)
    sim.settle()
    return sim, caller


def monitor(sim: Simulation, mode: tr.MonitorMode, seat: str = "s1003") -> None:
    sim.feed(sb.MonitorRequested(CALL, "sup1", "supervisor", acd.SeatId(seat), mode))
    sim.settle()


def test_listening_snoops_the_agent_into_a_private_bridge_and_is_audited() -> None:
    sim, caller = talking()
    monitor(sim, tr.MonitorMode.LISTEN)
    assert sim.channels[SUP_LEG].supervisor and not sim.channels[SUP_LEG].up
    sim.answer_leg(SUP_LEG)
    sim.settle()
    (snoop,) = [ch for ch in sim.channels.values() if ch.snoops == AGENT_LEG]
    assert sim.bridges[MON] == {SUP_LEG, snoop.id}
    assert caller not in sim.bridges[MON]
    assert [(a.actor, a.action, a.detail["agent"]) for a in sim.audits] == [
        ("sup1", "monitor_listen", "1001")
    ]


def test_barging_joins_the_call_and_whispering_makes_a_new_snoop() -> None:
    sim, caller = talking()
    monitor(sim, tr.MonitorMode.LISTEN)
    sim.answer_leg(SUP_LEG)
    sim.settle()
    monitor(sim, tr.MonitorMode.BARGE)
    assert SUP_LEG in sim.bridges[sb.BridgeId("br-c-1")]
    assert not [ch for ch in sim.channels.values() if ch.snoops and not ch.gone]
    monitor(sim, tr.MonitorMode.WHISPER)
    assert SUP_LEG not in sim.bridges[sb.BridgeId("br-c-1")]
    live = [ch for ch in sim.channels.values() if ch.snoops and not ch.gone]
    assert len(live) == 1 and live[0].id in sim.bridges[MON]
    assert [a.action for a in sim.audits] == ["monitor_listen", "monitor_barge", "monitor_whisper"]
    assert caller in sim.bridges[sb.BridgeId("br-c-1")]


def test_the_agent_leaving_ends_the_session() -> None:
    sim, _ = talking()
    monitor(sim, tr.MonitorMode.LISTEN)
    sim.answer_leg(SUP_LEG)
    sim.settle()
    sim.hang_up(AGENT_LEG)
    sim.settle()
    assert sim.channels[SUP_LEG].gone
    assert MON not in sim.bridges
    assert "supervisor_left" in [row.kind for row in sim.timeline]


def test_the_call_ending_leaves_no_supervisor_or_snoop() -> None:
    sim, caller = talking()
    monitor(sim, tr.MonitorMode.WHISPER)
    sim.answer_leg(SUP_LEG)
    sim.settle()
    sim.hang_up(caller)
    sim.settle()
    assert all(ch.gone for ch in sim.channels.values())
    assert len(sim.finals[CALL]) == 1


def test_a_supervisor_seat_that_never_answers_ends_the_session() -> None:
    sim, _ = talking()
    monitor(sim, tr.MonitorMode.LISTEN)
    sim.reject_leg(SUP_LEG, sb.DialStatus.NOANSWER)
    sim.settle()
    (call,) = sim.board.calls()
    assert call.monitors.session_of("sup1") is None


def test_monitoring_requests_that_cannot_be_granted_are_refused() -> None:
    sim, _ = talking()
    monitor(sim, tr.MonitorMode.LISTEN, seat="s1001")  # the monitored agent's own seat
    monitor(sim, tr.MonitorMode.LISTEN, seat="s404")
    sim.feed(sb.MonitorStopped(CALL, "sup2"))
    sim.feed(
        sb.MonitorRequested(
            sb.CallId("c-404"), "sup1", "supervisor", acd.SeatId("s1003"), tr.MonitorMode.LISTEN
        )
    )
    codes = [r.code for r in sim.refusals if isinstance(r, sb.RefuseTransfer)]
    assert codes == ["bad_seat", "bad_seat", "no_monitor", "no_call"]
