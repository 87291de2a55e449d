"""Transfer plans without I/O: the order of commands, the whole matrix of outcomes x
moments, and invariants under random event orders (Hypothesis)."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transfer as tr
from tests.transfer_support import EVENTS, LEG, T0, TARGETS, World, kinds, plan_for

pytestmark = pytest.mark.transfer

C, A, K = tr.Party.CALLER, tr.Party.AGENT, tr.Party.CONSULTEE
TARGET = TARGETS["line"]


# ---------------------------------------------------------------- the order of commands


def test_three_way_call_then_the_agent_drops_out() -> None:
    world = World(plan_for("three_way"))
    assert world.start() == [
        tr.Timeline(
            "transfer_started",
            {
                "leg": LEG,
                "target": "12319",
                "mode": "three_way",
                "kind": "three_way",
                "target_kind": "line",
                "label": "数字城管",
            },
        ),
        tr.Originate(LEG, TARGET, 30.0),
        tr.StartTimer(T0 + dt.timedelta(seconds=35)),
    ]
    # While the consultee rings, caller and agent keep talking: nothing moves.
    assert world.caller_bridged and world.agent_bridged and not world.caller_held
    assert world.feed("answer") == [
        tr.CancelTimer(),
        tr.Timeline("consultee_answered", {"leg": LEG, "target": "12319"}),
        tr.Bridge((K,)),
        tr.Timeline("conference", {"leg": LEG, "target": "12319"}),
    ]
    assert world.plan.state is tr.State.CONFERENCE
    assert kinds(world.feed("complete", seconds=20)) == [
        "Timeline",
        "ReleaseAgent",
        "HandOver",
        "Timeline",
    ]
    assert world.plan.state is tr.State.HANDED_OVER and world.plan.outcome is None
    # The leg goes on after the hand-off; it ends, completed, when the consultee leaves.
    assert kinds(world.feed("consultee_hangup", seconds=60)) == [
        "Timeline",
        "AfterHandOver",
        "LegEnded",
    ]
    (leg,) = world.legs
    assert leg.as_dict() == {
        "kind": "three_way",
        "target": "12319",
        "started_by": "1003",
        "started_at": T0.isoformat(),
        "outcome": "completed",
        "duration_s": 81.0,
        "presented": "",
    }
    world.check()


def test_attended_transfer_holds_the_caller_while_consulting() -> None:
    world = World(plan_for("attended", "number"))
    assert kinds(world.start()) == ["Timeline", "Unbridge", "Hold", "Originate", "StartTimer"]
    assert world.commands[1:3] == [tr.Unbridge(C), tr.Hold(C)]
    assert world.feed("answer")[2] == tr.Bridge((K,))
    assert world.plan.state is tr.State.CONSULTING
    assert world.caller_held and not world.caller_bridged
    assert world.feed("join") == [
        tr.Unhold(C),
        tr.Bridge((C,)),
        tr.Timeline("conference", {"leg": LEG, "target": "85595599"}),
    ]
    world.check()


def test_attended_transfer_cancelled_takes_the_caller_back() -> None:
    world = World(plan_for("attended", "number"))
    world.start()
    world.feed("answer")
    assert world.feed("cancel", seconds=5) == [
        tr.Hangup(K),
        tr.Timeline("transfer_cancelled", {"leg": LEG, "target": "85595599", "reason": "agent"}),
        tr.Unhold(C),
        tr.Bridge((C,)),
        tr.LegEnded(
            tr.LegRecord(tr.LegKind.ATTENDED, "85595599", "1003", T0, tr.Outcome.CANCELLED, 6.0)
        ),
    ]
    assert world.releases == 0
    world.check()


def test_blind_transfer_releases_the_agent_before_dialling() -> None:
    world = World(plan_for("blind", "number"))
    commands = world.start()
    assert kinds(commands) == [
        "Timeline",
        "Unbridge",
        "Hold",
        "Timeline",
        "ReleaseAgent",
        "Originate",
        "StartTimer",
    ]
    assert commands[3] == tr.Timeline(
        "agent_left", {"leg": LEG, "target": "85595599", "reason": "blind"}
    )
    assert world.plan.state is tr.State.RINGING_ALONE
    assert kinds(world.feed("answer")) == [
        "CancelTimer",
        "Timeline",
        "Unhold",
        "Bridge",
        "HandOver",
        "Timeline",
    ]
    assert world.commands[-3] == tr.Bridge((C, K))
    world.check()


def test_a_failed_blind_transfer_sends_the_caller_back_to_the_queue() -> None:
    world = World(plan_for("blind", "number"))
    world.start()
    commands = world.feed("busy")
    assert kinds(commands) == ["CancelTimer", "Timeline", "Notify", "LegEnded", "Requeue"]
    assert world.notices == [tr.Notify("consultee_failed", "busy")]
    assert world.plan.outcome is tr.Outcome.BUSY
    world.check()


def test_emergency_one_key_transfer_is_an_emergency_leg() -> None:
    world = World(plan_for("blind", "emergency"))
    world.start()
    world.feed("answer")
    world.feed("caller_hangup", seconds=30)
    (leg,) = world.legs
    assert (leg.kind, leg.target, leg.outcome) == (
        tr.LegKind.EMERGENCY,
        "110",
        tr.Outcome.COMPLETED,
    )
    assert world.commands[-2] == tr.Hangup(K), "the consultee leg goes with the caller"
    world.check()


def test_blind_transfer_to_a_queue() -> None:
    world = World(plan_for("blind", "queue"))
    assert kinds(world.start()) == ["Timeline", "Timeline", "SendToQueue"]
    assert world.plan.state is tr.State.IN_QUEUE and world.plan.agent_released
    world.feed("queue_answer", seconds=12)
    assert world.plan.outcome is tr.Outcome.COMPLETED and world.legs[0].duration_s == 12.0
    world.check()
    abandoned = World(plan_for("blind", "queue"))
    abandoned.start()
    abandoned.feed("caller_hangup")
    assert abandoned.plan.outcome is tr.Outcome.NO_ANSWER


@pytest.mark.parametrize("mode", ["attended", "three_way"])
def test_a_queue_takes_blind_transfers_only(mode: str) -> None:
    with pytest.raises(tr.RequestRefused) as refused:
        plan_for(mode, "queue")
    assert refused.value.code == "bad_mode"


def test_a_colleague_who_answers_takes_the_call_over() -> None:
    world = World(plan_for("attended", "agent"))
    world.start()
    world.feed("answer")
    commands = world.feed("complete")
    assert kinds(commands) == [
        "Unhold",
        "Bridge",
        "Timeline",
        "ReleaseAgent",
        "TakeOver",
        "Timeline",
        "LegEnded",
    ]
    assert tr.TakeOver("1004") in commands
    assert world.plan.outcome is tr.Outcome.COMPLETED
    world.check()


def test_three_way_from_hold_brings_the_caller_back_first() -> None:
    world = World(plan_for("three_way", held=True), held=True)
    assert world.start()[1:3] == [tr.Unhold(C), tr.Bridge((C,))]
    world.check()


def test_a_late_answer_is_hung_up() -> None:
    world = World(plan_for("three_way"))
    world.start()
    world.feed("cancel")
    assert world.feed("answer") == [tr.Hangup(K)]
    world.check()


def test_a_plan_is_started_once_and_fed_only_after_start() -> None:
    plan = plan_for("three_way")
    with pytest.raises(tr.IllegalTransition):
        plan.handle(tr.ConsulteeAnswered(), T0)
    plan.start(T0)
    with pytest.raises(tr.IllegalTransition):
        plan.start(T0)


# ---------------------------------------------------------------- the matrix

# Where a plan can stand (its "moment"), reached from start by these events.
MOMENTS: dict[tuple[str, str], list[str]] = {
    ("blind", "ringing_alone"): [],
    ("blind", "handed_over"): ["answer"],
    ("attended", "ringing"): [],
    ("attended", "consulting"): ["answer"],
    ("attended", "conference"): ["answer", "join"],
    ("attended", "handed_over"): ["answer", "complete"],
    ("attended", "ringing_alone"): ["agent_hangup"],
    ("three_way", "ringing"): [],
    ("three_way", "conference"): ["answer"],
    ("three_way", "handed_over"): ["answer", "complete"],
    ("three_way", "ringing_alone"): ["agent_hangup"],
}
MOMENT_STATE = {
    "ringing": tr.State.DIALING,
    "ringing_alone": tr.State.RINGING_ALONE,
    "consulting": tr.State.CONSULTING,
    "conference": tr.State.CONFERENCE,
    "handed_over": tr.State.HANDED_OVER,
}
STALE = "stale"  # a softswitch fact that no longer matters: no commands, no change

# (moment, event) -> (state after, leg outcome) | "refused:<code>" | STALE
FAILS = {"busy": "busy", "no_answer": "no_answer", "failed": "failed", "timeout": "no_answer"}
EXPECTED: dict[tuple[str, str], object] = {
    **{("ringing", ev): ("done", out) for ev, out in FAILS.items()},
    ("ringing", "consultee_hangup"): ("done", "failed"),
    ("ringing", "caller_hangup"): ("done", "cancelled"),
    ("ringing", "agent_hangup"): ("ringing_alone", None),
    ("ringing", "cancel"): ("done", "cancelled"),
    ("ringing", "join"): "refused:not_answered",
    ("ringing", "complete"): "refused:not_answered",
    ("ringing_alone", "answer"): ("handed_over", None),
    **{("ringing_alone", ev): ("done", out) for ev, out in FAILS.items()},
    ("ringing_alone", "consultee_hangup"): ("done", "failed"),
    ("ringing_alone", "caller_hangup"): ("done", "cancelled"),
    ("ringing_alone", "join"): "refused:agent_gone",
    ("ringing_alone", "complete"): "refused:agent_gone",
    ("ringing_alone", "cancel"): "refused:agent_gone",
    ("consulting", "consultee_hangup"): ("done", "cancelled"),
    ("consulting", "caller_hangup"): ("done", "cancelled"),
    ("consulting", "agent_hangup"): ("handed_over", None),
    ("consulting", "join"): ("conference", None),
    ("consulting", "complete"): ("handed_over", None),
    ("consulting", "cancel"): ("done", "cancelled"),
    ("conference", "consultee_hangup"): ("done", "stayed"),
    ("conference", "caller_hangup"): ("done", "stayed"),
    ("conference", "agent_hangup"): ("handed_over", None),
    ("conference", "complete"): ("handed_over", None),
    ("conference", "cancel"): ("done", "stayed"),
    ("conference", "join"): "refused:not_allowed",
    ("handed_over", "consultee_hangup"): ("done", "completed"),
    ("handed_over", "caller_hangup"): ("done", "completed"),
    ("handed_over", "join"): "refused:agent_gone",
    ("handed_over", "complete"): "refused:agent_gone",
    ("handed_over", "cancel"): "refused:agent_gone",
}
ANSWER_WHILE_RINGING = {"attended": ("consulting", None), "three_way": ("conference", None)}


def _expected(mode: str, moment: str, event: str) -> object:
    if (moment, event) == ("ringing", "answer"):
        return ANSWER_WHILE_RINGING[mode]
    return EXPECTED.get((moment, event), STALE)


# A colleague who answers takes the call over, so no colleague plan is ever handed over.
MATRIX = [
    (mode, moment, event, target)
    for (mode, moment) in MOMENTS
    for event in EVENTS
    for target in ("line", "agent")
    if (target, moment) != ("agent", "handed_over")
]


@pytest.mark.parametrize(("mode", "moment", "event", "target"), MATRIX)
def test_matrix_of_outcomes_and_moments(mode: str, moment: str, event: str, target: str) -> None:
    world = World(plan_for(mode, target))
    world.start()
    for step in MOMENTS[(mode, moment)]:
        world.feed(step)
        world.check()
    assert world.plan.state is MOMENT_STATE[moment]
    expected = _expected(mode, moment, event)
    before = (world.plan.state, len(world.commands))
    if isinstance(expected, str) and expected.startswith("refused:"):
        with pytest.raises(tr.RequestRefused) as refused:
            world.feed(event)
        assert refused.value.code == expected.removeprefix("refused:")
        assert (world.plan.state, len(world.commands)) == before, "a refusal changes nothing"
        return
    commands = world.feed(event)
    world.check()
    if expected == STALE:
        assert commands == [] and world.plan.state is before[0]
        return
    assert isinstance(expected, tuple)
    state, outcome = expected
    if target == "agent" and state == "handed_over":
        # A colleague takes the call over instead of a hand-off: the plan is done.
        assert tr.TakeOver("1004") in commands
        state, outcome = "done", "completed"
    assert world.plan.state.value == state
    assert (world.plan.outcome.value if world.plan.outcome else None) == outcome
    if state == "done" and event in FAILS:
        assert world.notices[-1] == tr.Notify("consultee_failed", FAILS[event])


def test_the_matrix_covers_every_state_a_consultee_leg_can_be_in() -> None:
    reached = {MOMENT_STATE[moment] for (_, moment) in MOMENTS}
    assert reached | {tr.State.NEW, tr.State.IN_QUEUE, tr.State.DONE} == set(tr.State)


def test_transition_table_is_closed() -> None:
    for state, targets in tr.TRANSITIONS.items():
        assert targets <= set(tr.State), state
        assert state in tr.PUBLIC_STATE
    assert tr.TRANSITIONS[tr.State.DONE] == frozenset()


# ---------------------------------------------------------------- random orders

event_names = st.sampled_from(sorted(EVENTS))


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(["blind", "attended", "three_way"]),
    target=st.sampled_from(["line", "number", "emergency", "agent"]),
    held=st.booleans(),
    events=st.lists(event_names, max_size=12),
)
def test_invariants_hold_for_any_order_of_events(
    mode: str, target: str, held: bool, events: list[str]
) -> None:
    world = World(plan_for(mode, target, held=held), held=held)
    world.start()
    world.check()
    for name in events:
        with contextlib.suppress(tr.RequestRefused):
            world.feed(name)
        world.check()
    # Whatever happened, the caller leaving ends the plan with one leg record.
    if not world.plan.done and world.caller_up:
        world.feed("caller_hangup")
        world.check()
    if world.plan.state is not tr.State.DONE:
        assert world.plan.state is tr.State.HANDED_OVER and not world.caller_up
    else:
        assert world.plan.outcome in set(tr.Outcome)


@settings(max_examples=100, deadline=None)
@given(events=st.lists(event_names, max_size=8))
def test_queue_transfer_invariants(events: list[str]) -> None:
    world = World(plan_for("blind", "queue"))
    world.start()
    for name in events:
        with contextlib.suppress(tr.RequestRefused):
            world.feed(name)
        world.check()
    assert world.releases == 1


def test_a_parallel_line_extension_is_keyed_once_it_answers() -> None:
    line = tr.Target(tr.TargetKind.LINE, "12366", "PJSIP/12366@carrier", "纳税服务热线", "2")
    plan = tr.TransferPlan(LEG, tr.Mode.THREE_WAY, line, "1003", ring_timeout_s=30.0)
    plan.start(T0)
    commands = plan.handle(tr.ConsulteeAnswered(), T0)
    keyed = commands.index(tr.SendDigits(K, "2"))
    assert keyed < commands.index(tr.Bridge((K,)))
