"""What one call record contributes to the figures, and the formulas over a sum of them.

Theory of operation.  Every figure of the engine (the wallboard's "today",
the last hour's chart, ``hotline report``, the monthly assessment sheet) is a
sum of per-call contributions followed by a ratio.  :func:`contribution` reads
one row of the ``calls`` table and returns its :class:`Tally`; tallies add up
(:meth:`Tally.merge`) and the figures are the properties of the sum.  So the
live figure and the report are one computation: the wallboard sums the rows
it sees change, the report sums the rows of a period.

A call belongs to the period, the queue, the line and the department it was
**queued** in (``queued_at``; a call moved to another queue by overflow or
transfer counts once, in the queue it ended in).  A call that never reached
a queue (menu only, a withdrawn line, a number not in service) is no request
for a person (人工服务请求) and contributes nothing.

**A call still in progress.**  A caller still waiting (queued, not answered,
not ended) is *offered* but not yet *settled*: it counts in ``offered`` and in
``in_queue``, and in no rate.  Rates are taken over the settled calls
(``offered - in_queue``), so a busy minute with 28 callers waiting and one
abandon shows 接通率 0 % of 1 settled call, not 1 of 29; a call answered and
still talking is settled (answered).  Once the day is over no call is in
progress, ``in_queue`` is 0 and the live figure equals the day's report.

Counts (per call, 0 or 1 unless said otherwise):

- ``offered``: queued (人工服务请求量);
- ``in_queue``: offered, neither answered nor ended yet;
- ``answered``: connected to an agent (``answered_at`` set: 人工接通量);
- ``answered_within_sl``: answered after waiting at most the queue's
  ``service_level`` seconds (15 s shipped);
- ``abandoned``: ended unanswered because the caller hung up (outcome
  ``abandoned``); ``short_abandoned``: those of them who waited less than the
  queue's ``short_abandon`` seconds (counted in ``abandoned`` too);
- ``overflowed``: left unanswered by the queue's overflow rule;
- ``unanswered_other``: ended unanswered otherwise (voicemail, callback list,
  failure);
- ``wait_answered_s``: seconds waited by the answered calls; ``wait_all_s``:
  seconds waited by every settled call; ``wait_max_s``: the longest of them;
- ``transferred``, ``emergency``: answered calls transferred on / handed to
  110/119/120 (from the call's events, when the caller supplies them);
- ``rated``: answered calls rated on the five-level survey; ``satisfied``:
  those rated at a satisfied level (1 非常满意 or 2 满意, see
  :data:`SATISFIED_LEVELS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SATISFIED_LEVELS: frozenset[int] = frozenset({1, 2})
"""Survey levels that count as satisfied: 1 非常满意 and 2 满意.

The five levels are 1 非常满意 (very satisfied), 2 满意 (satisfied), 3 基本满意
(fairly satisfied), 4 不满意 (dissatisfied), 5 非常不满意 (very dissatisfied).
满意率 = (非常满意 + 满意) / calls rated; a caller who did not rate is not in
the denominator.
"""

UNANSWERED_OTHER = frozenset({"voicemail", "callback", "failed"})


@dataclass(frozen=True)
class Rules:
    """The per-queue thresholds a call is judged by (``queues.yaml``)."""

    service_level_s: float = 15.0
    short_abandon_s: float = 5.0


RulesOf = Callable[[str | None], Rules]


_COUNTS = (
    "offered",
    "in_queue",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandoned",
    "overflowed",
    "unanswered_other",
    "transferred",
    "emergency",
    "rated",
    "satisfied",
    "handled",
)
_SUMS = ("wait_answered_s", "wait_all_s", "handle_s", "wrapup_s")


@dataclass
class Tally:
    """Counts and sums of calls over one scope and period; the figures are properties."""

    offered: int = 0
    in_queue: int = 0
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    unanswered_other: int = 0
    transferred: int = 0
    emergency: int = 0
    rated: int = 0
    satisfied: int = 0
    handled: int = 0
    wait_answered_s: float = 0.0
    wait_all_s: float = 0.0
    handle_s: float = 0.0
    wrapup_s: float = 0.0
    wait_max_s: float = 0.0
    levels: dict[int, int] = field(default_factory=dict)

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts and sums; keep the larger longest wait."""
        for name in (*_COUNTS, *_SUMS):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.wait_max_s = max(self.wait_max_s, other.wait_max_s)
        for level, n in other.levels.items():
            self.levels[level] = self.levels.get(level, 0) + n

    def subtract(self, other: Tally) -> None:
        """Take ``other``'s counts and sums back out (the longest wait stays)."""
        for name in (*_COUNTS, *_SUMS):
            setattr(self, name, getattr(self, name) - getattr(other, name))
        for level, n in other.levels.items():
            self.levels[level] = self.levels.get(level, 0) - n

    @property
    def settled(self) -> int:
        """Offered calls whose queue outcome is known: ``offered - in_queue``."""
        return self.offered - self.in_queue

    @property
    def connection_rate(self) -> float | None:
        """接通率 = answered / settled (GB/T 33358: 人工接通量 / 人工服务请求量).

        Short abandons stay in the denominator.  ``None`` when nothing is settled.
        """
        return _ratio(self.answered, self.settled)

    @property
    def answer_rate_sl(self) -> float | None:
        """人工应答及时率 = answered within the service level / settled."""
        return _ratio(self.answered_within_sl, self.settled)

    @property
    def abandon_rate(self) -> float | None:
        """放弃率 = abandoned / settled (short abandons included)."""
        return _ratio(self.abandoned, self.settled)

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer = seconds waited by answered calls / answered."""
        return _ratio(self.wait_answered_s, self.answered)

    @property
    def avg_wait_s(self) -> float | None:
        """Average wait = seconds waited by every settled call / settled."""
        return _ratio(self.wait_all_s, self.settled)

    @property
    def avg_handle_s(self) -> float | None:
        """Average handle time = (talk + wrap-up seconds) / calls handled."""
        return _ratio(self.handle_s, self.handled)

    @property
    def avg_wrapup_s(self) -> float | None:
        """Average wrap-up time = wrap-up seconds / calls handled."""
        return _ratio(self.wrapup_s, self.handled)

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率 = calls rated 1 or 2 / calls rated (:data:`SATISFIED_LEVELS`)."""
        return _ratio(self.satisfied, self.rated)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def contribution(row: Mapping[str, Any], rules: Rules) -> Tally | None:
    """The tally of one ``calls`` row (``None``: never queued, so no request for a person).

    ``row`` needs ``queued_at``, ``answered_at``, ``ended_at`` (aware
    datetimes or ``None``), ``outcome`` and ``rating``; ``transferred`` and
    ``emergency`` (booleans) are read when present.
    """
    queued = row.get("queued_at")
    if queued is None:
        return None
    t = Tally(offered=1)
    answered = row.get("answered_at")
    ended = row.get("ended_at")
    if answered is not None:
        wait = _seconds(answered, queued)
        t.answered = 1
        t.answered_within_sl = int(wait <= rules.service_level_s)
        t.wait_answered_s = wait
        t.transferred = int(bool(row.get("transferred")))
        t.emergency = int(bool(row.get("emergency")))
        level = row.get("rating")
        if level is not None and ended is not None:
            t.rated = 1
            t.satisfied = int(level in SATISFIED_LEVELS)
            t.levels = {int(level): 1}
    elif ended is None:
        t.in_queue = 1
        return t
    else:
        wait = _seconds(ended, queued)
        outcome = row.get("outcome")
        if outcome == "abandoned":
            t.abandoned = 1
            t.short_abandoned = int(wait < rules.short_abandon_s)
        elif outcome == "overflowed":
            t.overflowed = 1
        else:
            t.unanswered_other = 1
    t.wait_all_s = wait
    t.wait_max_s = wait
    return t


def handle(episode_s: float, wrapup_s: float) -> Tally:
    """One call handled by an agent: ``episode_s`` seconds of talk plus wrap-up."""
    return Tally(handled=1, handle_s=episode_s, wrapup_s=wrapup_s)
