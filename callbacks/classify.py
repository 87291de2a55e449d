"""Which finished calls are missed calls, and what the day's figures are.

The shell gives the facts of a call record (:class:`CallFacts`); this module
says whether the call lands on the callback list and why, or whether it
shows the citizen got through (an answered call removes their entry).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from callbacks.entry import Entry, Reason, Status
from callbacks.policy import CallbackPolicy


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What a final call record says, as far as the callback list cares."""

    outcome: str | None
    """The engine's outcome: answered, abandoned, overflowed, callback, voicemail, ..."""
    answered: bool
    waited_s: float | None
    """Queue join to the end of the call, for a caller who was never answered."""
    closed: bool = False
    """The call took a route's ``closed_route`` (outside opening hours)."""
    overflow_reason: str | None = None
    """The ACD's overflow reason when it overflowed: ``full`` or ``max_wait``."""


def missed_reason(facts: CallFacts, policy: CallbackPolicy) -> Reason | None:
    """Why this call is a missed call, or None (answered, short abandon, not a citizen's call)."""
    if facts.answered or facts.outcome == "answered":
        return None
    if facts.overflow_reason == "full":
        return Reason.QUEUE_FULL
    if facts.outcome == "voicemail":
        return Reason.CLOSED if facts.closed else Reason.VOICEMAIL
    if facts.outcome in ("callback", "overflowed"):
        return Reason.OVERFLOWED
    if facts.closed:
        return Reason.CLOSED
    if facts.outcome == "abandoned":
        if facts.waited_s is None or facts.waited_s < policy.short_abandon_s:
            return None
        return Reason.ABANDONED
    return None


def spoke_to_someone(facts: CallFacts) -> bool:
    """The citizen spoke to someone: their open callback entry is removed."""
    return facts.answered or facts.outcome == "answered"


@dataclass(frozen=True, slots=True)
class Figures:
    pending: int
    """Open entries (pending, claimed or being dialled)."""
    overdue: int
    """Open entries past their deadline."""
    done_today: int
    """Entries closed today: reached, wrong number, refused (called back)."""
    listed_today: int
    """Entries opened today (missed numbers, one per number)."""
    in_time_share: float | None
    """Of the entries whose deadline has passed or that were done today, the share done in time.

    None when there is none yet.
    """


def figures(entries: Iterable[Entry], policy: CallbackPolicy, now: dt.datetime) -> Figures:
    today = policy.local_day(now)
    pending = overdue = done = listed = judged = in_time = 0
    for item in entries:
        if item.is_open:
            pending += 1
            if item.overdue(policy, now):
                overdue += 1
        if item.day == today:
            listed += 1
        closed_today = item.closed_at is not None and policy.local_day(item.closed_at) == today
        if item.status is Status.DONE and closed_today:
            done += 1
        if item.day != today or item.status in (Status.CLEARED, Status.SUPERSEDED):
            continue
        if item.status is Status.DONE or item.deadline(policy) <= now:
            judged += 1
            in_time += item.in_time(policy)
    share = None if judged == 0 else in_time / judged
    return Figures(pending, overdue, done, listed, share)
