"""The callback list as a whole: ``handle(event, now) -> changes``, and what is due next.

Theory of operation
-------------------
:class:`CallbackBook` holds the entries (:mod:`callbacks.entry`) and keeps
one invariant: a number has at most one open entry.  A miss opens the
number's entry for its local day, or merges into it; a miss on a later day
supersedes an older open entry (or merges into it while it is being
dialled, so that the number is still called once at a time).  A call from
the number that was answered clears its open entry.  Requests that cannot be
granted come back as :class:`Refused`; every change as :class:`Changed`
with the entry's new value, for the shell to store.  :func:`next_due` picks
the pending entries that may be called now, the nearest deadline first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from callbacks import entry as e
from callbacks.entry import Entry, Miss, Status
from callbacks.errors import Refusal
from callbacks.policy import CallbackPolicy, Outcome, aware


@dataclass(frozen=True, slots=True)
class Missed:
    number: str
    miss: Miss


@dataclass(frozen=True, slots=True)
class GotThrough:
    number: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    agent: str


@dataclass(frozen=True, slots=True)
class Release:
    key: str


@dataclass(frozen=True, slots=True)
class SkipEntry:
    key: str
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class Dial:
    key: str
    agent: str | None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    key: str
    outcome: Outcome
    agent: str | None = None


Event = Missed | GotThrough | Claim | Release | SkipEntry | Dial | RecordOutcome


@dataclass(frozen=True, slots=True)
class Changed:
    entry: Entry


@dataclass(frozen=True, slots=True)
class Refused:
    key: str
    code: str
    message: str


Change = Changed | Refused


def apply_miss(
    current: Entry | None, number: str, miss: Miss, policy: CallbackPolicy
) -> list[Entry]:
    """The entries to store for a miss, given the number's open entry (or None)."""
    if current is None or not current.is_open:
        return [e.opened(number, miss, policy)]
    if current.day == policy.local_day(miss.at) or current.status is Status.DIALLING:
        return [e.add_miss(current, miss)]
    return [e.supersede(current, miss.at), e.opened(number, miss, policy)]


class CallbackBook:
    """Every entry, by key; at most one open entry per number."""

    def __init__(self, policy: CallbackPolicy, entries: list[Entry] | None = None) -> None:
        self.policy = policy
        self.entries: dict[str, Entry] = {}
        self._open: dict[str, str] = {}
        for item in entries or []:
            self._store(item)

    def __repr__(self) -> str:
        return f"<CallbackBook entries={len(self.entries)} open={len(self._open)}>"

    def _store(self, item: Entry) -> None:
        self.entries[item.key] = item
        if item.is_open:
            self._open[item.number] = item.key
        elif self._open.get(item.number) == item.key:
            del self._open[item.number]

    def open_entry(self, number: str) -> Entry | None:
        key = self._open.get(number)
        return self.entries[key] if key else None

    def handle(self, event: Event, now: dt.datetime) -> list[Change]:
        aware(now)
        if isinstance(event, Missed):
            changes: list[Change] = []
            for item in apply_miss(
                self.open_entry(event.number), event.number, event.miss, self.policy
            ):
                self._store(item)
                changes.append(Changed(item))
            return changes
        if isinstance(event, GotThrough):
            current = self.open_entry(event.number)
            if current is None:
                return []
            item = e.got_through(current, event.call_id, now)
            self._store(item)
            return [Changed(item)]
        current = self.entries.get(event.key)
        if current is None:
            return [Refused(event.key, "unknown", f"no callback {event.key}")]
        try:
            item = self._act(current, event, now)
        except Refusal as exc:
            return [Refused(event.key, exc.code, exc.message)]
        if item == current:
            return []
        self._store(item)
        return [Changed(item)]

    def _act(self, current: Entry, event: Event, now: dt.datetime) -> Entry:
        policy = self.policy
        if isinstance(event, Claim):
            return e.claim(current, event.agent, now)
        if isinstance(event, Release):
            return e.release(current)
        if isinstance(event, SkipEntry):
            return e.skip(current, event.agent, event.reason, now)
        if isinstance(event, Dial):
            return e.dial(current, event.agent, now, policy, event.call_id)
        if isinstance(event, RecordOutcome):
            return e.record_outcome(current, event.outcome, now, policy, event.agent)
        raise TypeError(f"not a callback event: {event!r}")

    def next_due(self, now: dt.datetime, limit: int) -> list[Entry]:
        return next_due(self.entries.values(), self.policy, now, limit)


def next_due(
    entries: Iterable[Entry], policy: CallbackPolicy, now: dt.datetime, limit: int
) -> list[Entry]:
    """Up to ``limit`` entries that may be called at ``now``: nearest deadline first."""
    due = [item for item in entries if item.due(policy, now)]
    due.sort(key=lambda item: (item.deadline(policy), item.first_missed_at, item.number))
    return due[: max(0, limit)]
