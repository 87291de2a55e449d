"""Queues and callers: strategies, priorities, relaxation, ring-all, overflow, announcements."""

from __future__ import annotations

from collections import Counter

import pytest

from acd import (
    AcdConfig,
    AddToCallbackList,
    AgentId,
    Announce,
    CallConnected,
    CallEnded,
    CallerHungUp,
    CallerLeft,
    CallId,
    CancelOffer,
    ConnectCall,
    LeaveReason,
    OfferAnswered,
    OfferCall,
    OfferRejected,
    OfferTimedOut,
    Overflow,
    OverflowAction,
    OverflowReason,
    OverflowRule,
    Phase,
    PriorityRules,
    QueueConfig,
    QueueId,
    RejectReason,
    SeatId,
    Strategy,
    TimerFired,
    TimerKey,
    TimerKind,
)
from tests.acd_support import Shell, agent, of_type, offered_to, queue

pytestmark = pytest.mark.acd


def centre(*queues: QueueConfig, agents: tuple[object, ...] = (), n: int = 3) -> Shell:
    ags = agents or tuple(agent(f"a{i}") for i in range(1, n + 1))
    return Shell(AcdConfig(queues=queues or (queue("q"),), agents=ags))  # type: ignore[arg-type]


def serve(s: Shell, call: str, agent_id: str, talk: float = 10.0) -> None:
    """Answer, talk for ``talk`` seconds, hang up (queues in these tests have no wrap-up)."""
    s.answer(call, agent_id)
    s.send(CallEnded(CallId(call)), now=s.now + talk)


def phase(s: Shell, call: str) -> Phase | None:
    view = s.acd.call_view(CallId(call))
    return None if view is None else view.phase


# ---------------------------------------------------------------- strategies


def test_ring_all_is_not_the_default_strategy() -> None:
    assert QueueConfig(QueueId("q")).strategy is Strategy.LONGEST_IDLE


def test_longest_idle_agent_first() -> None:
    s = centre(queue("q", wrapup_s=0))
    s.login("a2")
    s.send(CallEnded(CallId("none")), now=1)  # stale: nothing happens
    s.login("a1")
    s.send(CallEnded(CallId("none")), now=2)
    s.login("a3")
    assert offered_to(s.arrive("c1")) == ["a2"]
    serve(s, "c1", "a2")  # a2 idle again since t=12
    assert offered_to(s.arrive("c2")) == ["a1"]
    assert offered_to(s.arrive("c3")) == ["a3"]
    assert offered_to(s.arrive("c4")) == ["a2"]


def test_fewest_calls_today_first() -> None:
    s = centre(queue("q", wrapup_s=0, strategy=Strategy.FEWEST_CALLS))
    s.login("a1", "a2", "a3")
    for call in ("c1", "c2"):
        s.arrive(call)
    serve(s, "c1", "a1")
    serve(s, "c2", "a2")
    s.arrive("c3")  # a3 has 0 calls
    serve(s, "c3", "a3")
    s.arrive("c4")  # all have 1 call: the longest idle of them, a1
    serve(s, "c4", "a1")
    assert offered_to(s.arrive("c5")) == ["a2"]


def test_least_talk_time_first() -> None:
    s = centre(queue("q", wrapup_s=0, strategy=Strategy.LEAST_TALK_TIME))
    s.login("a1", "a2", "a3")
    for call in ("c1", "c2", "c3"):
        s.arrive(call)
    serve(s, "c1", "a1", talk=100)
    serve(s, "c2", "a2", talk=30)
    serve(s, "c3", "a3", talk=60)
    assert offered_to(s.arrive("c4")) == ["a2"]


def test_round_robin_remembers_where_it_left_off() -> None:
    s = centre(queue("q", wrapup_s=0, strategy=Strategy.ROUND_ROBIN))
    s.login("a1", "a2", "a3")
    order = []
    for i in range(5):
        out = s.arrive(f"c{i}")
        order += offered_to(out)
        serve(s, f"c{i}", order[-1], talk=1)
    assert order == ["a1", "a2", "a3", "a1", "a2"]


def test_round_robin_skips_busy_agents_and_wraps() -> None:
    s = centre(queue("q", wrapup_s=0, strategy=Strategy.ROUND_ROBIN))
    s.login("a1", "a2", "a3")
    assert offered_to(s.arrive("c1")) == ["a1"]
    assert offered_to(s.arrive("c2")) == ["a2"]
    s.answer("c2", "a2")
    serve(s, "c1", "a1", talk=1)
    assert offered_to(s.arrive("c3")) == ["a3"]
    assert offered_to(s.arrive("c4")) == ["a1"], "a2 is talking: wrap to a1"


def test_ordered_strategy_goes_top_down_by_skill_level() -> None:
    s = centre(
        queue("q", {"tax": 1}, wrapup_s=0, strategy=Strategy.ORDERED),
        agents=(agent("a1", {"tax": 3}), agent("a2", {"tax": 9}), agent("a3", {"tax": 5})),
    )
    s.login("a1", "a2", "a3")
    assert offered_to(s.arrive("c1")) == ["a2"]
    assert offered_to(s.arrive("c2")) == ["a3"]
    assert offered_to(s.arrive("c3")) == ["a1"]


def test_random_strategy_is_seeded_and_spreads_calls() -> None:
    def picks(seed: int) -> list[str]:
        s = Shell(
            AcdConfig(
                queues=(queue("q", wrapup_s=0, strategy=Strategy.RANDOM),),
                agents=tuple(agent(f"a{i}") for i in range(1, 5)),
                random_seed=seed,
            )
        )
        s.login("a1", "a2", "a3", "a4")
        chosen = []
        for i in range(40):
            chosen += offered_to(s.arrive(f"c{i}"))
            serve(s, f"c{i}", chosen[-1], talk=1)
        return chosen

    first = picks(7)
    assert first == picks(7)
    assert first != picks(8)
    assert set(Counter(first)) == {"a1", "a2", "a3", "a4"}


def test_ring_all_first_answer_wins_and_the_others_ring_until_connected() -> None:
    s = centre(queue("q", strategy=Strategy.RING_ALL))
    s.login("a1", "a2", "a3")
    assert offered_to(s.arrive("c1")) == ["a1", "a2", "a3"]
    out = s.send(OfferAnswered(CallId("c1"), AgentId("a2")), now=2)
    assert of_type(out, ConnectCall) == [
        ConnectCall(CallId("c1"), AgentId("a2"), SeatId("seat-a2"))
    ]
    assert not of_type(out, CancelOffer), "the others ring on until the bridge is up"
    out = s.send(OfferAnswered(CallId("c1"), AgentId("a3")), now=2.1)
    assert out[0] == CancelOffer(CallId("c1"), AgentId("a3"), SeatId("seat-a3")), (
        "second answer loses"
    )
    out = s.send(CallConnected(CallId("c1"), AgentId("a2")), now=2.2)
    assert of_type(out, CancelOffer) == [
        CancelOffer(CallId("c1"), AgentId("a1"), SeatId("seat-a1"))
    ]
    assert phase(s, "c1") is Phase.CONNECTED


def test_ring_all_winner_lost_before_the_bridge_leaves_the_other_legs_ringing() -> None:
    """app_queue's race: an agent who answers and hangs up before the bridge must not end the hunt."""
    s = centre(queue("q", strategy=Strategy.RING_ALL))
    s.login("a1", "a2", "a3")
    s.arrive("c1")
    s.send(OfferAnswered(CallId("c1"), AgentId("a1")), now=1)
    out = s.send(OfferRejected(CallId("c1"), AgentId("a1"), RejectReason.FAILED), now=1.5)
    assert not of_type(out, CancelOffer)
    assert phase(s, "c1") is Phase.OFFERED
    view = s.acd.call_view(CallId("c1"))
    assert view is not None and view.ringing == ("a2", "a3") and "a1" in view.excluded
    s.answer("c1", "a3")
    assert phase(s, "c1") is Phase.CONNECTED
    assert s.ringing == set(), "a2's leg was cancelled once a3 was connected"


def test_ring_all_all_legs_fail_then_the_caller_waits() -> None:
    s = centre(queue("q", strategy=Strategy.RING_ALL), n=2)
    s.login("a1", "a2")
    s.arrive("c1")
    s.send(OfferTimedOut(CallId("c1"), AgentId("a1")), now=15)
    assert phase(s, "c1") is Phase.OFFERED
    s.send(OfferTimedOut(CallId("c1"), AgentId("a2")))
    assert phase(s, "c1") is Phase.WAITING


# ---------------------------------------------------------------- priorities and FIFO


def test_fifo_within_a_priority_class() -> None:
    s = centre(n=1)
    s.login("a1")
    s.arrive("c0")
    s.answer("c0", "a1")
    for i, t in enumerate((1, 2, 3)):
        s.send(CallEnded(CallId("nothing")), now=t)
        s.arrive(f"c{i + 1}", number=f"1380000000{i}")
    s.send(CallEnded(CallId("c0")), now=10)
    out = s.advance(20)
    assert [(o.call_id, o.agent) for o in of_type(out, OfferCall)] == [("c1", "a1")]


def test_repeat_caller_within_24h_is_served_first_but_not_after() -> None:
    s = centre(n=1)
    s.login("a1")
    s.arrive("c0", number="13800138000")
    s.answer("c0", "a1")
    s.send(CallEnded(CallId("c0")), now=20)  # wrap-up until 30
    s.arrive("c1", number="13900000001")
    s.arrive("c2", number="13800138000")  # called before: repeat
    view = s.acd.call_view(CallId("c2"))
    assert view is not None and view.priority == 1
    out = s.advance(30)
    assert [o.call_id for o in of_type(out, OfferCall)] == ["c2"]
    later = 20 + 86_400 + 1
    s.send(CallerHungUp(CallId("c1")), now=later)
    s.arrive("c3", number="13900000001")  # c1 was more than 24 h ago
    view = s.acd.call_view(CallId("c3"))
    assert view is not None and view.priority == 0


def test_priority_classes_callback_tag_and_configured_numbers() -> None:
    rules = PriorityRules(repeat=1, tags={"callback": 2}, numbers={"12345678": 3})
    s = centre(queue("q", priority=rules), n=1)
    s.arrive("plain")
    s.arrive("cb", tags=frozenset({"callback"}))
    s.arrive("vip", number="12345678")
    s.arrive("forced", priority=5)
    s.arrive("rep", tags=frozenset({"repeat"}))
    prios = {c.call_id: c.priority for c in s.acd.call_views()}
    assert prios == {"plain": 0, "cb": 2, "vip": 3, "forced": 5, "rep": 1}
    out = s.login("a1")
    assert [o.call_id for o in of_type(out, OfferCall)] == ["forced"]


def test_waiting_time_carried_over_keeps_fifo_position() -> None:
    s = centre(n=1)
    s.send(CallEnded(CallId("x")), now=100)
    s.arrive("late")
    s.arrive("transferred", waited_so_far_s=30)
    out = s.login("a1")
    assert [o.call_id for o in of_type(out, OfferCall)] == ["transferred"]


def test_agent_takes_the_oldest_highest_priority_caller_across_its_queues() -> None:
    s = Shell(
        AcdConfig(
            queues=(queue("q1", {"x": 1}), queue("q2", {"y": 1}), queue("q3", {"z": 1})),
            agents=(agent("a1", {"x": 3, "y": 3}),),
        )
    )
    s.arrive("c1", "q1")
    s.send(CallEnded(CallId("x")), now=1)
    s.arrive("c2", "q2")
    s.arrive("c3", "q3", waited_so_far_s=60)  # oldest, but a1 cannot serve q3
    s.arrive("c4", "q2", priority=1)
    out = s.login("a1")
    assert [o.call_id for o in of_type(out, OfferCall)] == ["c4"]
    out = s.send(OfferRejected(CallId("c4"), AgentId("a1")), now=2)
    assert [o.call_id for o in of_type(out, OfferCall)] == ["c1"]


# ---------------------------------------------------------------- skills and relaxation


def test_skill_minimum_relaxes_as_the_caller_waits() -> None:
    s = Shell(
        AcdConfig(
            queues=(queue("q", {"tax": 5}, relax={"tax": [(20, 3), (40, 1)]}),),
            agents=(agent("junior", {"tax": 3}), agent("novice", {"tax": 1})),
        )
    )
    s.login("junior", "novice")
    assert offered_to(s.arrive("c1")) == []
    assert offered_to(s.advance(19.9)) == []
    out = s.advance(20)
    assert offered_to(out) == ["junior"]
    s.send(OfferRejected(CallId("c1"), AgentId("junior")), now=25)
    assert offered_to(s.advance(39.9)) == []
    assert offered_to(s.advance(40)) == ["novice"]


def test_multi_skill_queue_needs_every_skill() -> None:
    s = Shell(
        AcdConfig(
            queues=(queue("q", {"english": 3, "tax": 3}),),
            agents=(agent("a1", {"english": 9}), agent("a2", {"tax": 9, "english": 3})),
        )
    )
    s.login("a1", "a2")
    assert offered_to(s.arrive("c1")) == ["a2"]


# ---------------------------------------------------------------- overflow


@pytest.mark.parametrize(
    ("action", "target"),
    [
        (OverflowAction.CALLBACK, "callback-prompt"),
        (OverflowAction.VOICEMAIL, "mailbox-1"),
        (OverflowAction.PROMPT_HANGUP, "sorry-busy"),
    ],
)
def test_max_wait_overflow_releases_the_caller(action: OverflowAction, target: str) -> None:
    s = centre(queue("q", max_wait_s=60, overflow=OverflowRule(action, target)), n=0)
    s.arrive("c1", number="13800138000")
    out = s.advance(60)
    assert out[0] == Overflow(CallId("c1"), QueueId("q"), action, target, OverflowReason.MAX_WAIT)
    callbacks = of_type(out, AddToCallbackList)
    if action is OverflowAction.CALLBACK:
        assert callbacks == [AddToCallbackList(CallId("c1"), "13800138000", QueueId("q"), 60)]
    else:
        assert callbacks == []
    assert out[-1] == CallerLeft(CallId("c1"), QueueId("q"), LeaveReason.OVERFLOWED)
    assert s.acd.call_view(CallId("c1")) is None


def test_overflow_to_another_queue_keeps_waiting_time_and_priority() -> None:
    s = Shell(
        AcdConfig(
            queues=(
                queue(
                    "desk",
                    {"tax": 5},
                    max_wait_s=30,
                    overflow=OverflowRule(OverflowAction.QUEUE, "general"),
                ),
                queue("general", {"general": 5}, relax={"general": [(40, 1)]}),
            ),
            agents=(agent("a1", {"general": 2}),),
        )
    )
    s.login("a1")
    s.arrive("c1", "desk", priority=2)
    out = s.advance(30)
    assert out[0] == Overflow(
        CallId("c1"), QueueId("desk"), OverflowAction.QUEUE, "general", OverflowReason.MAX_WAIT
    )
    view = s.acd.call_view(CallId("c1"))
    assert view is not None and view.queue == "general" and view.priority == 2
    assert offered_to(out) == []
    out = s.advance(40)
    assert offered_to(out) == ["a1"], "relaxation counts the time waited in the first queue"


def test_max_length_overflows_the_next_arrival() -> None:
    s = centre(queue("q", max_length=2, overflow=OverflowRule(OverflowAction.VOICEMAIL, "vm")), n=0)
    s.arrive("c1")
    s.arrive("c2")
    out = s.arrive("c3")
    assert out == [
        Overflow(CallId("c3"), QueueId("q"), OverflowAction.VOICEMAIL, "vm", OverflowReason.FULL),
        CallerLeft(CallId("c3"), QueueId("q"), LeaveReason.OVERFLOWED),
    ]


def test_a_ringing_caller_overflows_only_if_the_offer_fails() -> None:
    s = centre(queue("q", max_wait_s=30, ring_timeout_s=20), n=1)
    s.arrive("c1")
    s.send(CallEnded(CallId("x")), now=25)
    s.login("a1")
    out = s.advance(30)
    assert not of_type(out, Overflow), "ringing at the deadline"
    out = s.advance(45)
    assert of_type(out, Overflow)[0].reason is OverflowReason.MAX_WAIT


def test_overflow_cycle_is_refused_by_the_configuration() -> None:
    from acd import ConfigError

    def to(t: str) -> OverflowRule:
        return OverflowRule(OverflowAction.QUEUE, t)

    with pytest.raises(ConfigError, match="cycle"):
        AcdConfig(queues=(queue("a", overflow=to("b")), queue("b", overflow=to("a"))))


# ---------------------------------------------------------------- announcements


def test_position_and_expected_wait_are_announced_at_intervals() -> None:
    s = centre(queue("q", announce_interval_s=30, default_handle_s=120), n=2)
    s.login("a1", "a2")
    s.arrive("busy1")
    s.arrive("busy2")
    s.answer("busy1", "a1")
    s.answer("busy2", "a2")
    s.send(CallEnded(CallId("x")), now=5)
    s.arrive("c1")
    s.send(CallEnded(CallId("x")), now=10)
    s.arrive("c2")
    out = s.advance(40)
    assert of_type(out, Announce) == [
        Announce(CallId("c1"), QueueId("q"), 1, 60.0),
        Announce(CallId("c2"), QueueId("q"), 2, 120.0),
    ]
    out = s.advance(65)
    assert of_type(out, Announce) == [Announce(CallId("c1"), QueueId("q"), 1, 60.0)]


def test_no_expected_wait_when_nobody_can_answer() -> None:
    s = centre(queue("q", announce_interval_s=10), n=0)
    s.arrive("c1")
    assert of_type(s.advance(10), Announce) == [Announce(CallId("c1"), QueueId("q"), 1, None)]


# ---------------------------------------------------------------- stale and racing events


def test_caller_hangs_up_while_ringing_then_a_late_answer_is_hung_up() -> None:
    s = centre(n=1)
    s.login("a1")
    s.arrive("c1")
    out = s.send(CallerHungUp(CallId("c1")), now=3)
    assert out[0] == CancelOffer(CallId("c1"), AgentId("a1"), SeatId("seat-a1"))
    assert CallerLeft(CallId("c1"), QueueId("q"), LeaveReason.ABANDONED) in out
    assert s.send(OfferAnswered(CallId("c1"), AgentId("a1"))) == [
        CancelOffer(CallId("c1"), AgentId("a1"), SeatId("seat-a1"))
    ]
    assert s.send(OfferTimedOut(CallId("c1"), AgentId("a1"))) == []
    assert s.send(CallerHungUp(CallId("c1"))) == []


def test_stale_timer_firing_is_ignored() -> None:
    s = centre(queue("q", wrapup_s=30), n=1)
    s.login("a1")
    s.arrive("c1")
    s.answer("c1", "a1")
    s.send(CallEnded(CallId("c1")), now=10)
    key = TimerKey(TimerKind.WRAPUP, "a1")
    assert s.send(TimerFired(key, 39.0)) == [], "not the armed deadline"
    assert s.send(TimerFired(TimerKey(TimerKind.RING, "a1"), 25.0)) == []
    assert len(s.send(TimerFired(key, 40.0), now=40)) == 1


def test_duplicate_arrival_and_unknown_queue() -> None:
    s = centre(n=0)
    s.arrive("c1")
    assert s.arrive("c1") == []
    assert s.arrive("c2", "nope") == [
        CallerLeft(CallId("c2"), QueueId("nope"), LeaveReason.REFUSED)
    ]


def test_transfer_to_an_unknown_queue_releases_the_caller() -> None:
    from acd import CallTransferredToQueue

    s = centre(n=1)
    s.login("a1")
    s.arrive("c1")
    s.answer("c1", "a1")
    out = s.send(CallTransferredToQueue(CallId("c1"), QueueId("nope")), now=5)
    assert CallerLeft(CallId("c1"), QueueId("q"), LeaveReason.REFUSED) in out
    assert s.acd.call_view(CallId("c1")) is None


def test_duplicate_answer_never_hangs_up_the_conversation() -> None:
    s = centre(n=1)
    s.login("a1")
    s.arrive("c1")
    s.send(OfferAnswered(CallId("c1"), AgentId("a1")), now=1)
    assert s.send(OfferAnswered(CallId("c1"), AgentId("a1"))) == [], "while bridging"
    s.send(CallConnected(CallId("c1"), AgentId("a1")))
    assert s.send(OfferAnswered(CallId("c1"), AgentId("a1"))) == [], "once bridged"
    assert phase(s, "c1") is Phase.CONNECTED
