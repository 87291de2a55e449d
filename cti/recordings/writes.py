"""Write-behind for the recording service: recording rows and call events that
must not be lost while PostgreSQL is unreachable.

A write goes straight to the database when nothing is waiting; when the
database refuses it, it waits in memory and every later write queues behind
it, so the order is kept: recordings by name (the last version of a row wins),
call events in the order they happened.  :meth:`PendingWrites.run` retries
with backoff until everything is written, then calls ``on_flushed`` (the
service wakes its fetcher, which only sees rows in the database).  Writes are
serialised by one lock, so two versions of a row never race.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from cti.errors import StoreError
from cti.recordings.store import PgRecordingStore
from cti.store import Database
from recordings import Backoff, MetadataUnavailable, Recording

log = structlog.get_logger("cti.recordings")

CallEventRow = tuple[str, datetime, str, dict[str, Any]]  # call_id, at, kind, detail


class PendingWrites:
    """Recording rows and ``call_events`` rows, written now or as soon as possible."""

    def __init__(
        self,
        db: Database,
        store: PgRecordingStore,
        *,
        backoff: Backoff,
        on_flushed: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.store = store
        self.backoff = backoff
        self.on_flushed = on_flushed
        self.recordings: dict[str, Recording] = {}
        self.events: list[CallEventRow] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"<PendingWrites recordings={len(self.recordings)} events={len(self.events)}>"

    def __len__(self) -> int:
        return len(self.recordings) + len(self.events)

    def get(self, name: str) -> Recording | None:
        """The version of ``name`` still waiting to be written, if any."""
        return self.recordings.get(name)

    async def save(self, recording: Recording) -> None:
        """Write the row now, or keep it for later; never raises a store error."""
        async with self._lock:
            self.recordings[recording.name] = recording
            if len(self.recordings) > 1:
                self._wake.set()  # older rows are waiting: this one goes behind them
                return
            try:
                await self.store.save(recording)
            except MetadataUnavailable as exc:
                log.warning("recording_save_deferred", recording=recording.name, error=str(exc))
                self._wake.set()
                return
            if self.recordings.get(recording.name) is recording:
                del self.recordings[recording.name]

    async def call_event(
        self, call_id: str, at: datetime, kind: str, detail: dict[str, Any]
    ) -> None:
        """Append a ``call_events`` row now, or keep it for later; never raises a store error."""
        async with self._lock:
            self.events.append((call_id, at, kind, detail))
            if len(self.events) > 1:
                self._wake.set()
                return
            try:
                await self._insert(self.events[0])
            except StoreError as exc:
                log.warning("recording_call_event_deferred", call_id=call_id, error=str(exc))
                self._wake.set()
                return
            self.events.pop(0)

    async def _insert(self, row: CallEventRow) -> None:
        await self.db.execute(
            "INSERT INTO call_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4)", *row
        )

    async def flush(self) -> bool:
        """Write everything waiting, in order; whether all of it was written."""
        async with self._lock:
            try:
                for name, recording in list(self.recordings.items()):
                    await self.store.save(recording)
                    if self.recordings.get(name) is recording:
                        del self.recordings[name]
                while self.events:
                    await self._insert(self.events[0])
                    self.events.pop(0)
            except (MetadataUnavailable, StoreError) as exc:
                log.warning("recording_flush_deferred", unsaved=len(self), error=str(exc))
                return False
        self.on_flushed()
        return True

    async def run(self) -> None:
        """Flush whenever something is waiting, backing off while the database is down."""
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self.flush():
                failures = 0
                continue
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.backoff.delay(failures))
            self._wake.set()
