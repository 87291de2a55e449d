"""Counts and sums of one subject over one period, and the figures they give.

The formulas are stated in :mod:`acd.stats`, which keeps the tallies.
"""

from __future__ import annotations

from dataclasses import dataclass


class Tally:
    """Raw counts and sums for one subject over one period."""

    __slots__ = (
        "abandoned",
        "answered",
        "answered_within_sl",
        "available_s",
        "busy_s",
        "handle",
        "handled",
        "missed",
        "offered",
        "overflowed",
        "rejected",
        "short_abandoned",
        "wait_answered",
        "wait_max",
    )

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.answered_within_sl = 0
        self.abandoned = 0
        self.short_abandoned = 0
        self.overflowed = 0
        self.missed = 0
        self.rejected = 0
        self.handled = 0
        self.wait_answered = 0.0
        self.handle = 0.0
        self.busy_s = 0.0
        self.available_s = 0.0
        self.wait_max = 0.0

    def merge(self, o: Tally) -> None:
        """Add ``o``'s counts and sums; keep the larger ``wait_max``."""
        self.offered += o.offered
        self.answered += o.answered
        self.answered_within_sl += o.answered_within_sl
        self.abandoned += o.abandoned
        self.short_abandoned += o.short_abandoned
        self.overflowed += o.overflowed
        self.missed += o.missed
        self.rejected += o.rejected
        self.handled += o.handled
        self.wait_answered += o.wait_answered
        self.handle += o.handle
        self.busy_s += o.busy_s
        self.available_s += o.available_s
        if o.wait_max > self.wait_max:
            self.wait_max = o.wait_max

    def subtract(self, o: Tally) -> None:
        """Take ``o``'s counts and sums back out (not ``wait_max``)."""
        self.offered -= o.offered
        self.answered -= o.answered
        self.answered_within_sl -= o.answered_within_sl
        self.abandoned -= o.abandoned
        self.short_abandoned -= o.short_abandoned
        self.overflowed -= o.overflowed
        self.missed -= o.missed
        self.rejected -= o.rejected
        self.handled -= o.handled
        self.wait_answered -= o.wait_answered
        self.handle -= o.handle
        self.busy_s -= o.busy_s
        self.available_s -= o.available_s

    def copy(self) -> Tally:
        out = Tally()
        out.merge(self)
        return out

    def figures(self) -> Figures:
        return Figures(
            offered=self.offered,
            answered=self.answered,
            answered_within_sl=self.answered_within_sl,
            abandoned=self.abandoned,
            short_abandoned=self.short_abandoned,
            overflowed=self.overflowed,
            missed=self.missed,
            rejected=self.rejected,
            handled=self.handled,
            connection_rate=_ratio(self.answered, self.offered),
            answer_rate_sl=_ratio(self.answered_within_sl, self.offered),
            avg_wait_s=_ratio(self.wait_answered, self.answered),
            longest_wait_s=self.wait_max,
            avg_handle_s=_ratio(self.handle, self.handled),
            occupancy=_ratio(self.busy_s, self.busy_s + self.available_s),
            busy_s=self.busy_s,
            available_s=self.available_s,
        )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


@dataclass(frozen=True)
class Figures:
    """The figures of one subject over one period (formulas in the module docstring)."""

    offered: int
    answered: int
    answered_within_sl: int
    abandoned: int
    short_abandoned: int
    overflowed: int
    missed: int
    rejected: int
    handled: int
    connection_rate: float | None
    answer_rate_sl: float | None
    avg_wait_s: float | None
    longest_wait_s: float
    avg_handle_s: float | None
    occupancy: float | None
    busy_s: float
    available_s: float
