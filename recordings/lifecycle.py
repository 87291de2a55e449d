"""The lifecycle of one recording, as a transition table.

Theory of operation
-------------------
The engine starts a bridge recording (ARI ``POST /bridges/{id}/record``) and
a :class:`Recording` is born in ``recording``.  When Asterisk reports the end
(the ``RecordingFinished`` event) it moves to ``finished``: the file exists on
the Asterisk side and must be fetched.  The fetcher moves it to ``fetching``
while it downloads; a failure it can retry (Asterisk unreachable, a short or
corrupt body, a full disk, an engine restart mid-download) moves it back to
``finished``, so a failed fetch stays pending and is never lost.  A fetch that
landed on disk with its size and SHA-256 checked moves it to ``stored``; only
then is the file deleted from Asterisk.  A recording Asterisk could not make
(``RecordingFailed``, or the ``500`` of ``record_dir_missing_500.jsonl``), or
whose file vanished from Asterisk before it could be fetched, ends in
``failed``.  Retention moves ``stored`` and ``failed`` recordings to
``purged``.

::

    recording --finished--> finished --fetch_started--> fetching --stored--> stored
        |                      ^                            |                  |
        |                      +---fetch_failed/interrupted-+                  |
        +--failed--> failed <-------------lost--------------+                  |
                       |                                                       |
                       +--------------------purged--> purged <------purged-----+

Any other move is a bug and raises :class:`IllegalTransition`.  The states a
listing shows (:class:`PublicStatus`) are coarser than these internal ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NewType

from recordings.errors import IllegalTransition

CallId = NewType("CallId", str)
"""The engine's identity of one citizen call (the same string as ``cti.ids.CallId``)."""

RecordingName = NewType("RecordingName", str)
"""The Asterisk name of one recording (``name`` of ``POST /bridges/{id}/record``)."""


class RecordingState(StrEnum):
    RECORDING = "recording"
    FINISHED = "finished"
    FETCHING = "fetching"
    STORED = "stored"
    FAILED = "failed"
    PURGED = "purged"


class RecordingEvent(StrEnum):
    FINISHED = "finished"  # ARI RecordingFinished
    FAILED = "failed"  # ARI RecordingFailed, or the record request refused
    FETCH_STARTED = "fetch_started"
    FETCH_FAILED = "fetch_failed"  # transient: retried later
    INTERRUPTED = "interrupted"  # a fetch found abandoned (engine restart)
    STORED = "stored"
    LOST = "lost"  # the source no longer has the file
    PURGED = "purged"


class PublicStatus(StrEnum):
    """What listings and the API show."""

    RECORDING = "recording"
    PROCESSING = "processing"
    AVAILABLE = "available"
    FAILED = "failed"
    PURGED = "purged"


_S = RecordingState
_E = RecordingEvent

TRANSITIONS: dict[RecordingState, dict[RecordingEvent, RecordingState]] = {
    _S.RECORDING: {_E.FINISHED: _S.FINISHED, _E.FAILED: _S.FAILED},
    _S.FINISHED: {_E.FETCH_STARTED: _S.FETCHING},
    _S.FETCHING: {
        _E.FETCH_FAILED: _S.FINISHED,
        _E.INTERRUPTED: _S.FINISHED,
        _E.STORED: _S.STORED,
        _E.LOST: _S.FAILED,
    },
    _S.STORED: {_E.PURGED: _S.PURGED},
    _S.FAILED: {_E.PURGED: _S.PURGED},
    _S.PURGED: {},
}

PUBLIC_STATUS: dict[RecordingState, PublicStatus] = {
    _S.RECORDING: PublicStatus.RECORDING,
    _S.FINISHED: PublicStatus.PROCESSING,
    _S.FETCHING: PublicStatus.PROCESSING,
    _S.STORED: PublicStatus.AVAILABLE,
    _S.FAILED: PublicStatus.FAILED,
    _S.PURGED: PublicStatus.PURGED,
}

PENDING_STATES = frozenset({_S.FINISHED, _S.FETCHING})
"""States in which a file exists on the Asterisk side and must still be fetched."""

EXPIRABLE_STATES = frozenset({_S.STORED, _S.FAILED})
"""States that retention may purge."""


def next_state(state: RecordingState, event: RecordingEvent, *, name: str = "") -> RecordingState:
    """The state ``event`` leads to from ``state``; raise :class:`IllegalTransition` if none."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(name, state.value, event.value) from None


def allows(state: RecordingState, event: RecordingEvent) -> bool:
    return event in TRANSITIONS[state]


@dataclass(frozen=True, slots=True)
class Recording:
    """The metadata of one recording segment of a call.

    ``file_path`` is relative to the storage root (see :mod:`recordings.layout`),
    so the root can move without rewriting rows.  ``attempts`` counts failed
    fetch or delete attempts; ``next_attempt_at`` is when the fetcher may try
    again (``None``: now).  ``source_deleted`` becomes true once Asterisk's
    copy has been deleted, which happens only after ``stored`` was saved.
    """

    name: RecordingName
    call_id: CallId
    started_at: datetime
    segment: int = 1
    state: RecordingState = RecordingState.RECORDING
    agents: tuple[str, ...] = ()
    format: str = "wav"
    finished_at: datetime | None = None
    duration_s: float | None = None
    file_path: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    error: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    source_deleted: bool = False

    def __repr__(self) -> str:
        return f"<Recording {self.name} call={self.call_id} seg={self.segment} {self.state.value}>"

    @property
    def public_status(self) -> PublicStatus:
        return PUBLIC_STATUS[self.state]

    def apply(self, event: RecordingEvent, **changes: Any) -> Recording:
        """A copy in the state ``event`` leads to, with ``changes`` applied."""
        state = next_state(self.state, event, name=self.name)
        return dataclasses.replace(self, state=state, **changes)

    def with_changes(self, **changes: Any) -> Recording:
        """A copy with ``changes`` and the same state."""
        if "state" in changes:
            raise ValueError("change the state through apply()")
        return dataclasses.replace(self, **changes)
