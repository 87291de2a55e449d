"""The automatic return visit (回访) as a pure flow: every path from the dial to the result."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import acd
import callbacks as cb
import switchboard as sb
from cti.executor.dialler import load
from tests.switchboard_support import DIRECT, START, acd_config, flow_config

pytestmark = pytest.mark.outbound

VISITS = sb.VisitFlow(
    dial_pattern="PJSIP/{number}@carrier",
    caller_id="12345",
    ring_s=20,
    notice=("visit_notice",),
    agent_key="0",
    refuse_key="9",
    agent_queue="general",
    refused_prompts=("goodbye",),
    attempts=3,
)
CITIZEN = "13900001111"


class Drive:
    """A switchboard, the commands it gave, and the state of the one visit's leg."""

    def __init__(self, visits: sb.VisitFlow = VISITS) -> None:
        self.board = sb.Switchboard(replace(flow_config(), visits=visits), acd_config())
        self.now = START
        self.out: list[sb.Command | sb.TimerFired] = []

    def feed(self, event: sb.Event, after: float = 0.0) -> list[sb.Command]:
        self.now += after
        if isinstance(event, sb.TimerFired):
            self.out.append(event)
        commands = self.board.handle(event, self.now)
        self.out += commands
        return commands

    def due(self, call: str = "c-v1", ticket: str = "T-1", summary: str = "路灯不亮") -> sb.DialOut:
        commands = self.feed(sb.VisitDue(sb.CallId(call), ticket, CITIZEN, "satisfaction", summary))
        (dial,) = [c for c in commands if isinstance(c, sb.DialOut)]
        return dial

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [c for c in self.out if isinstance(c, kind)]

    def plays(self) -> list[sb.Play]:
        return self.of(sb.Play)

    def finish_playback(self, after: float = 1.0) -> None:
        self.feed(sb.PlaybackFinished(self.plays()[-1].playback), after)

    def result(self) -> sb.RecordVisitResult:
        (result,) = self.of(sb.RecordVisitResult)
        return result

    def login(self, agent: str) -> None:
        self.feed(sb.AgentRequest(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(f"s{agent}"))))
        self.feed(sb.AgentRequest(acd.AgentReady(acd.AgentId(agent))))

    def assert_quiet(self) -> None:
        assert not self.board.revisits.calls()
        armed: set[sb.TimerKey] = set()
        for c in self.out:
            if isinstance(c, sb.StartTimer) and isinstance(c.key, sb.CallTimer):
                armed.add(c.key)
            elif isinstance(c, sb.CancelTimer | sb.TimerFired):
                armed.discard(c.key)
        assert not armed, f"timers left armed: {sorted(map(repr, armed))}"


def answered(d: Drive) -> sb.DialOut:
    dial = d.due()
    d.feed(sb.OutboundAnswered(dial.leg, dial.call_id), 3.0)
    return dial


def test_the_citizen_is_dialled_from_the_presented_number() -> None:
    d = Drive()
    dial = d.due()
    assert dial.endpoint == f"PJSIP/{CITIZEN}@carrier"
    assert dial.caller_id == "12345"
    assert dial.timeout_s == 20
    assert dial.app_args == ("revisit", "c-v1", "T-1")
    assert ("HOTLINE_CALL_ID", "c-v1") in dial.variables
    assert d.board.revisits.lines == 1
    # The same visit handed over twice places one call.
    d.feed(sb.VisitDue(sb.CallId("c-v1"), "T-1", CITIZEN, "satisfaction"))
    assert len(d.of(sb.DialOut)) == 1


def test_answered_notice_survey_answer_and_a_polite_end() -> None:
    d = Drive()
    dial = answered(d)
    assert d.plays()[-1].media == ("visit_notice",)
    d.finish_playback()
    assert d.plays()[-1].media == ("survey_question",)
    d.feed(sb.DtmfReceived(dial.leg, "2"), 2.0)
    result = d.result()
    assert (result.ticket_id, result.outcome, result.fallback) == ("T-1", "reached", None)
    assert result.answers == (("satisfaction", "2"),)
    assert result.agent is None
    assert d.plays()[-1].media == ("thanks",)
    assert not d.of(sb.HangUp), "the thanks are heard before the hang-up"
    d.finish_playback()
    assert d.of(sb.HangUp) == [sb.HangUp(dial.call_id, dial.leg, "normal")]
    d.feed(sb.ChannelLeft(dial.leg))
    assert len(d.of(sb.RecordVisitResult)) == 1
    d.assert_quiet()
    assert d.board.revisits.lines == 0


def test_a_key_off_the_scale_asks_again_then_the_answer_counts() -> None:
    d = Drive()
    dial = answered(d)
    d.finish_playback()
    d.feed(sb.DtmfReceived(dial.leg, "7"), 1.0)
    assert not d.of(sb.RecordVisitResult)
    d.feed(sb.DtmfReceived(dial.leg, "1"), 1.0)
    assert d.result().answers == (("satisfaction", "1"),)


@pytest.mark.parametrize(
    ("verdict", "outcome"),
    [
        (sb.LegDialed(sb.ChannelId("c-v1-v1"), sb.DialStatus.BUSY), "busy"),
        (sb.LegDialed(sb.ChannelId("c-v1-v1"), sb.DialStatus.NOANSWER), "no_answer"),
        (sb.ChannelLeft(sb.ChannelId("c-v1-v1"), 19), "no_answer"),
        (sb.ChannelLeft(sb.ChannelId("c-v1-v1"), 17), "busy"),
        (sb.OriginateFailed(sb.ChannelId("c-v1-v1"), "404 endpoint"), "no_answer"),
    ],
)
def test_not_reached_is_an_attempt(verdict: sb.Event, outcome: str) -> None:
    d = Drive()
    dial = d.due()
    assert dial.leg == "c-v1-v1"
    d.feed(verdict, 5.0)
    result = d.result()
    assert (result.outcome, result.fallback, result.answers) == (outcome, None, ())
    if isinstance(verdict, sb.LegDialed):
        # create_then_dial_answer_busy_timeout.jsonl: a busy leg stays until hung up.
        assert d.of(sb.HangUp) == [sb.HangUp(dial.call_id, dial.leg, "normal")]
    d.assert_quiet()
    # Late events about the leg change nothing.
    d.feed(sb.OutboundAnswered(dial.leg, dial.call_id))
    d.feed(sb.ChannelLeft(dial.leg))
    assert len(d.of(sb.RecordVisitResult)) == 1


def test_a_dial_that_never_says_anything_is_given_up() -> None:
    d = Drive()
    dial = d.due()
    (guard,) = [c for c in d.of(sb.StartTimer) if isinstance(c.key, sb.CallTimer)]
    assert guard.at > d.now + VISITS.ring_s
    d.feed(sb.TimerFired(guard.key, guard.at), guard.at - d.now)
    assert d.result().outcome == "no_answer"
    assert sb.HangUp(dial.call_id, dial.leg, "normal") in d.out
    d.assert_quiet()


def test_the_refuse_key_hands_the_visit_to_the_agents() -> None:
    d = Drive()
    dial = answered(d)
    d.feed(sb.DtmfReceived(dial.leg, "9"), 1.0)  # during the notice
    result = d.result()
    assert (result.outcome, result.fallback) == ("refused", "refused")
    assert any(isinstance(c, sb.StopPlayback) for c in d.out), "the notice stops"
    assert d.plays()[-1].media == ("goodbye",)
    d.finish_playback()
    assert sb.HangUp(dial.call_id, dial.leg, "normal") in d.out
    d.assert_quiet()


def test_no_answer_to_the_question_hands_the_visit_to_the_agents() -> None:
    d = Drive()
    dial = answered(d)
    d.finish_playback()  # the notice
    d.finish_playback()  # the question: the answer timer runs
    (timer,) = [
        c for c in d.of(sb.StartTimer)
        if isinstance(c.key, sb.CallTimer) and c.key.kind is sb.CallTimerKind.SURVEY
    ]  # fmt: skip
    d.feed(sb.TimerFired(timer.key, timer.at), timer.at - d.now)
    result = d.result()
    assert (result.outcome, result.fallback, result.answers) == ("reached", "no_input", ())
    d.finish_playback()  # the survey's goodbye
    assert sb.HangUp(dial.call_id, dial.leg, "normal") in d.out
    d.assert_quiet()


def test_a_citizen_who_hangs_up_before_answering_goes_to_the_agents() -> None:
    d = Drive()
    dial = answered(d)
    d.feed(sb.ChannelLeft(dial.leg), 2.0)
    result = d.result()
    assert (result.outcome, result.fallback) == ("reached", "hung_up")
    assert not d.of(sb.HangUp)
    d.assert_quiet()


def test_the_agent_key_queues_the_citizen_to_a_person_with_the_ticket() -> None:
    d = Drive()
    d.login("1001")
    dial = answered(d)
    d.finish_playback()  # the notice; the question plays
    commands = d.feed(sb.DtmfReceived(dial.leg, "0"), 1.0)
    offer = next(c for c in commands if isinstance(c, sb.OriginateAgent))
    assert offer.agent == "1001"
    assert not d.of(sb.RecordVisitResult), "the result waits for the person"
    call = d.board.call(dial.call_id)
    assert call is not None
    f = call.facts
    assert f.caller_channel == dial.leg and f.caller_number == CITIZEN
    assert f.tags == {"callback": "1", "return_visit": "T-1", "ticket_summary": "路灯不亮"}
    assert f.priority == 0 and f.queue == "general"
    view = d.board.distributor.call_view(acd.CallId(dial.call_id))
    assert view is not None and view.priority == 2  # the callback class
    assert d.board.revisits.lines == 1

    d.feed(sb.AgentLegAnswered(offer.leg, dial.call_id, acd.AgentId("1001")), 4.0)
    assert any(isinstance(c, sb.AddToBridge) for c in d.out)
    d.feed(sb.ChannelLeft(dial.leg), 60.0)  # the citizen hangs up after talking
    result = d.result()
    assert (result.outcome, result.agent, result.fallback) == ("reached", "1001", None)
    assert result.recording == f.recording
    assert d.board.revisits.lines == 0
    assert d.board.call(dial.call_id) is None


def test_asked_for_a_person_and_left_before_one_answered() -> None:
    d = Drive()  # nobody logged in
    dial = answered(d)
    d.feed(sb.DtmfReceived(dial.leg, "0"), 1.0)
    d.feed(sb.ChannelLeft(dial.leg), 30.0)
    result = d.result()
    assert (result.outcome, result.fallback) == ("reached", "asked_for_agent")


def test_without_visit_settings_no_call_is_placed() -> None:
    d = Drive()
    d.board = sb.Switchboard(flow_config(), acd_config())
    assert not d.feed(sb.VisitDue(sb.CallId("c-x"), "T-9", CITIZEN, "satisfaction"))


def test_pacing_reads_the_lines_the_trunk_and_the_callers_waiting() -> None:
    d = Drive()
    policy = cb.VisitPolicy(max_lines=2, slow_down_waiting=2)
    assert load(d.board, None) == cb.Load(0, 0, 0, None)
    assert cb.dialler_slots(load(d.board, None), policy) == 2
    d.due()
    assert load(d.board, 4) == cb.Load(0, 0, 1, 3)
    assert cb.dialler_slots(load(d.board, 4), policy) == 1  # max_lines
    # A caller waits (nobody logged in): one more at most, and the trunk counts them.
    d.feed(sb.CallerArrived(sb.CallId("c-in"), sb.ChannelId("ch-in"), DIRECT, "13700000000"))
    assert load(d.board, 4) == cb.Load(0, 1, 1, 2)
    assert cb.dialler_slots(load(d.board, 2), cb.VisitPolicy(max_lines=4)) == 0  # trunk full
    assert cb.dialler_slots(load(d.board, None), cb.VisitPolicy(max_lines=4)) == 1
    d.feed(sb.CallerArrived(sb.CallId("c-in2"), sb.ChannelId("ch-in2"), DIRECT, "13700000001"))
    assert cb.dialler_slots(load(d.board, None), policy) == 0  # slow_down_waiting reached
    d.login("1001")
    assert load(d.board, None).inbound_waiting == 1  # one of them is offered to 1001


def test_a_leg_vanished_while_the_link_was_down_ends_the_visit_call() -> None:
    d = Drive()
    dial = answered(d)
    assert dial.leg in d.board.channels()  # reconciliation knows the citizen's leg
    d.feed(sb.ChannelsVanished(frozenset({dial.leg})), 5.0)
    assert d.result().fallback == "hung_up"
    assert dial.leg not in d.board.channels()
    d.assert_quiet()


# Mostly answered calls (the interesting ones), then anything in any order.
STEPS = st.tuples(
    st.sampled_from([["answer"], ["answer", "playback"], []]),
    st.lists(
        st.sampled_from(
            ["answer", "busy", "no_answer", "refused", "left", "key", "key", "playback",
             "playback", "timer", "agent"]
        ),
        max_size=12,
    ),
).map(lambda pair: pair[0] + pair[1])  # fmt: skip
# The survey's keys (1-3), the agent and refuse keys, and keys that mean nothing.
KEYS = st.lists(st.sampled_from("1123099*5"), min_size=14, max_size=14)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, keys=KEYS)
def test_whatever_happens_one_result_and_nothing_left_behind(
    steps: list[str], keys: list[str]
) -> None:
    """Any order of the far end's, the media's and the clock's events (one dial verdict
    at most, as the shell reports them): at most one result while the call lasts, exactly
    one once it is over, and no timer, playback or leg left."""
    d = Drive()
    dial = d.due()
    answered = False
    for i, step in enumerate(steps):
        match step:
            case "answer" if not answered:
                answered = True
                d.feed(sb.OutboundAnswered(dial.leg, dial.call_id), 1.0)
            case "busy" | "no_answer" | "refused" if answered:
                pass  # the shell reports one verdict per dial (DialOuts): none after the answer
            case "busy" | "no_answer":
                status = sb.DialStatus.BUSY if step == "busy" else sb.DialStatus.NOANSWER
                d.feed(sb.LegDialed(dial.leg, status), 1.0)
            case "refused":
                d.feed(sb.OriginateFailed(dial.leg, "refused"), 1.0)
            case "left":
                d.feed(sb.ChannelLeft(dial.leg), 1.0)
            case "key":
                d.feed(sb.DtmfReceived(dial.leg, keys[i]), 1.0)
            case "playback" if d.plays():
                d.feed(sb.PlaybackFinished(d.plays()[-1].playback), 1.0)
            case "timer":
                armed = [c for c in d.out if isinstance(c, sb.StartTimer)]
                if armed:
                    d.feed(sb.TimerFired(armed[-1].key, armed[-1].at), 1.0)
            case "agent":
                d.login("1001")
        assert len(d.of(sb.RecordVisitResult)) <= 1
    # The citizen hangs up at last; whoever is still talking to them ends too.
    d.feed(sb.ChannelLeft(dial.leg), 1.0)
    for offer in d.of(sb.OriginateAgent):
        d.feed(sb.ChannelLeft(offer.leg), 1.0)
    assert len(d.of(sb.RecordVisitResult)) == 1
    assert d.board.revisits.lines == 0
    assert not d.board.calls()
    d.assert_quiet()
