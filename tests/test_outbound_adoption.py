"""Calls out taken back by a restarted switchboard, from the pictures on their legs."""

from __future__ import annotations

import pytest

import acd
import switchboard as sb
from switchboard import commands as c
from switchboard import events as ev
from tests.switchboard_support import START
from tests.test_outbound_switchboard import (
    CITIZEN,
    SEAT_CHANNEL,
    agent_state,
    board,
    click,
    of,
    seat_dials,
)

pytestmark = pytest.mark.outbound

AGENT = acd.AgentId("1001")


def last_picture(commands: list[c.Command], leg: sb.ChannelId) -> str:
    """The picture the call last kept on ``leg``: set on it, or carried by its dial."""
    pictures = []
    for x in commands:
        if isinstance(x, c.SetChannelVar) and x.channel == leg and x.name == sb.STATE_VAR:
            pictures.append(x.value)
        elif isinstance(x, c.DialOut) and x.leg == leg:
            pictures.append(dict(x.variables)[sb.STATE_VAR])
    assert pictures, f"no picture on {leg}"
    return pictures[-1]


def test_a_call_out_from_the_seat_marks_the_seat_channel_as_the_agent_leg() -> None:
    out = seat_dials(board(), CITIZEN)
    marks = {(x.channel, x.name, x.value) for x in of(c.SetChannelVar, out)}
    assert (SEAT_CHANNEL, "HOTLINE_CALL_ID", "c-out") in marks
    assert (SEAT_CHANNEL, "HOTLINE_AGENT", "1001") in marks
    (dial,) = of(c.DialOut, out)
    picture = sb.CallPicture.from_json(dict(dial.variables)[sb.STATE_VAR])
    assert (picture.phase, picture.tags["direction"]) == ("queued", "outbound")


def test_a_conversation_out_is_taken_back_and_ends_as_answered() -> None:
    before = board()
    out = seat_dials(before, CITIZEN)
    (dial,) = of(c.DialOut, out)
    out += before.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-out")), START + 5)
    picture = last_picture(out, dial.leg)
    assert sb.CallPicture.from_json(picture).phase == "connected"

    after = board()
    found = sb.FoundCall(dial.leg, picture, (sb.FoundLeg(SEAT_CHANNEL, AGENT, up=True),))
    out = after.handle(sb.CallsFound((found,)), START + 60)
    assert of(c.HangUp, out) == []
    call = after.call(sb.CallId("c-out"))
    assert call is not None and call.public_state == "talking"
    assert call.facts.tags["direction"] == "outbound" and call.facts.incarnation == 1
    assert agent_state(after) == "on_call"  # no inbound call is offered to them meanwhile

    out = after.handle(ev.ChannelLeft(dial.leg), START + 125)
    (final,) = of(c.WriteFinal, out)
    assert final.record.outcome == "answered"
    assert final.record.tags["direction"] == "outbound"
    assert final.record.answered_at == START + 5
    assert final.record.queued_at is None
    assert final.ticket is not None and final.ticket.kind == "call"
    assert c.HangUp(sb.CallId("c-out"), SEAT_CHANNEL, "normal") in out
    assert after.calls() == []
    assert agent_state(after) != "on_call"


def test_a_callback_taken_back_still_gives_the_citizen_the_survey() -> None:
    before = board()
    out = click(before, callback=f"{CITIZEN}@2026-03-11", missed_call_id="c-missed")
    (ring,) = of(c.OriginateAgent, out)
    out += before.handle(ev.AgentLegAnswered(ring.leg, sb.CallId("c-click"), AGENT), START + 3)
    (dial,) = of(c.DialOut, out)
    out += before.handle(ev.OutboundAnswered(dial.leg, sb.CallId("c-click")), START + 8)

    after = board()
    found = sb.FoundCall(
        dial.leg, last_picture(out, dial.leg), (sb.FoundLeg(ring.leg, AGENT, True),)
    )
    after.handle(sb.CallsFound((found,)), START + 20)
    out = after.handle(ev.ChannelLeft(ring.leg), START + 30)
    assert of(c.Play, out)  # the survey's question
    (final,) = of(c.WriteFinal, after.handle(ev.ChannelLeft(dial.leg), START + 31))
    assert final.ticket is not None and final.ticket.kind == "callback"
    assert final.ticket.tags["missed_call_id"] == "c-missed"


def test_a_dial_still_ringing_at_the_restart_ends_and_frees_the_agent() -> None:
    before = board()
    out = click(before)
    (ring,) = of(c.OriginateAgent, out)
    out += before.handle(ev.AgentLegAnswered(ring.leg, sb.CallId("c-click"), AGENT), START + 3)
    (dial,) = of(c.DialOut, out)

    after = board()
    found = sb.FoundCall(
        dial.leg, last_picture(out, dial.leg), (sb.FoundLeg(ring.leg, AGENT, True),)
    )
    out = after.handle(sb.CallsFound((found,)), START + 20)
    hung = {x.channel for x in of(c.HangUp, out)}
    assert hung == {dial.leg, ring.leg}
    assert of(c.WriteFinal, out) == []  # it ends when the citizen's leg is gone
    out += after.handle(ev.ChannelLeft(ring.leg), START + 20.1)
    out += after.handle(ev.ChannelLeft(dial.leg), START + 20.2)
    (final,) = of(c.WriteFinal, out)
    assert (final.record.outcome, final.record.end_reason) == ("failed", "engine_restart")
    assert final.record.tags["direction"] == "outbound"
    assert of(c.OriginateAgent, out) == [] and of(c.DialOut, out) == []
    assert after.calls() == []
    assert agent_state(after) == "idle"


def test_a_seat_dial_ringing_at_the_restart_hangs_up_the_seat_even_unmarked() -> None:
    before = board()
    out = seat_dials(before, CITIZEN)
    (dial,) = of(c.DialOut, out)
    after = board()
    out = after.handle(
        sb.CallsFound((sb.FoundCall(dial.leg, last_picture(out, dial.leg)),)), START + 9
    )
    assert {x.channel for x in of(c.HangUp, out)} == {dial.leg, SEAT_CHANNEL}
