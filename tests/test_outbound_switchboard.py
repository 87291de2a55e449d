"""Calls out as switchboard flows, decision by decision (no sockets)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest

import acd
import callbacks as cb
import switchboard as sb
import transfer as tr
from switchboard import commands as c
from switchboard import events as ev
from switchboard.config import DialVerdict
from tests.switchboard_support import START, acd_config, flow_config

pytestmark = pytest.mark.outbound

CITIZEN = "13812345678"
PREMIUM = "16801234"
SEAT_CHANNEL = sb.ChannelId("PJSIP/1001-00000001")


class MobileOnly:
    """Dial rules for the tests: mobile numbers only."""

    def check(self, agent: str, number: str) -> DialVerdict:
        shown = number[:3] + "****" + number[-4:]
        if not agent:
            return DialVerdict(False, number, None, f"no agent {agent!r}", shown)
        if re.fullmatch(r"1[3-9][0-9]{9}", number):
            return DialVerdict(True, number, "mobile", "allowed (mobile)", shown)
        return DialVerdict(False, number, None, "this number is in no allowed range", shown)

    def endpoint(self, number: str) -> str:
        return f"PJSIP/{number}@carrier"


def board() -> sb.Switchboard:
    flow = replace(
        flow_config(),
        dialling=MobileOnly(),
        presented_number="12345",
        dial_timeout_s=25,
        agent_ring_s=15,
        dial_refused_prompt="dial_refused",
    )
    made = sb.Switchboard(flow, acd_config())
    made.handle(ev.AgentRequest(acd.AgentLogin(acd.AgentId("1001"), acd.SeatId("s1001"))), START)
    return made


def of(kind: type, commands: list[c.Command]) -> list:  # type: ignore[type-arg]
    return [x for x in commands if isinstance(x, kind)]


def seat_dials(b: sb.Switchboard, number: str, seat: str = "s1001") -> list[c.Command]:
    return b.handle(
        ev.SeatDialled(sb.CallId("c-out"), SEAT_CHANNEL, acd.SeatId(seat), number), START + 1
    )


def agent_state(b: sb.Switchboard) -> str:
    view = b.distributor.agent_view(acd.AgentId("1001"))
    assert view is not None
    return view.state.value


def test_a_seat_phone_dials_a_citizen_who_answers_and_talks() -> None:
    b = board()
    out = seat_dials(b, CITIZEN)
    (dial,) = of(c.DialOut, out)
    assert dial.endpoint == f"PJSIP/{CITIZEN}@carrier"
    assert dial.caller_id == "12345"
    assert dial.timeout_s == 25
    assert dial.app_args == ("outbound", "c-out", dial.leg)
    assert dial.originator == SEAT_CHANNEL
    call = b.call(sb.CallId("c-out"))
    assert call is not None and call.public_state == "waiting"
    assert call.facts.tags["direction"] == "outbound"

    out = b.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-out")), START + 5)
    assert of(c.Answer, out) == [c.Answer(sb.CallId("c-out"), SEAT_CHANNEL)]
    (bridged,) = of(c.AddToBridge, out)
    assert set(bridged.channels) == {dial.leg, SEAT_CHANNEL}
    assert len(of(c.RecordBridge, out)) == 1
    assert call.public_state == "talking"
    assert agent_state(b) == "on_call"
    assert b.call_of_agent("1001") is call

    out = b.handle(ev.ChannelLeft(dial.leg), START + 65)
    (final,) = of(c.WriteFinal, out)
    assert final.record.outcome == "answered"
    assert final.record.tags["direction"] == "outbound"
    assert final.record.first_agent == "1001"
    assert final.record.answered_at == START + 5
    assert final.record.queued_at is None  # in no queue's figures
    assert final.rating is None  # a call out is not rated
    assert final.ticket is not None and final.ticket.kind == "call"
    assert of(c.HangUp, out) == [c.HangUp(sb.CallId("c-out"), SEAT_CHANNEL, "normal")]
    assert b.calls() == []
    view = b.distributor.agent_view(acd.AgentId("1001"))
    assert view is not None and view.talk_today_s == pytest.approx(60.0)


def test_a_number_the_rules_refuse_is_audited_and_the_agent_hears_why() -> None:
    b = board()
    out = seat_dials(b, PREMIUM)
    assert of(c.DialOut, out) == []
    (audit,) = of(c.WriteAudit, out)
    assert (audit.actor, audit.action, audit.allowed) == ("1001", "dial_refused", False)
    assert audit.target == "number:168****1234"
    (play,) = of(c.Play, out)
    assert play.channel == SEAT_CHANNEL and play.media == ("dial_refused",)
    out = b.handle(ev.PlaybackFinished(play.playback), START + 4)
    assert of(c.HangUp, out) == [c.HangUp(sb.CallId("c-out"), SEAT_CHANNEL, "normal")]
    out = b.handle(ev.ChannelLeft(SEAT_CHANNEL), START + 4.1)
    (final,) = of(c.WriteFinal, out)
    assert final.record.outcome == "dial_refused" and final.ticket is None


def test_a_seat_with_no_agent_logged_in_may_not_dial() -> None:
    b = board()
    out = seat_dials(b, CITIZEN, seat="s1002")
    assert of(c.DialOut, out) == []
    (audit,) = of(c.WriteAudit, out)
    assert audit.actor == "seat:s1002"
    assert audit.detail["message"] == "no agent is logged in at this seat"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (ev.DialStatus.BUSY, "busy"),
        (ev.DialStatus.NOANSWER, "no_answer"),
        (ev.DialStatus.CHANUNAVAIL, "unreachable"),
    ],
)
def test_a_dial_that_reaches_nobody_ends_with_its_outcome(
    status: ev.DialStatus, outcome: str
) -> None:
    b = board()
    (dial,) = of(c.DialOut, seat_dials(b, CITIZEN))
    out = b.handle(ev.LegDialed(dial.leg, status), START + 10)
    (final,) = of(c.WriteFinal, out)
    assert final.record.outcome == outcome
    assert final.record.answered_at is None and final.ticket is None
    hung = {h.channel for h in of(c.HangUp, out)}
    assert hung == {dial.leg, SEAT_CHANNEL}
    assert agent_state(b) == "idle"
    assert b.calls() == []


def test_a_refused_create_ends_the_call_as_failed() -> None:
    b = board()
    (dial,) = of(c.DialOut, seat_dials(b, CITIZEN))
    (final,) = of(c.WriteFinal, b.handle(ev.OriginateFailed(dial.leg, "500"), START + 2))
    assert final.record.outcome == "failed"


def test_the_agent_hanging_up_while_the_citizen_rings_cancels_the_call() -> None:
    b = board()
    (dial,) = of(c.DialOut, seat_dials(b, CITIZEN))
    out = b.handle(ev.ChannelLeft(SEAT_CHANNEL), START + 3)
    (final,) = of(c.WriteFinal, out)
    assert final.record.outcome == "cancelled" and final.record.hangup_by == "agent"
    assert of(c.HangUp, out) == [c.HangUp(sb.CallId("c-out"), dial.leg, "normal")]
    # The citizen's leg answering afterwards is hung up: nobody waits for it.
    late = b.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-out")), START + 4)
    assert late == [c.HangUp(sb.CallId("c-out"), dial.leg, "normal")]


def click(b: sb.Switchboard, number: str = CITIZEN, **more: str) -> list[c.Command]:
    request = ev.DialRequested(sb.CallId("c-click"), acd.AgentId("1001"), number, **more)
    return b.handle(request, START + 1)


def test_click_to_dial_rings_the_agent_first_then_the_citizen() -> None:
    b = board()
    out = click(b)
    (ring,) = of(c.OriginateAgent, out)
    assert ring.endpoint == "PJSIP/1001" and ring.timeout_s == 15
    assert ring.caller_id == CITIZEN
    assert of(c.DialOut, out) == []
    out = b.handle(ev.AgentLegAnswered(ring.leg, sb.CallId("c-click"), acd.AgentId("1001")), 3)
    (dial,) = of(c.DialOut, out)
    assert dial.caller_id == "12345"
    out = b.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-click")), START + 8)
    (bridged,) = of(c.AddToBridge, out)
    assert set(bridged.channels) == {dial.leg, ring.leg}
    assert of(c.Answer, out) == []  # the agent's leg answered already
    # The agent hangs up: a call out that is not a callback ends, no survey.
    out = b.handle(ev.ChannelLeft(ring.leg), START + 30)
    assert of(c.Play, out) == []
    assert c.HangUp(sb.CallId("c-click"), dial.leg, "normal") in out
    (final,) = of(c.WriteFinal, b.handle(ev.ChannelLeft(dial.leg), START + 30.2))
    assert final.record.outcome == "answered" and final.record.hangup_by == "agent"


def test_click_to_dial_refusals_are_one_line_and_audited() -> None:
    b = board()
    out = click(b, PREMIUM)
    (refusal,) = of(c.RefuseTransfer, out)
    assert (refusal.code, refusal.message) == ("dial_refused", "this number is in no allowed range")
    assert len(of(c.WriteAudit, out)) == 1
    assert b.calls() == []
    out = b.handle(ev.DialRequested(sb.CallId("c-2"), acd.AgentId("1002"), CITIZEN), START)
    (refusal,) = of(c.RefuseTransfer, out)
    assert refusal.code == "not_logged_in" and of(c.WriteAudit, out) == []


def test_an_agent_who_does_not_answer_their_seat_ends_the_click_to_dial() -> None:
    b = board()
    (ring,) = of(c.OriginateAgent, click(b))
    out = b.handle(ev.LegDialed(ring.leg, ev.DialStatus.NOANSWER), START + 16)
    (final,) = of(c.WriteFinal, out)
    assert final.record.outcome == "agent_unreached"
    assert of(c.DialOut, out) == []


def test_a_reached_callback_goes_on_to_the_survey_and_hands_a_callback_ticket() -> None:
    b = board()
    out = click(b, callback=f"{CITIZEN}@2026-03-11", missed_call_id="c-missed")
    (ring,) = of(c.OriginateAgent, out)
    out = b.handle(ev.AgentLegAnswered(ring.leg, sb.CallId("c-click"), acd.AgentId("1001")), 3)
    (dial,) = of(c.DialOut, out)
    b.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-click")), START + 8)
    out = b.handle(ev.ChannelLeft(ring.leg), START + 30)
    assert of(c.Play, out)  # the survey's question
    call = b.call(sb.CallId("c-click"))
    assert call is not None and call.public_state == "rating"
    (final,) = of(c.WriteFinal, b.handle(ev.ChannelLeft(dial.leg), START + 31))
    assert final.ticket is not None
    assert final.ticket.kind == "callback"
    assert final.ticket.tags["missed_call_id"] == "c-missed"
    assert final.record.tags["callback"] == f"{CITIZEN}@2026-03-11"


def test_a_call_out_can_be_transferred_blind_to_a_number() -> None:
    b = board()
    (dial,) = of(c.DialOut, seat_dials(b, CITIZEN))
    b.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-out")), START + 5)
    target = tr.Target(tr.TargetKind.NUMBER, "83456789", dial="PJSIP/83456789@carrier")
    out = b.handle(
        ev.TransferRequested(sb.CallId("c-out"), acd.AgentId("1001"), tr.Mode.BLIND, target),
        START + 20,
    )
    assert of(c.RefuseTransfer, out) == []
    (consultee,) = of(c.OriginateConsultee, out)
    assert consultee.dial == "PJSIP/83456789@carrier"


def test_a_call_that_never_rang_the_citizen_gives_its_attempt_back() -> None:
    policy = cb.CallbackPolicy()
    at = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)
    miss = cb.Miss("c-missed", at, "12345", cb.Reason.OVERFLOWED, "general")
    entry = cb.opened(CITIZEN, miss, policy)
    dialling = cb.dial(entry, "1001", at, policy, "c-out")
    assert dialling.status is cb.Status.DIALLING and len(dialling.attempts) == 1
    assert cb.drop_attempt(dialling, "c-other") == dialling  # another call's: nothing
    back = cb.drop_attempt(dialling, "c-out")
    assert back.status is cb.Status.PENDING and back.attempts == ()
    assert back.claimed_by is None
    # A busy attempt is kept and counts.
    busy = cb.record_outcome(dialling, cb.Outcome.BUSY, at, policy)
    assert busy.status is cb.Status.PENDING and len(busy.attempts) == 1
    assert cb.drop_attempt(busy, "c-out") == busy


def test_a_return_visit_call_tells_the_visit_its_attempt_with_the_agent_and_recording() -> None:
    b = board()
    (ring,) = of(c.OriginateAgent, click(b, visit="WO-5"))
    out = b.handle(ev.AgentLegAnswered(ring.leg, sb.CallId("c-click"), acd.AgentId("1001")), 3)
    (dial,) = of(c.DialOut, out)
    b.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-click")), START + 8)
    out = b.handle(ev.ChannelLeft(ring.leg), START + 30)
    assert of(c.Play, out) == []  # no survey: the agent asks the visit's questions
    out += b.handle(ev.ChannelLeft(dial.leg), START + 30.2)
    (final,) = of(c.WriteFinal, out)
    assert final.record.tags["return_visit"] == "WO-5"
    assert final.record.tags["kind"] == "return_visit"
    (result,) = of(c.RecordVisitResult, out)
    assert (result.call_id, result.ticket_id, result.outcome) == ("c-click", "WO-5", "reached")
    assert result.agent == "1001" and result.recording == final.record.recording_ref
    assert result.recording is not None and result.answers == ()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(ev.DialStatus.BUSY, "busy"), (ev.DialStatus.NOANSWER, "no_answer")],
)
def test_a_return_visit_call_that_reached_nobody_is_an_attempt(
    status: ev.DialStatus, outcome: str
) -> None:
    b = board()
    (ring,) = of(c.OriginateAgent, click(b, visit="WO-5"))
    out = b.handle(ev.AgentLegAnswered(ring.leg, sb.CallId("c-click"), acd.AgentId("1001")), 3)
    (dial,) = of(c.DialOut, out)
    (result,) = of(c.RecordVisitResult, b.handle(ev.LegDialed(dial.leg, status), START + 20))
    assert (result.outcome, result.agent, result.recording) == (outcome, "1001", None)


def test_a_return_visit_call_whose_agent_never_answered_is_no_attempt() -> None:
    b = board()
    (ring,) = of(c.OriginateAgent, click(b, visit="WO-5"))
    out = b.handle(ev.LegDialed(ring.leg, ev.DialStatus.NOANSWER), START + 16)
    (result,) = of(c.RecordVisitResult, out)
    assert (result.ticket_id, result.outcome, result.agent) == ("WO-5", "", "1001")
    # A call out that makes no visit tells none.
    b = board()
    (ring,) = of(c.OriginateAgent, click(b))
    assert of(c.RecordVisitResult, b.handle(ev.LegDialed(ring.leg, ev.DialStatus.BUSY), 20)) == []
