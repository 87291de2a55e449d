"""Statistics: every figure computed by hand on a known sequence of events."""

from __future__ import annotations

import pytest

from acd import (
    AcdConfig,
    AgentId,
    AgentPause,
    CallEnded,
    CallerHungUp,
    CallId,
    DayRolled,
    OfferRejected,
    OverflowAction,
    OverflowRule,
    PauseReason,
    QueueId,
)
from tests.acd_support import Shell, agent, queue

pytestmark = pytest.mark.acd

Q = QueueId("q")
A1 = AgentId("a1")


def known_day() -> Shell:
    """One agent, one queue (SL 15 s, short abandon 5 s, wrap-up 10 s); times in seconds.

    ====  =====================================================================
    t     what happens
    ====  =====================================================================
    0     a1 logs in (ready, idle)
    10    c1 arrives, rings a1; answered at 14 (wait 4 s), talks until 74,
          wraps up until 84 (handle 70 s)
    20    c2 arrives and waits; hangs up at 23 (wait 3 s: a short abandon)
    30    c3 arrives and waits; rings a1 at 84; answered at 90 (wait 60 s),
          talks until 150, wraps up until 160 (handle 70 s)
    100   c4 arrives and waits; hangs up at 130 (wait 30 s)
    ====  =====================================================================
    """
    s = Shell(
        AcdConfig(
            queues=(queue("q", wrapup_s=10, short_abandon_s=5, service_level_s=15),),
            agents=(agent("a1"),),
        )
    )
    s.login("a1")
    s.advance(10)
    s.arrive("c1")
    s.advance(14)
    s.answer("c1", "a1")
    s.advance(20)
    s.arrive("c2")
    s.send(CallerHungUp(CallId("c2")), now=23)
    s.advance(30)
    s.arrive("c3")
    s.advance(74)
    s.send(CallEnded(CallId("c1")))
    s.advance(90)
    s.answer("c3", "a1")
    s.advance(100)
    s.arrive("c4")
    s.send(CallerHungUp(CallId("c4")), now=130)
    s.advance(150)
    s.send(CallEnded(CallId("c3")))
    s.advance(200)
    return s


def test_queue_figures_by_hand() -> None:
    f = known_day().acd.queue_figures(Q, 200)
    assert (f.offered, f.answered, f.abandoned, f.short_abandoned, f.overflowed) == (4, 2, 2, 1, 0)
    assert f.answered_within_sl == 1  # c1 (4 s); c3 waited 60 s
    assert f.connection_rate == 2 / 4  # 接通率 = answered / offered
    assert f.answer_rate_sl == 1 / 4  # 人工应答及时率 = answered within 15 s / offered
    assert f.avg_wait_s == (4 + 60) / 2
    assert f.longest_wait_s == 60  # of c1 4, c2 3, c3 60, c4 30
    assert f.handled == 2
    assert f.avg_handle_s == (70 + 70) / 2


def test_agent_figures_and_occupancy_by_hand() -> None:
    f = known_day().acd.agent_figures(A1, 200)
    assert (f.offered, f.answered, f.missed, f.rejected, f.handled) == (2, 2, 0, 0, 2)
    # busy: 14..84 and 90..160; available: 0..14 (idle, then ringing), 84..90 (ringing), 160..200
    assert f.busy_s == 140
    assert f.available_s == 14 + 6 + 40
    assert f.occupancy == 140 / 200


def test_centre_figures_add_up_the_queues_and_agents() -> None:
    s = known_day()
    centre = s.acd.centre_figures(200)
    queue_ = s.acd.queue_figures(Q, 200)
    assert (centre.offered, centre.answered, centre.abandoned) == (4, 2, 2)
    assert centre.connection_rate == queue_.connection_rate
    assert centre.occupancy == 140 / 200


def test_the_counters_add_up() -> None:
    totals = known_day().acd.totals()
    assert totals.entered == 4
    assert totals.entered == (
        totals.answered + totals.abandoned + totals.overflowed + totals.waiting + totals.offering
    )


def test_windows_and_chart_use_five_minute_buckets() -> None:
    s = Shell(AcdConfig(queues=(queue("q", wrapup_s=0),), agents=(agent("a1"),)))
    s.arrive("c1")  # t=0, bucket [0, 300)
    s.send(CallerHungUp(CallId("c1")), now=2)
    s.advance(610)  # bucket [600, 900)
    s.arrive("c2")
    s.send(CallerHungUp(CallId("c2")), now=700)
    s.advance(1210)  # bucket [1200, 1500)
    s.arrive("c3")
    acd = s.acd
    assert acd.queue_figures(Q, 1210, window_s=300).offered == 1  # the current bucket only
    assert acd.queue_figures(Q, 1210, window_s=900).offered == 2  # buckets 600.. and 1200..
    assert acd.queue_figures(Q, 1210, window_s=3600).offered == 3
    assert acd.queue_figures(Q, 1210).offered == 3  # today
    chart = acd.chart(Q, 1210, count=5)
    assert [start for start, _ in chart] == [0, 300, 600, 900, 1200]
    assert [f.offered for _, f in chart] == [1, 0, 1, 0, 1]
    assert [f.abandoned for _, f in chart] == [1, 0, 1, 0, 0]
    assert chart[2][1].longest_wait_s == 90


def test_day_rolled_restarts_today_but_not_the_window() -> None:
    s = Shell(AcdConfig(queues=(queue("q", wrapup_s=0),), agents=(agent("a1"),)))
    s.login("a1")
    s.arrive("c1")
    s.answer("c1", "a1")
    s.send(CallEnded(CallId("c1")), now=60)
    s.send(DayRolled(), now=100)
    assert s.acd.queue_figures(Q, 100).offered == 0
    assert s.acd.queue_figures(Q, 100, window_s=900).offered == 1
    view = s.acd.agent_view(A1)
    assert view is not None and view.calls_today == 0 and view.talk_today_s == 0
    f = s.acd.agent_figures(A1, 150)
    assert (f.busy_s, f.available_s) == (0, 50), "today's ledger starts at the roll"


def test_overflow_misses_and_rejections_are_counted() -> None:
    s = Shell(
        AcdConfig(
            queues=(
                queue(
                    "q",
                    max_wait_s=50,
                    ring_timeout_s=10,
                    rona_max_misses=0,
                    overflow=OverflowRule(OverflowAction.CALLBACK),
                ),
            ),
            agents=(agent("a1"), agent("a2")),
            pause_reasons=(PauseReason("rona"), PauseReason("break")),
        )
    )
    s.login("a1", "a2")
    s.arrive("c1")  # rings a1
    s.send(OfferRejected(CallId("c1"), A1), now=1)  # rings a2
    s.advance(11)  # a2 misses: nobody left for c1
    s.send(AgentPause(A1, "break"))
    s.advance(50)
    q = s.acd.queue_figures(Q, 50)
    assert (q.offered, q.answered, q.overflowed, q.longest_wait_s) == (1, 0, 1, 50)
    assert q.connection_rate == 0
    assert s.acd.agent_figures(A1, 50).rejected == 1
    assert s.acd.agent_figures(AgentId("a2"), 50).missed == 1
    assert s.acd.queue_figures(Q, 50).avg_wait_s is None, "no answered call: no average"


def test_centre_chart_carries_agent_time() -> None:
    s = Shell(AcdConfig(queues=(queue("q", wrapup_s=0),), agents=(agent("a1"), agent("a2"))))
    s.login("a1", "a2")  # both available from 0
    s.arrive("c1")
    s.answer("c1", "a1")  # a1 busy from 0
    s.send(CallEnded(CallId("c1")), now=400)  # busy 0..400 across two buckets
    chart = s.acd.chart(None, 400, count=2)
    assert [start for start, _ in chart] == [0, 300]
    first, second = chart[0][1], chart[1][1]
    assert (first.busy_s, first.available_s) == (300, 0)  # a2's idle time is still running
    assert (second.busy_s, second.available_s) == (100, 0)
    f = s.acd.centre_figures(400)
    assert (f.busy_s, f.available_s) == (400, 400), "a2's running idle time counts up to now"
