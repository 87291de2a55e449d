"""A run's figures: per 15-minute interval and per day, per queue and in total.

Every figure comes from :mod:`figures`, as on the wallboard and in the
reports: each final call record is turned into its
:func:`figures.contribution` (judged by its queue's ``service_level`` and
``short_abandon``), contributions are summed with :meth:`figures.Tally.merge`
into the interval it was queued in (the wallboard's convention), and the
rates are the tally's properties.  The 90th-percentile wait is
:func:`figures.percentile` over the settled calls' waits; occupancy is
busy / (busy + available) of :class:`figures.AgentTime`, from the agents'
state changes through :class:`figures.AgentClock`.

Over several days, interval ``08:00`` sums the 08:00 intervals of all days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from figures import AgentTime, Rules, Tally, contribution, percentile
from simulate.day import Outcome
from simulate.traffic import INTERVAL_S, INTERVALS_PER_DAY, slot_name


@dataclass
class Cell:
    """One scope (the centre or a queue) over one period."""

    tally: Tally = field(default_factory=Tally)
    waits: list[float] = field(default_factory=list)
    callbacks: int = 0

    def add(self, tally: Tally) -> None:
        self.tally.merge(tally)
        if tally.settled:
            self.waits.append(tally.wait_all_s)

    def figures(self) -> dict[str, Any]:
        t = self.tally
        return {
            "offered": t.offered,
            "answered": t.answered,
            "abandoned": t.abandoned,
            "short_abandoned": t.short_abandoned,
            "overflowed": t.overflowed,
            "unanswered_other": t.unanswered_other,
            "connection_rate": _rate(t.connection_rate),
            "within_15s_rate": _rate(t.answer_rate_sl),
            "abandon_rate": _rate(t.abandon_rate),
            "asa_s": _seconds(t.asa_s),
            "avg_wait_s": _seconds(t.avg_wait_s),
            "p90_wait_s": _seconds(percentile(self.waits, 0.9)),
            "max_wait_s": _seconds(t.wait_max_s if t.settled else None),
            "callbacks": self.callbacks,
            "satisfaction_rate": _rate(t.satisfaction_rate),
        }


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class Interval:
    """One 15-minute interval of the day (summed over the days run)."""

    slot: int
    agents: int
    total: Cell = field(default_factory=Cell)
    queues: dict[str, Cell] = field(default_factory=dict)
    time: AgentTime = field(default_factory=AgentTime)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": slot_name(self.slot),
            "agents": self.agents,
            **self.total.figures(),
            "occupancy": _rate(self.time.occupancy),
            "queues": {q: cell.figures() for q, cell in sorted(self.queues.items())},
        }


@dataclass
class Summary:
    """The figures of a run."""

    days: int
    intervals: list[Interval]
    total: Cell
    queues: dict[str, Cell]
    daily: list[Cell]
    time: AgentTime
    handled: int
    handle_s: float
    events: int

    def as_dict(self) -> dict[str, Any]:
        total = {
            **self.total.figures(),
            "occupancy": _rate(self.time.occupancy),
            "agent_hours": round(sum(i.agents for i in self.intervals) / 4 * self.days, 2),
            "peak_agents": max((i.agents for i in self.intervals), default=0),
            "avg_handle_s": _seconds(self.handle_s / self.handled if self.handled else None),
        }
        return {
            "days": self.days,
            "total": total,
            "queues": {q: cell.figures() for q, cell in sorted(self.queues.items())},
            "daily": [cell.figures() for cell in self.daily],
            "intervals": [i.as_dict() for i in self.intervals],
        }


def _when(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


def summarise(outcome: Outcome) -> Summary:
    """The figures of ``outcome`` (see the module docstring)."""
    levels = outcome.staffing.levels if outcome.staffing else [0] * INTERVALS_PER_DAY
    intervals = [Interval(slot, levels[slot]) for slot in range(INTERVALS_PER_DAY)]
    total = Cell()
    queues: dict[str, Cell] = {}
    daily = [Cell() for _ in range(outcome.days)]
    rules = {q: Rules(sl, short) for q, (sl, short) in outcome.rules.items()}
    last = outcome.days * INTERVALS_PER_DAY - 1

    def index(at: float) -> int:
        return min(last, max(0, int((at - outcome.start) // INTERVAL_S)))

    for final in outcome.records:
        r = final.record
        if r.queued_at is None:
            continue
        row = {
            "queued_at": _when(r.queued_at),
            "answered_at": _when(r.answered_at),
            "ended_at": _when(r.ended_at),
            "outcome": r.outcome,
            "rating": r.rating,
        }
        tally = contribution(row, rules.get(r.queue or "", Rules()))
        if tally is None:
            continue
        k = index(r.queued_at)
        queue = r.queue or "-"
        interval = intervals[k % INTERVALS_PER_DAY]
        for cell in (
            total,
            queues.setdefault(queue, Cell()),
            interval.total,
            interval.queues.setdefault(queue, Cell()),
            daily[k // INTERVALS_PER_DAY],
        ):
            cell.add(tally)
    for callback in outcome.callbacks:
        k = index(callback.at)
        interval = intervals[k % INTERVALS_PER_DAY]
        for cell in (
            total,
            queues.setdefault(callback.queue, Cell()),
            interval.total,
            interval.queues.setdefault(callback.queue, Cell()),
            daily[k // INTERVALS_PER_DAY],
        ):
            cell.callbacks += 1
    time = AgentTime()
    snapshots = outcome.agent_time
    for k in range(min(len(snapshots) - 1, outcome.days * INTERVALS_PER_DAY)):
        (busy0, free0), (busy1, free1) = snapshots[k], snapshots[k + 1]
        span = AgentTime(busy_s=busy1 - busy0, available_s=free1 - free0)
        intervals[k % INTERVALS_PER_DAY].time.merge(span)
        time.merge(span)
    handle_s = sum(h for _, h, _ in outcome.handled)
    return Summary(
        days=outcome.days,
        intervals=intervals,
        total=total,
        queues=queues,
        daily=daily,
        time=time,
        handled=len(outcome.handled),
        handle_s=handle_s,
        events=outcome.events,
    )
