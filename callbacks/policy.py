"""Callback and return-visit policy, and the clock arithmetic it needs.

All times are timezone-aware datetimes; the policy's ``timezone`` says what
"08:00" means.  Quiet hours are the hours in which no citizen is called
(e.g. 21:00 to 08:00, spanning midnight); the service hours of a deadline
are the hours that are not quiet: a deadline of 2 hours for a call missed at
20:30 runs 30 minutes that evening and 90 minutes from 08:00 the next day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from callbacks.errors import CallbacksError


class Outcome(StrEnum):
    """How one attempt to call a citizen ended (chosen by the agent or seen on the call)."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"  # the citizen declined to talk
    VOICEMAIL = "voicemail"  # an answering machine took the call


FINAL_OUTCOMES = frozenset({Outcome.REACHED, Outcome.WRONG_NUMBER, Outcome.REFUSED})
"""Outcomes after which nobody calls the number again for this entry."""


class Style(StrEnum):
    """How a callback is offered to an agent (per queue)."""

    PREVIEW = "preview"  # the agent sees the entry and presses Call or Skip
    PROGRESSIVE = "progressive"  # the agent is rung, then the citizen is dialled


def aware(when: dt.datetime, what: str = "now") -> dt.datetime:
    if when.tzinfo is None:
        raise CallbacksError(f"{what} must be timezone-aware")
    return when


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No calls to citizens from ``start`` to ``end`` local time (may span midnight).

    ``start == end`` means no quiet hours at all.
    """

    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(8, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise CallbacksError("quiet hours are local times without a zone")

    def contains(self, local: dt.time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """When and how often a missed caller is called back."""

    attempts: int = 3
    spacing: dt.timedelta = dt.timedelta(minutes=30)
    deadline: dt.timedelta = dt.timedelta(hours=2)
    quiet: QuietHours = field(default_factory=QuietHours)
    timezone: str = "Asia/Shanghai"
    short_abandon_s: float = 10.0
    """A caller who hung up after waiting less than this is not listed (a misdial, a change of mind)."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise CallbacksError("attempts must be at least 1")
        if self.spacing < dt.timedelta(0) or self.deadline <= dt.timedelta(0):
            raise CallbacksError("spacing must be >= 0 and deadline > 0")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not at the first call

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, when: dt.datetime) -> dt.datetime:
        return aware(when).astimezone(self.zone)

    def local_day(self, when: dt.datetime) -> dt.date:
        return self.local(when).date()

    def is_quiet(self, when: dt.datetime) -> bool:
        return self.quiet.contains(self.local(when).time().replace(tzinfo=None))

    def next_open(self, when: dt.datetime) -> dt.datetime:
        """``when`` itself if calls are allowed then, else the end of its quiet hours."""
        if not self.is_quiet(when):
            return when
        local = self.local(when)
        end = local.replace(
            hour=self.quiet.end.hour,
            minute=self.quiet.end.minute,
            second=self.quiet.end.second,
            microsecond=0,
        )
        if end <= local:
            end = end + dt.timedelta(days=1)
        # Re-attach the zone after the day step (a DST change would shift the wall clock).
        end = end.replace(tzinfo=None).replace(tzinfo=self.zone)
        return end.astimezone(when.tzinfo)

    def _next_quiet(self, when: dt.datetime) -> dt.datetime:
        """The next start of quiet hours after ``when`` (``when`` not quiet)."""
        local = self.local(when)
        start = local.replace(
            hour=self.quiet.start.hour,
            minute=self.quiet.start.minute,
            second=self.quiet.start.second,
            microsecond=0,
        )
        if start <= local:
            start = (start + dt.timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=self.zone)
        return start.astimezone(when.tzinfo)

    def deadline_for(self, missed_at: dt.datetime) -> dt.datetime:
        """When a call missed at ``missed_at`` must have been called back.

        ``deadline`` counts service time only (the hours that are not quiet).
        """
        left = self.deadline
        at = self.next_open(aware(missed_at, "missed_at"))
        if self.quiet.start == self.quiet.end:
            return at + left
        for _ in range(400):  # a deadline of a year at most; the loop cannot run away
            closes = self._next_quiet(at)
            if at + left <= closes:
                return at + left
            left -= closes - at
            at = self.next_open(closes)
        raise CallbacksError("deadline too long")


@dataclass(frozen=True, slots=True)
class VisitPolicy:
    """Return visits (回访): how often and how many at once."""

    attempts: int = 3
    spacing: dt.timedelta = dt.timedelta(hours=2)
    max_lines: int = 4
    """Outbound lines return visits and callbacks may hold at once."""
    slow_down_waiting: int = 3
    """Inbound callers waiting from which the dialler starts nothing (below: one at a time)."""

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.max_lines < 0 or self.slow_down_waiting < 0:
            raise CallbacksError("attempts >= 1, max_lines >= 0, slow_down_waiting >= 0")
