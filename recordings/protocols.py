"""The interfaces this package needs from the outside world.

``recordings`` imports nothing of the engine: the engine gives it adapters
that satisfy these protocols (a source over ARI, a metadata store and an
audit sink over PostgreSQL).  Each adapter translates its library's errors
into this package's: :class:`~recordings.errors.SourceUnavailable` and
:class:`~recordings.errors.RecordingMissing` for a source,
:class:`~recordings.errors.MetadataUnavailable` for a store or audit sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from recordings.lifecycle import CallId, Recording, RecordingName, RecordingState


class RecordingSource(Protocol):
    """Where finished recordings wait to be fetched (Asterisk's stored recordings)."""

    async def fetch(self, name: RecordingName) -> bytes:
        """The whole file. Raise ``RecordingMissing`` (404) or ``SourceUnavailable``."""
        ...

    async def delete(self, name: RecordingName) -> None:
        """Delete the file. Raise ``RecordingMissing`` (404) or ``SourceUnavailable``."""
        ...


class RecordingStore(Protocol):
    """The durable metadata of recordings, one row per :class:`Recording` (by name)."""

    async def save(self, recording: Recording) -> None:
        """Insert or replace the row of ``recording.name``."""
        ...

    async def get(self, name: RecordingName) -> Recording | None: ...

    async def list_for_call(self, call_id: CallId) -> list[Recording]:
        """The call's recordings, by segment (purged ones excluded)."""
        ...

    async def list_due(self, now: datetime, limit: int) -> list[Recording]:
        """Work for the fetcher, oldest due first.

        Recordings in ``finished`` due at ``now``; in ``fetching`` whose lease
        (``next_attempt_at``) is over; in ``stored`` whose Asterisk copy is not
        yet deleted and is due.
        """
        ...

    async def list_in_state(self, state: RecordingState, limit: int) -> list[Recording]: ...

    async def next_due_at(self) -> datetime | None:
        """The earliest ``next_attempt_at`` of any work for the fetcher."""
        ...

    async def list_expired(self, before: datetime, limit: int) -> list[Recording]:
        """``stored`` and ``failed`` recordings started before ``before``."""
        ...

    async def purge(self, name: RecordingName) -> None:
        """Delete the metadata row of a purged recording."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: who did what to which recording, allowed or not."""

    actor: str
    role: str
    action: str
    target: str | None
    allowed: bool = True
    detail: dict[str, Any] = field(default_factory=dict)


class AuditSink(Protocol):
    async def record(self, entry: AuditEntry) -> None:
        """Write ``entry`` durably (its time is the time of writing)."""
        ...


def by_segment(recordings: Sequence[Recording]) -> list[Recording]:
    return sorted(recordings, key=lambda r: (r.segment, r.started_at))
