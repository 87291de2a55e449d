"""The fetcher: brings finished recordings from Asterisk into the recordings directory.

Theory of operation
-------------------
The durable metadata store is the work queue.  A recording in ``finished``
is due to be fetched; the fetcher claims it by saving it in ``fetching`` with
a lease (``next_attempt_at`` = now + ``lease``), downloads the file, checks
it (:func:`~recordings.integrity.inspect_recording`), writes it atomically
and reads it back (:meth:`~recordings.storage.FileStore.write_atomic`), saves
it as ``stored`` with its path, size and SHA-256, and only then deletes it
from the source.  So the file always exists in at least one place that the
metadata knows of:

* a fetch that fails (source unreachable, a 5xx, a short body, a full disk)
  goes back to ``finished`` with ``attempts`` + 1 and a backoff delay, and
  is tried again; after ``alarm_after`` failures an alarm is raised once,
  and it keeps being retried;
* a fetch interrupted by an engine restart is found in ``fetching``:
  :meth:`RecordingFetcher.resume` (at start) or an expired lease puts it
  back to ``finished``;
* a delete that fails leaves the row ``stored`` with ``source_deleted``
  false and a due time: the delete is retried (a 404 counts as done);
* a file the source no longer has (404 before it was stored) is ``lost``:
  the recording is ``failed`` and an alarm is raised.

The loop wakes up on :meth:`RecordingFetcher.wake` (a recording finished) or
when the earliest due time comes, whichever is first, and never waits longer
than ``poll_interval``.  A store outage (:class:`MetadataUnavailable`) makes
it back off and try again; it never stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import structlog

from recordings.errors import (
    IntegrityMismatch,
    MetadataUnavailable,
    RecordingMissing,
    SourceUnavailable,
)
from recordings.integrity import inspect_recording
from recordings.layout import relative_path
from recordings.lifecycle import Recording, RecordingEvent, RecordingState
from recordings.protocols import RecordingSource, RecordingStore
from recordings.storage import FileStore

log = structlog.get_logger("recordings.fetcher")

AlarmCallback = Callable[[Recording, str], Awaitable[None]]
"""Called with the recording and a reason (``lost``, ``fetch_failing``)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2^(n-1)))."""

    base: float = 1.0
    cap: float = 300.0

    def delay(self, attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return rand(0.0, ceiling)


class RecordingFetcher:
    """Fetches due recordings from ``source`` into ``files``; see the module docstring."""

    def __init__(
        self,
        source: RecordingSource,
        store: RecordingStore,
        files: FileStore,
        *,
        zone: tzinfo = UTC,
        now: Callable[[], datetime] = utc_now,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=5),
        concurrency: int = 2,
        batch: int = 20,
        poll_interval: float = 30.0,
        alarm_after: int = 5,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.files = files
        self.zone = zone
        self.now = now
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.batch = batch
        self.poll_interval = poll_interval
        self.alarm_after = alarm_after
        self.on_alarm = on_alarm
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self.passes = 0

    def __repr__(self) -> str:
        return f"<RecordingFetcher passes={self.passes} source={self.source!r}>"

    def wake(self) -> None:
        """Look for due work now (a recording just finished)."""
        self._wake.set()

    async def resume(self) -> int:
        """Put fetches abandoned by a previous run back to ``finished``; how many."""
        count = 0
        while abandoned := await self.store.list_in_state(RecordingState.FETCHING, self.batch):
            for recording in abandoned:
                await self.store.save(
                    recording.apply(RecordingEvent.INTERRUPTED, next_attempt_at=None)
                )
                log.info("recording_fetch_resumed", recording=recording.name)
                count += 1
        return count

    async def run(self) -> None:
        """Fetch due recordings until cancelled."""
        store_failures = 0
        resumed = False
        while True:
            self._wake.clear()
            try:
                if not resumed:
                    await self.resume()
                    resumed = True
                while await self.run_once() >= self.batch:
                    pass
                delay = await self._idle_delay()
                store_failures = 0
            except MetadataUnavailable as exc:
                store_failures += 1
                delay = self.backoff.delay(store_failures)
                log.warning("recording_store_unavailable", error=str(exc), retry_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def run_once(self) -> int:
        """Process the recordings due now; return how many were due.

        Raise :class:`MetadataUnavailable` if the store failed (after every
        started item has finished).
        """
        due = await self.store.list_due(self.now(), self.batch)
        self.passes += 1
        results = await asyncio.gather(*(self._guarded(r) for r in due), return_exceptions=True)
        for result in results:
            if isinstance(result, MetadataUnavailable):
                raise result
            if isinstance(result, BaseException):
                log.error("recording_fetch_crashed", error=repr(result))
        return len(due)

    async def _guarded(self, recording: Recording) -> Recording:
        async with self._slots:
            return await self.process(recording)

    async def process(self, recording: Recording) -> Recording:
        """Move one due recording as far as it goes; return it as saved."""
        if recording.state is RecordingState.STORED:
            return await self._delete_source(recording)
        if recording.state is RecordingState.FETCHING:
            log.warning("recording_fetch_lease_expired", recording=recording.name)
            recording = recording.apply(RecordingEvent.INTERRUPTED)
        recording = recording.apply(
            RecordingEvent.FETCH_STARTED, next_attempt_at=self.now() + self.lease
        )
        await self.store.save(recording)
        try:
            data = await self.source.fetch(recording.name)
        except RecordingMissing:
            lost = recording.apply(
                RecordingEvent.LOST, error="not found on the source", next_attempt_at=None
            )
            await self.store.save(lost)
            log.error("recording_lost", recording=lost.name, call_id=lost.call_id)
            await self._alarm(lost, "lost")
            return lost
        except SourceUnavailable as exc:
            return await self._retry(recording, f"fetch: {exc.detail}")
        try:
            info = inspect_recording(recording.name, recording.format, data)
            path = relative_path(
                recording.call_id,
                recording.segment,
                recording.started_at,
                self.zone,
                recording.format,
            )
            await self.files.write_atomic(path, data, name=recording.name)
        except IntegrityMismatch as exc:
            return await self._retry(recording, str(exc))
        except OSError as exc:
            return await self._retry(recording, f"write: {exc}")
        stored = recording.apply(
            RecordingEvent.STORED,
            file_path=path,
            size_bytes=info.size_bytes,
            sha256=info.sha256,
            duration_s=info.duration_s if info.duration_s is not None else recording.duration_s,
            error=None,
            next_attempt_at=None,
        )
        await self.store.save(stored)
        log.info(
            "recording_stored",
            recording=stored.name,
            call_id=stored.call_id,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
        )
        return await self._delete_source(stored)

    async def _retry(self, recording: Recording, reason: str) -> Recording:
        attempts = recording.attempts + 1
        delay = self.backoff.delay(attempts)
        again = recording.apply(
            RecordingEvent.FETCH_FAILED,
            attempts=attempts,
            error=reason,
            next_attempt_at=self.now() + timedelta(seconds=delay),
        )
        await self.store.save(again)
        log.warning(
            "recording_fetch_retry",
            recording=again.name,
            attempts=attempts,
            retry_in=round(delay, 3),
            error=reason,
        )
        if attempts == self.alarm_after:
            await self._alarm(again, "fetch_failing")
        return again

    async def _delete_source(self, stored: Recording) -> Recording:
        try:
            await self.source.delete(stored.name)
        except RecordingMissing:
            pass  # already gone: the delete of an earlier run went through
        except SourceUnavailable as exc:
            attempts = stored.attempts + 1
            delay = self.backoff.delay(attempts)
            pending = stored.with_changes(
                attempts=attempts,
                error=f"delete: {exc.detail}",
                next_attempt_at=self.now() + timedelta(seconds=delay),
            )
            await self.store.save(pending)
            log.warning("recording_delete_retry", recording=stored.name, attempts=attempts)
            return pending
        done = stored.with_changes(source_deleted=True, error=None, next_attempt_at=None)
        await self.store.save(done)
        log.info("recording_source_deleted", recording=done.name)
        return done

    async def _alarm(self, recording: Recording, reason: str) -> None:
        if self.on_alarm is None:
            return
        try:
            await self.on_alarm(recording, reason)
        except Exception as exc:  # an alarm must never stop the fetcher
            log.error("recording_alarm_failed", recording=recording.name, error=repr(exc))

    async def _idle_delay(self) -> float:
        due = await self.store.next_due_at()
        if due is None:
            return self.poll_interval
        seconds = (due - self.now()).total_seconds()
        return min(self.poll_interval, max(0.0, seconds))
