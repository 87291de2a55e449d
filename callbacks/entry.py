"""One entry of the callback list (漏接回拨): a citizen number on one local day.

Theory of operation
-------------------
Every missed call of a number on a day lands on the same entry, which keeps
each miss (time, line, call id, why).  An entry moves through the table
:data:`TRANSITIONS`::

    pending --claim--> claimed --dial--> dialling --outcome--> pending | done | failed
    claimed --skip / release--> pending
    pending | claimed --got through--> cleared
    pending | claimed --a newer day's miss--> superseded

``dialling`` is the one state in which the citizen is being called, so a
number is never called twice at once as long as it has one open entry (the
list guarantees that: :mod:`callbacks.book`).  An attempt that did not reach
anyone (no answer, busy, voicemail) returns the entry to ``pending`` until
the policy's attempts are spent (then ``failed``); reached, wrong number and
refused end it (``done``).  A citizen who gets through while being dialled
(an inbound call answered during the attempt) clears the entry once the
attempt's outcome arrives.  Each function returns a new entry; none reads a
clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from callbacks.errors import IllegalTransition, Refusal
from callbacks.policy import FINAL_OUTCOMES, CallbackPolicy, Outcome, aware


class Reason(StrEnum):
    """Why a call counts as missed."""

    ABANDONED = "abandoned"  # hung up in the queue after the short-abandon threshold
    OVERFLOWED = "overflowed"  # the queue overflowed to the callback list or a prompt
    VOICEMAIL = "voicemail"  # left a message
    CLOSED = "closed"  # called outside opening hours on a route that closes
    QUEUE_FULL = "queue_full"  # refused by a full queue


class Status(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DIALLING = "dialling"
    DONE = "done"
    FAILED = "failed"
    CLEARED = "cleared"  # the citizen got through on their own
    SUPERSEDED = "superseded"  # a newer day's entry took over the number


OPEN = frozenset({Status.PENDING, Status.CLAIMED, Status.DIALLING})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.CLAIMED, Status.CLEARED, Status.SUPERSEDED}),
    Status.CLAIMED: frozenset({Status.DIALLING, Status.PENDING, Status.CLEARED, Status.SUPERSEDED}),
    Status.DIALLING: frozenset({Status.PENDING, Status.DONE, Status.FAILED, Status.CLEARED}),
    Status.DONE: frozenset(),
    Status.FAILED: frozenset(),
    Status.CLEARED: frozenset(),
    Status.SUPERSEDED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Miss:
    call_id: str
    at: dt.datetime
    line: str
    """The number the citizen dialled (12345 or a merged line)."""
    reason: Reason
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    at: dt.datetime
    agent: str | None
    outcome: Outcome | None = None
    """None while the call is under way."""
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    at: dt.datetime
    agent: str
    reason: str


def entry_key(number: str, day: dt.date) -> str:
    return f"{number}@{day.isoformat()}"


@dataclass(frozen=True, slots=True)
class Entry:
    number: str
    day: dt.date
    status: Status
    misses: tuple[Miss, ...]
    attempts: tuple[Attempt, ...] = ()
    skips: tuple[Skip, ...] = ()
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    cleared_by: str | None = None
    """The call id through which the citizen got through (``cleared``)."""
    got_through: bool = False
    """The citizen got through during an attempt; the entry clears at its outcome."""

    def __repr__(self) -> str:
        return (
            f"<Entry {self.key} {self.status} misses={len(self.misses)} tries={len(self.attempts)}>"
        )

    @property
    def key(self) -> str:
        return entry_key(self.number, self.day)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def first_missed_at(self) -> dt.datetime:
        return self.misses[0].at

    @property
    def last_missed_at(self) -> dt.datetime:
        return self.misses[-1].at

    @property
    def tries(self) -> int:
        """Attempts with an outcome, and the one under way."""
        return len(self.attempts)

    def deadline(self, policy: CallbackPolicy) -> dt.datetime:
        return policy.deadline_for(self.first_missed_at)

    def overdue(self, policy: CallbackPolicy, now: dt.datetime) -> bool:
        return self.is_open and aware(now) > self.deadline(policy)

    def in_time(self, policy: CallbackPolicy) -> bool:
        """Done (reached, refused, wrong number) by its deadline."""
        return (
            self.status is Status.DONE
            and self.closed_at is not None
            and self.closed_at <= self.deadline(policy)
        )

    def next_try_at(self, policy: CallbackPolicy) -> dt.datetime:
        """The earliest moment the number may be called (quiet hours and spacing)."""
        earliest = self.last_missed_at
        if self.attempts:
            earliest = max(earliest, self.attempts[-1].at + policy.spacing)
        return policy.next_open(earliest)

    def due(self, policy: CallbackPolicy, now: dt.datetime) -> bool:
        return (
            self.status is Status.PENDING
            and not policy.is_quiet(now)
            and self.next_try_at(policy) <= aware(now)
        )


def _move(entry: Entry, target: Status, **changes: object) -> Entry:
    if target not in TRANSITIONS[entry.status]:
        raise IllegalTransition("callback entry", entry.key, entry.status, target)
    return replace(entry, status=target, **changes)  # type: ignore[arg-type]


def opened(number: str, miss: Miss, policy: CallbackPolicy) -> Entry:
    """A new entry for the first miss of ``number`` on its local day."""
    return Entry(number, policy.local_day(miss.at), Status.PENDING, (miss,))


def add_miss(entry: Entry, miss: Miss) -> Entry:
    """Merge a repeat miss (same number, same day) into the entry; kept in time order."""
    if any(m.call_id == miss.call_id for m in entry.misses):
        return entry  # the same record written twice
    misses = tuple(sorted((*entry.misses, miss), key=lambda m: m.at))
    return replace(entry, misses=misses)


def claim(entry: Entry, agent: str, now: dt.datetime) -> Entry:
    if entry.status is Status.CLAIMED and entry.claimed_by == agent:
        return entry
    if entry.status is not Status.PENDING:
        holder = f" by {entry.claimed_by}" if entry.claimed_by else ""
        raise Refusal("not_pending", f"the callback is {entry.status}{holder}")
    return _move(entry, Status.CLAIMED, claimed_by=agent, claimed_at=aware(now))


def release(entry: Entry) -> Entry:
    if entry.status is not Status.CLAIMED:
        raise Refusal("not_claimed", f"the callback is {entry.status}, not claimed")
    return _move(entry, Status.PENDING, claimed_by=None, claimed_at=None)


def skip(entry: Entry, agent: str, reason: str, now: dt.datetime) -> Entry:
    """The agent passes on the entry (preview's Skip); it goes back to the list."""
    if entry.status is Status.PENDING:
        entry = claim(entry, agent, now)
    if entry.status is not Status.CLAIMED or entry.claimed_by != agent:
        raise Refusal("not_yours", "only the agent holding the callback may skip it")
    skipped = (*entry.skips, Skip(aware(now), agent, reason))
    return _move(entry, Status.PENDING, claimed_by=None, claimed_at=None, skips=skipped)


def dial(
    entry: Entry, agent: str | None, now: dt.datetime, policy: CallbackPolicy,
    call_id: str | None = None,
) -> Entry:  # fmt: skip
    """An attempt starts: the citizen is being called (never in quiet hours)."""
    if policy.is_quiet(now):
        raise Refusal("quiet_hours", "no calls to citizens in quiet hours")
    return _begin(entry, agent, now, call_id)


def _begin(entry: Entry, agent: str | None, now: dt.datetime, call_id: str | None) -> Entry:
    if entry.status is Status.PENDING and agent is not None:
        entry = claim(entry, agent, now)
    if entry.status is not Status.CLAIMED:
        raise Refusal("not_claimed", f"the callback is {entry.status}; claim it first")
    if agent is not None and entry.claimed_by != agent:
        raise Refusal("not_yours", f"the callback is held by {entry.claimed_by}")
    attempt = Attempt(aware(now), agent if agent is not None else entry.claimed_by, None, call_id)
    return _move(entry, Status.DIALLING, attempts=(*entry.attempts, attempt))


def record_outcome(
    entry: Entry, outcome: Outcome, now: dt.datetime, policy: CallbackPolicy,
    agent: str | None = None,
) -> Entry:  # fmt: skip
    """The attempt under way ended with ``outcome``.

    An agent may also record the outcome of a call made from the seat phone
    outside the engine: a claimed entry then gets a finished attempt at once.
    Quiet hours do not apply here: they keep calls from starting, and the call
    being recorded was made before (an outcome typed in at 21:01 is kept).
    """
    if entry.status is Status.CLAIMED:
        entry = _begin(entry, agent or entry.claimed_by, now, None)
    if entry.status is not Status.DIALLING:
        raise Refusal("not_dialling", f"the callback is {entry.status}; nothing was dialled")
    last = replace(entry.attempts[-1], outcome=outcome)
    attempts = (*entry.attempts[:-1], last)
    common: dict[str, object] = {"attempts": attempts, "claimed_by": None, "claimed_at": None}
    if entry.got_through:
        return _move(entry, Status.CLEARED, closed_at=aware(now), **common)
    if outcome in FINAL_OUTCOMES:
        return _move(entry, Status.DONE, closed_at=aware(now), **common)
    if len(attempts) >= policy.attempts:
        return _move(entry, Status.FAILED, closed_at=aware(now), **common)
    return _move(entry, Status.PENDING, **common)


def drop_attempt(entry: Entry, call_id: str) -> Entry:
    """The attempt under way never reached the citizen's phone (the agent gave up first).

    The attempt is dropped and the entry goes back to the list, as if the
    call had not been tried: the agent who did not answer their own seat, or
    hung up before the citizen was dialled, spends none of the citizen's
    attempts.  Only the attempt of ``call_id`` is dropped.
    """
    if entry.status is not Status.DIALLING or entry.attempts[-1].call_id != call_id:
        return entry
    return _move(
        entry, Status.PENDING, attempts=entry.attempts[:-1], claimed_by=None, claimed_at=None
    )


def got_through(entry: Entry, call_id: str, now: dt.datetime) -> Entry:
    """The citizen's own call was answered: nobody needs to call them back."""
    if not entry.is_open:
        return entry
    if entry.status is Status.DIALLING:
        return replace(entry, got_through=True, cleared_by=call_id)
    return _move(
        entry, Status.CLEARED, cleared_by=call_id, closed_at=aware(now),
        claimed_by=None, claimed_at=None,
    )  # fmt: skip


def supersede(entry: Entry, now: dt.datetime) -> Entry:
    """A newer day's miss opened a new entry for the number; this one stops."""
    if entry.status is Status.DIALLING or not entry.is_open:
        return entry
    return _move(entry, Status.SUPERSEDED, closed_at=aware(now), claimed_by=None, claimed_at=None)
