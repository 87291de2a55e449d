"""Agents: seat binding, status versus state, pauses, wrap-up, ring-no-answer, rejections."""

from __future__ import annotations

import pytest

from acd import (
    AcdConfig,
    AgentEndWrapup,
    AgentId,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    AgentState,
    AgentStateChanged,
    AgentStatus,
    CallEnded,
    CallerLeft,
    CallId,
    CallTransferredToQueue,
    CancelOffer,
    DeviceState,
    OfferRejected,
    OfferTimedOut,
    PauseReason,
    QueueId,
    RejectReason,
    RequestRefused,
    SeatDeviceState,
    SeatId,
    SeatReachability,
    StartTimer,
    TimerKey,
    TimerKind,
)
from tests.acd_support import Shell, agent, of_type, offered_to, queue

pytestmark = pytest.mark.acd

A1, A2, A3 = AgentId("a1"), AgentId("a2"), AgentId("a3")
PAUSES = (PauseReason("rona", "未接"), PauseReason("break", "小休"), PauseReason("meal", "就餐"))


def shell(*queues: object, agents: int = 3, **agent_kw: object) -> Shell:
    qs = queues or (queue("q"),)
    ags = tuple(agent(f"a{i}", **agent_kw) for i in range(1, agents + 1))
    return Shell(AcdConfig(queues=qs, agents=ags, pause_reasons=PAUSES))  # type: ignore[arg-type]


def state(s: Shell, agent_id: str) -> tuple[AgentStatus, AgentState, str]:
    view = s.acd.agent_view(AgentId(agent_id))
    assert view is not None
    return view.status, view.state, view.reason


# ---------------------------------------------------------------- login and seats


def test_login_binds_agent_to_seat_and_publishes_ready_idle() -> None:
    s = shell()
    out = s.send(AgentLogin(A1, SeatId("s1")))
    assert out == [
        AgentStateChanged(A1, AgentStatus.READY, AgentState.IDLE, "", SeatId("s1")),
    ]
    view = s.acd.agent_view(A1)
    assert view is not None and view.seat == "s1"


def test_agent_cannot_log_in_twice_nor_share_a_seat() -> None:
    s = shell()
    s.send(AgentLogin(A1, SeatId("s1")))
    assert s.send(AgentLogin(A1, SeatId("s2"))) == [
        RequestRefused(A1, "AgentLogin", "already_logged_in")
    ]
    assert s.send(AgentLogin(A2, SeatId("s1"))) == [RequestRefused(A2, "AgentLogin", "seat_taken")]
    assert s.send(AgentLogin(AgentId("ghost"), SeatId("s9"))) == [
        RequestRefused(AgentId("ghost"), "AgentLogin", "unknown_agent")
    ]
    s.send(AgentLogout(A1))
    out = s.send(AgentLogin(A2, SeatId("s1")))
    assert out == [AgentStateChanged(A2, AgentStatus.READY, AgentState.IDLE, "", SeatId("s1"))]


def test_requests_of_a_logged_out_agent_are_refused() -> None:
    s = shell()
    for ev in (AgentLogout(A1), AgentReady(A1), AgentPause(A1, "break")):
        assert s.send(ev) == [RequestRefused(A1, type(ev).__name__, "not_logged_in")]
    assert s.send(AgentEndWrapup(A1)) == [RequestRefused(A1, "AgentEndWrapup", "not_in_wrapup")]


def test_logout_during_a_call_keeps_the_seat_until_the_call_ends() -> None:
    s = shell(queue("q", wrapup_s=30))
    s.login("a1")
    s.arrive("c1")
    s.answer("c1", "a1")
    s.send(AgentLogout(A1), now=5)
    assert state(s, "a1") == (AgentStatus.LOGGED_OUT, AgentState.ON_CALL, "")
    assert s.send(AgentLogin(A2, SeatId("seat-a1"))) == [
        RequestRefused(A2, "AgentLogin", "seat_taken")
    ]
    out = s.send(CallEnded(CallId("c1")), now=50)
    assert not of_type(out, StartTimer), "no wrap-up after logging out"
    assert out[-1] == AgentStateChanged(A1, AgentStatus.LOGGED_OUT, AgentState.OFFLINE, "", None)
    assert s.send(AgentLogin(A2, SeatId("seat-a1")))[-1].seat == "seat-a1"  # type: ignore[union-attr]


# ---------------------------------------------------------------- status versus state


def test_phone_busy_outside_the_acd_is_a_state_not_a_status() -> None:
    s = shell(agents=1)
    s.login("a1")
    out = s.send(SeatDeviceState(SeatId("seat-a1"), DeviceState.IN_USE))
    assert out == [
        AgentStateChanged(A1, AgentStatus.READY, AgentState.BUSY_OUTSIDE, "", SeatId("seat-a1"))
    ]
    assert offered_to(s.arrive("c1")) == []
    out = s.send(SeatDeviceState(SeatId("seat-a1"), DeviceState.NOT_IN_USE), now=3)
    assert offered_to(out) == ["a1"]
    assert state(s, "a1") == (AgentStatus.READY, AgentState.RINGING, "")


def test_unreachable_phone_is_never_offered_and_ringing_offer_is_taken_back() -> None:
    s = shell(agents=2)
    s.login("a1", "a2")
    s.send(SeatReachability(SeatId("seat-a2"), False))
    assert state(s, "a2") == (AgentStatus.READY, AgentState.UNREACHABLE, "")
    assert offered_to(s.arrive("c1")) == ["a1"]
    out = s.send(SeatReachability(SeatId("seat-a1"), False), now=2)
    assert CancelOffer(CallId("c1"), A1, SeatId("seat-a1")) in out
    assert offered_to(out) == []
    out = s.send(SeatReachability(SeatId("seat-a1"), True), now=3)
    assert offered_to(out) == ["a1"], "a phone lost is not a rejection: the call may come back"
    view = s.acd.agent_view(A1)
    assert view is not None and view.state is AgentState.RINGING


def test_device_unavailable_also_means_unreachable() -> None:
    s = shell(agents=1)
    s.login("a1")
    s.send(SeatDeviceState(SeatId("seat-a1"), DeviceState.from_ami("UNAVAILABLE")))
    assert state(s, "a1")[1] is AgentState.UNREACHABLE
    assert DeviceState.from_ami("RINGINUSE") is DeviceState.IN_USE
    assert DeviceState.from_ami("NOT_INUSE") is DeviceState.NOT_IN_USE
    assert DeviceState.from_ami("weird") is DeviceState.UNKNOWN


def test_pause_with_reason_then_ready() -> None:
    s = shell(agents=1)
    s.login("a1")
    assert s.send(AgentPause(A1, "lunch")) == [RequestRefused(A1, "AgentPause", "unknown_reason")]
    out = s.send(AgentPause(A1, "meal"))
    assert out == [
        AgentStateChanged(A1, AgentStatus.PAUSED, AgentState.IDLE, "meal", SeatId("seat-a1"))
    ]
    assert offered_to(s.arrive("c1")) == []
    out = s.send(AgentReady(A1), now=60)
    assert offered_to(out) == ["a1"]


def test_pause_while_ringing_gives_the_call_to_the_next_agent() -> None:
    s = shell(agents=2)
    s.login("a1", "a2")
    assert offered_to(s.arrive("c1")) == ["a1"]
    out = s.send(AgentPause(A1, "break"), now=1)
    assert CancelOffer(CallId("c1"), A1, SeatId("seat-a1")) in out
    assert offered_to(out) == ["a2"]
    view = s.acd.call_view(CallId("c1"))
    assert view is not None and A1 not in view.excluded


# ---------------------------------------------------------------- wrap-up


def test_wrapup_length_comes_from_the_queue_unless_the_agent_overrides_it() -> None:
    s = Shell(
        AcdConfig(
            queues=(queue("q", wrapup_s=30),),
            agents=(agent("a1"), agent("a2", wrapup_s=5)),
        )
    )
    s.login("a1", "a2")
    s.arrive("c1")
    s.arrive("c2")
    s.answer("c1", "a1")
    s.answer("c2", "a2")
    out = s.send(CallEnded(CallId("c1")), now=100)
    assert StartTimer(TimerKey(TimerKind.WRAPUP, "a1"), 130) in out
    out = s.send(CallEnded(CallId("c2")))
    assert StartTimer(TimerKey(TimerKind.WRAPUP, "a2"), 105) in out
    assert state(s, "a2") == (AgentStatus.READY, AgentState.WRAPUP, "")
    s.advance(105)
    assert state(s, "a2") == (AgentStatus.READY, AgentState.IDLE, "")
    assert state(s, "a1")[1] is AgentState.WRAPUP


def test_agent_can_end_wrapup_early_and_takes_the_waiting_call() -> None:
    s = shell(queue("q", wrapup_s=60), agents=1)
    s.login("a1")
    s.arrive("c1")
    s.answer("c1", "a1")
    s.send(CallEnded(CallId("c1")), now=30)
    assert offered_to(s.arrive("c2")) == []
    out = s.send(AgentEndWrapup(A1), now=35)
    assert offered_to(out) == ["a1"]
    assert s.timers.get(TimerKey(TimerKind.WRAPUP, "a1")) is None, "the wrap-up timer is cancelled"


def test_wrapup_holds_across_every_queue_the_agent_serves() -> None:
    s = Shell(
        AcdConfig(
            queues=(queue("q1", {"x": 1}, wrapup_s=20), queue("q2", {"y": 1}, wrapup_s=0)),
            agents=(agent("a1", {"x": 5, "y": 5}),),
        )
    )
    s.login("a1")
    s.arrive("c1", "q1")
    s.answer("c1", "a1")
    s.send(CallEnded(CallId("c1")), now=10)
    assert offered_to(s.arrive("c2", "q2"), "c2") == [], "q2 has no wrap-up, a1 still wraps up q1"
    assert offered_to(s.advance(30)) == ["a1"]
    assert s.now == 30


def test_transfer_to_queue_puts_the_agent_in_wrapup_and_never_offers_the_call_back() -> None:
    s = Shell(
        AcdConfig(
            queues=(queue("q1", wrapup_s=0), queue("q2", wrapup_s=0)),
            agents=(agent("a1"), agent("a2")),
        )
    )
    s.login("a1")
    s.arrive("c1", "q1", waited_so_far_s=7)
    s.answer("c1", "a1")
    out = s.send(CallTransferredToQueue(CallId("c1"), QueueId("q2")), now=40)
    assert offered_to(out) == [], "a1 is free but must not get its own transfer back"
    view = s.acd.call_view(CallId("c1"))
    assert view is not None and view.queue == "q2" and view.since == -7
    out = s.login("a2")
    assert offered_to(out) == ["a2"]


# ---------------------------------------------------------------- ring-no-answer and rejection


def test_ring_no_answer_offers_the_next_agent_and_pauses_after_n_misses() -> None:
    s = shell(queue("q", ring_timeout_s=10, rona_max_misses=2, rona_pause_reason="rona"))
    s.login("a1", "a2", "a3")
    assert offered_to(s.arrive("c1")) == ["a1"]
    out = s.advance(10)
    assert out[0] == CancelOffer(CallId("c1"), A1, SeatId("seat-a1"))
    assert offered_to(out) == ["a2"]
    assert state(s, "a1") == (AgentStatus.READY, AgentState.IDLE, "")
    assert offered_to(s.arrive("c2"), "c2") == ["a1"], "one miss: still ready"
    out = s.advance(20)
    assert state(s, "a1") == (AgentStatus.PAUSED, AgentState.IDLE, "rona")
    assert "a1" not in offered_to(out)


def test_answering_resets_the_miss_count() -> None:
    s = shell(queue("q", ring_timeout_s=10, rona_max_misses=2), agents=2)
    s.login("a1", "a2")
    s.arrive("c1")
    s.advance(10)  # a1 misses c1, a2 rings
    s.arrive("c2")  # a1 rings
    s.answer("c2", "a1")
    view = s.acd.agent_view(A1)
    assert view is not None and view.misses == 0


def test_offer_timed_out_reported_by_the_shell_counts_as_a_miss() -> None:
    s = shell(queue("q", rona_max_misses=1), agents=2)
    s.login("a1", "a2")
    s.arrive("c1")
    out = s.send(OfferTimedOut(CallId("c1"), A1), now=4)
    assert not of_type(out, CancelOffer), "the leg is already gone"
    assert offered_to(out) == ["a2"]
    assert state(s, "a1") == (AgentStatus.PAUSED, AgentState.IDLE, "rona")


def test_a_rejected_call_never_comes_back_to_the_same_agent() -> None:
    s = shell(agents=3)
    s.login("a1", "a2")
    s.arrive("c1")
    out = s.send(OfferRejected(CallId("c1"), A1, RejectReason.DECLINED), now=1)
    assert offered_to(out) == ["a2"]
    out = s.send(OfferRejected(CallId("c1"), A2, RejectReason.BUSY), now=2)
    assert offered_to(out) == [], "a1 and a2 are idle and ready but both refused c1"
    assert state(s, "a1")[1] is AgentState.IDLE
    out = s.arrive("c2")
    assert offered_to(out) == ["a1"], "other calls still reach them"
    out = s.login("a3")
    assert offered_to(out) == ["a3"]
    assert of_type(out, CallerLeft) == []
