"""Calls taken back by a restarted switchboard, from the pictures on their channels."""

from __future__ import annotations

import pytest

import acd
import switchboard as sb
from switchboard.sim import CallerScript, Simulation
from tests.switchboard_support import DIRECT, MENU, START, switchboard

pytestmark = pytest.mark.switchboard

CALL = sb.CallId("c-1")
CALLER = sb.ChannelId("sip-caller-1")
LEG = sb.ChannelId("c-1-a1")


def before_restart(script: CallerScript, *, answer: bool, until: float = 1.0) -> Simulation:
    sim = Simulation(switchboard(), start=START)
    sim.login("1001", "s1001")
    sim.call(script)
    sim.run_until(START + until)
    if answer:
        sim.answer_leg(LEG)
        sim.settle()
    return sim


def restarted(*agents: str) -> sb.Switchboard:
    board = switchboard()
    for agent in agents:
        board.handle(
            sb.AgentRequest(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(f"s{agent}"))), START
        )
    return board


def picture(sim: Simulation) -> str:
    return sim.channels[CALLER].variables[sb.STATE_VAR]


def test_a_connected_call_is_taken_back_with_its_agent_and_bridge() -> None:
    sim = before_restart(CallerScript(DIRECT), answer=True)
    assert sb.CallPicture.from_json(picture(sim)).phase == "connected"
    board = restarted("1001")
    found = sb.CallsFound(
        (sb.FoundCall(CALLER, picture(sim), (sb.FoundLeg(LEG, acd.AgentId("1001"), up=True),)),)
    )
    commands = board.handle(found, START + 60)
    assert not [c for c in commands if isinstance(c, sb.HangUp)]
    call = board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.CONNECTED
    assert call.facts.bridge == "br-c-1" and call.facts.first_agent == "1001"
    view = board.distributor.agent_view(acd.AgentId("1001"))
    assert view is not None and view.state is acd.AgentState.ON_CALL
    # The conversation goes on and ends normally: the agent hangs up, the survey starts.
    commands = board.handle(sb.ChannelLeft(LEG, 16), START + 90)
    assert call.phase is sb.CallPhase.SURVEY
    assert any(isinstance(c, sb.Play) and c.media == ("survey_question",) for c in commands)


def test_a_connected_call_whose_agent_leg_is_gone_goes_to_the_survey() -> None:
    sim = before_restart(CallerScript(DIRECT), answer=True)
    board = restarted("1001")
    board.handle(sb.CallsFound((sb.FoundCall(CALLER, picture(sim)),)), START + 60)
    call = board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.SURVEY


def test_a_waiting_caller_keeps_its_place_and_a_ringing_leg_is_hung_up() -> None:
    sim = before_restart(CallerScript(DIRECT), answer=False)
    assert sb.CallPicture.from_json(picture(sim)).phase == "queued"
    board = restarted("1002")
    found = sb.CallsFound(
        (sb.FoundCall(CALLER, picture(sim), (sb.FoundLeg(LEG, acd.AgentId("1001"), up=False),)),)
    )
    commands = board.handle(found, START + 30)
    assert sb.HangUp(CALL, LEG, "normal") in commands
    offers = [c for c in commands if isinstance(c, sb.OriginateAgent)]
    assert [o.agent for o in offers] == ["1002"]
    calls = board.distributor.call_views()
    assert len(calls) == 1


def test_a_caller_in_the_menu_resumes_at_its_node() -> None:
    sim = before_restart(CallerScript(MENU), answer=False, until=0.5)
    assert sb.CallPicture.from_json(picture(sim)).phase == "menu"
    board = restarted()
    commands = board.handle(sb.CallsFound((sb.FoundCall(CALLER, picture(sim)),)), START + 5)
    plays = [c for c in commands if isinstance(c, sb.Play)]
    assert [p.media for p in plays] == [("menu_prompt",)]
    commands = board.handle(sb.DtmfReceived(CALLER, "1"), START + 6)
    call = board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.QUEUED


def test_a_closing_call_is_hung_up_and_stray_legs_too() -> None:
    sim = before_restart(CallerScript("99999999"), answer=False, until=0.5)
    board = restarted()
    text = picture(sim).replace('"p":"announcing"', '"p":"voicemail"')
    commands = board.handle(sb.CallsFound((sb.FoundCall(CALLER, text),)), START + 5)
    assert sb.HangUp(CALL, CALLER, "normal") in commands
    stray = board.handle(sb.StrayLegs(sb.CallId("c-9"), (sb.ChannelId("c-9-a1"),)), START + 5)
    assert stray == [sb.HangUp(sb.CallId("c-9"), sb.ChannelId("c-9-a1"), "normal")]


def test_an_unreadable_picture_changes_nothing() -> None:
    board = restarted()
    assert board.handle(sb.CallsFound((sb.FoundCall(CALLER, "{not json"),)), START) == []
    assert board.handle(sb.CallsFound((sb.FoundCall(CALLER, '{"id": "c-1"}'),)), START) == []
    assert board.calls() == []


def test_a_call_taken_back_numbers_its_legs_afresh_under_a_new_incarnation() -> None:
    sim = before_restart(CallerScript(DIRECT), answer=False)
    board = restarted("1002")
    found = sb.FoundCall(CALLER, picture(sim), (sb.FoundLeg(LEG, acd.AgentId("1001"), up=False),))
    commands = board.handle(sb.CallsFound((found,)), START + 30)
    (offer,) = [c for c in commands if isinstance(c, sb.OriginateAgent)]
    assert offer.leg == "c-1-a1.1"
    states = [
        c.value for c in commands if isinstance(c, sb.SetChannelVar) and c.name == sb.STATE_VAR
    ]
    assert sb.CallPicture.from_json(states[-1]).incarnation == 1
    # A late verdict about the previous process's leg changes nothing.
    assert board.handle(sb.LegDialed(LEG, sb.DialStatus.NOANSWER), START + 31) == []


def handed_off_picture() -> str:
    """A caller left talking to 110 by a hand-off: no agent, the bridge with the party."""
    return sb.CallPicture(
        call_id=CALL,
        phase="handed_off",
        dialled="12345",
        caller_number="13800138000",
        queue="general",
        first_agent="1001",
        bridge="br-c-1",
        arrived_at=START,
        stamps={"queued_at": START + 1, "answered_at": START + 5},
        tags={"emergency": "110"},
    ).to_json()


PARTY = sb.ChannelId("c-1-t1")


def test_a_caller_handed_off_to_110_keeps_talking_and_is_surveyed_when_110_leaves() -> None:
    board = restarted("1001")
    party = sb.FoundLeg(PARTY, acd.AgentId(""), up=True, outside=True)
    commands = board.handle(
        sb.CallsFound((sb.FoundCall(CALLER, handed_off_picture(), (party,)),)), START + 60
    )
    assert not [c for c in commands if isinstance(c, sb.HangUp | sb.DestroyBridge)]
    call = board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.HANDED_OFF
    assert call.facts.bridge == "br-c-1" and PARTY in board.channels()
    view = board.distributor.agent_view(acd.AgentId("1001"))
    assert view is not None and view.state is acd.AgentState.IDLE  # no agent of ours on it
    commands = board.handle(sb.ChannelLeft(PARTY, 16), START + 90)
    assert call.phase is sb.CallPhase.SURVEY
    assert any(isinstance(c, sb.Play) and c.media == ("survey_question",) for c in commands)


def test_a_caller_handed_off_who_hangs_up_ends_the_call_and_the_party_leg() -> None:
    board = restarted()
    party = sb.FoundLeg(PARTY, acd.AgentId(""), up=True, outside=True)
    board.handle(sb.CallsFound((sb.FoundCall(CALLER, handed_off_picture(), (party,)),)), START + 60)
    commands = board.handle(sb.ChannelLeft(CALLER, 16), START + 70)
    assert sb.HangUp(CALL, PARTY, "normal") in commands
    (final,) = [c for c in commands if isinstance(c, sb.WriteFinal)]
    assert final.record.outcome == "answered" and final.record.tags["emergency"] == "110"


def test_a_handed_off_caller_whose_party_is_gone_goes_to_the_survey() -> None:
    board = restarted()
    board.handle(sb.CallsFound((sb.FoundCall(CALLER, handed_off_picture()),)), START + 60)
    call = board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.SURVEY


def test_a_caller_whose_blind_transfer_still_rang_goes_back_to_its_queue() -> None:
    text = handed_off_picture().replace('"p":"handed_off"', '"p":"transferring"')
    board = restarted("1002")
    ringing = sb.FoundLeg(PARTY, acd.AgentId(""), up=False, outside=True)
    commands = board.handle(sb.CallsFound((sb.FoundCall(CALLER, text, (ringing,)),)), START + 60)
    assert sb.HangUp(CALL, PARTY, "normal") in commands
    assert sb.DestroyBridge(CALL, sb.BridgeId("br-c-1")) in commands
    assert sb.HangUp(CALL, CALLER, "normal") not in commands
    (offer,) = [c for c in commands if isinstance(c, sb.OriginateAgent)]
    assert offer.agent == "1002"
    call = board.call(CALL)
    assert call is not None and call.phase is sb.CallPhase.QUEUED
    (waiting,) = board.distributor.call_views()
    assert waiting.since == pytest.approx(START + 56)  # it keeps the 4 s it waited
