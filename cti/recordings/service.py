"""The engine's recording service: from "recording started" to a checked file on disk.

Theory of operation
-------------------
The call orchestrator tells the service what happens to bridge recordings:
:meth:`RecordingService.recording_started` when ``POST /bridges/{id}/record``
answered 201 (or a ``RecordingStarted`` event arrives),
:meth:`~RecordingService.recording_finished` on ``RecordingFinished``,
:meth:`~RecordingService.recording_failed` on ``RecordingFailed``, and
:meth:`~RecordingService.record_request_failed` when the record request
itself was refused (the ``500`` of ``record_dir_missing_500.jsonl``: the
spool directory was missing).  :meth:`~RecordingService.handle_ari_event`
does the same straight from ARI events.  These entry points never raise and
wait for at most a read and a write of one row: the call goes on whatever
happens to its recording.  They run one at a time per recording name (the
engine hands each ARI event to its own task, and ``RecordingStarted`` often
arrives while the orchestrator's own ``recording_started`` is still reading
the row), so a version of a row is never written over by an older one.  The
service must be started (:meth:`start`, or ``async with``) for fetches,
deferred writes, the watch on live recordings and the purge to run.

``RecordingFinished`` cannot be relied on alone.  Asterisk publishes a bridge
recording's events on the bridge's topic, and the application hears them
only while it is subscribed to that bridge.  The engine ends a conversation
by destroying its bridge; the recorder channel then sees its hang-up, closes
the file and publishes ``RecordingFinished``, and when the application has
already left the destroyed bridge by then (a race the recorder loses more
often the busier the machine), the event goes nowhere.  So every
``live_check_interval`` seconds the service asks Asterisk about each
recording it still believes live (``GET /recordings/live/{name}``): a ``404``
means Asterisk has closed the file and forgotten the recording (the live
recording is dropped only after the file is closed), and the recording is
finished as if the event had come.  An error is taken as "still live", so
nothing is fetched while it may still be written.  The first round also
takes up the rows an earlier run of the engine left in ``recording``
(:meth:`~RecordingService.resume_in_progress`).

Each recording is a row of the ``recordings`` table (through
:class:`~cti.recordings.store.PgRecordingStore`); a finished one is due work
for :class:`recordings.RecordingFetcher`, which this service runs, so a
restart resumes every pending fetch from the table.  While the database is
unreachable, rows are kept in memory and written in order when it returns.

A recording that failed on the Asterisk side, or whose file vanished before
it was fetched, is reported on the call (a ``call_events`` row, kind
``recording_failed`` / ``recording_lost``) and raises a
:class:`RecordingAlarm`: kept in :attr:`RecordingService.alarms` and passed
to the ``on_alarm`` callback (the wallboard).  A fetch that keeps failing
raises one alarm too (``recording_fetch_failing``).

The service also runs the retention purge every ``purge_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

import structlog

from cti.recordings.store import DbAuditSink, PgRecordingStore
from cti.recordings.writes import PendingWrites
from cti.store import Database
from recordings import (
    AccessPolicy,
    Backoff,
    CallFacts,
    CallId,
    FileStore,
    MetadataUnavailable,
    PurgeReport,
    Recording,
    RecordingEvent,
    RecordingFetcher,
    RecordingName,
    RecordingSource,
    RecordingState,
    Role,
    parse_recording_name,
    purge_expired,
)

log = structlog.get_logger("cti.recordings")

CallEventSink = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""``(call_id, kind, detail)``: writes one ``call_events`` row."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class LiveRecordingSource(RecordingSource, Protocol):
    """Asterisk's recordings: the stored files, and whether one is still being recorded."""

    async def is_live(self, name: str) -> bool:
        """Whether ``name`` is still recorded; ``True`` when that cannot be known."""
        ...


@dataclass(frozen=True)
class RecordingSettings:
    """One deployment's recording settings (``engine.yaml`` ``recordings`` + platform zone)."""

    directory: Path
    retention_months: int
    zone: tzinfo = UTC
    agent_window: timedelta = timedelta(days=7)
    full_access_roles: frozenset[str] = frozenset(
        {Role.SUPERVISOR.value, Role.QUALITY_INSPECTOR.value}
    )
    number_roles: frozenset[str] = frozenset({Role.SUPERVISOR.value})
    retry_base: float = 1.0
    retry_cap: float = 300.0
    poll_interval: float = 30.0
    fetch_lease: timedelta = timedelta(minutes=5)
    alarm_after: int = 5
    concurrency: int = 2
    purge_interval: float | None = 6 * 3600.0
    alarm_history: int = 200
    live_check_interval: float | None = 5.0

    def policy(self) -> AccessPolicy:
        return AccessPolicy(
            agent_window=self.agent_window,
            full_access_roles=self.full_access_roles,
            number_roles=self.number_roles,
        )


@dataclass(frozen=True, slots=True)
class RecordingAlarm:
    """Something about a call's recording that a supervisor must see."""

    at: datetime
    kind: str  # recording_failed | recording_lost | recording_fetch_failing
    call_id: str
    name: str
    message: str


class RecordingService:
    """Recording lifecycle glue: events in, files and metadata out; see the module docstring."""

    def __init__(
        self,
        db: Database,
        source: LiveRecordingSource,
        settings: RecordingSettings,
        *,
        now: Callable[[], datetime] = utc_now,
        on_alarm: Callable[[RecordingAlarm], None] | None = None,
        call_event: CallEventSink | None = None,
    ) -> None:
        self.db = db
        self.source = source
        self.settings = settings
        self.now = now
        self.store = PgRecordingStore(db)
        self.audit = DbAuditSink(db)
        self.files = FileStore(settings.directory)
        self.policy = settings.policy()
        self.on_alarm = on_alarm
        self._call_event_sink = call_event
        self.alarms: deque[RecordingAlarm] = deque(maxlen=settings.alarm_history)
        self.backoff = Backoff(settings.retry_base, settings.retry_cap)
        self.fetcher = RecordingFetcher(
            source,
            self.store,
            self.files,
            zone=settings.zone,
            now=now,
            backoff=self.backoff,
            lease=settings.fetch_lease,
            concurrency=settings.concurrency,
            poll_interval=settings.poll_interval,
            alarm_after=settings.alarm_after,
            on_alarm=self._fetch_alarm,
        )
        self._live: dict[str, Recording] = {}
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}
        self.pending = PendingWrites(
            db, self.store, backoff=self.backoff, on_flushed=self.fetcher.wake
        )
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return (
            f"<RecordingService live={len(self._live)} unsaved={len(self.pending)}"
            f" alarms={len(self.alarms)}>"
        )

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the fetcher (which first resumes abandoned fetches), the flusher, the purge."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self.fetcher.run(), name="recording-fetcher"),
            asyncio.create_task(self.pending.run(), name="recording-flusher"),
        ]
        if self.settings.purge_interval:
            self._tasks.append(asyncio.create_task(self._purge_loop(), name="recording-purge"))
        if self.settings.live_check_interval:
            self._tasks.append(asyncio.create_task(self._watch_live(), name="recording-watch"))

    async def stop(self) -> None:
        """Stop the background tasks; re-raise if one of them had crashed."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> RecordingService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def unsaved(self) -> int:
        """Writes kept in memory because the database was unreachable."""
        return len(self.pending)

    # -- entry points from the call orchestrator ------------------------------------------

    async def recording_started(
        self,
        call_id: str,
        name: str,
        *,
        segment: int = 1,
        agents: tuple[str, ...] | list[str] = (),
        started_at: datetime | None = None,
        fmt: str = "wav",
    ) -> Recording:
        """A bridge recording of ``call_id`` started (idempotent per ``name``)."""
        async with self._turn(name):
            return await self._started(
                call_id, name, segment=segment, agents=agents, started_at=started_at, fmt=fmt
            )

    async def _started(
        self,
        call_id: str,
        name: str,
        *,
        segment: int = 1,
        agents: tuple[str, ...] | list[str] = (),
        started_at: datetime | None = None,
        fmt: str = "wav",
    ) -> Recording:
        known = await self._current(RecordingName(name))
        if known is not None:
            if known.state is RecordingState.RECORDING and agents:
                known = known.with_changes(agents=_merge(known.agents, agents))
                self._live[name] = known
                await self._save(known)
            return known
        recording = Recording(
            name=RecordingName(name),
            call_id=CallId(call_id),
            segment=segment,
            agents=tuple(agents),
            started_at=started_at or self.now(),
            format=fmt,
        )
        self._live[name] = recording
        await self._save(recording)
        log.info("recording_started", call_id=call_id, recording=name, segment=segment)
        return recording

    async def recording_finished(
        self,
        name: str,
        *,
        duration_s: float | None = None,
        agents: tuple[str, ...] | list[str] = (),
    ) -> Recording:
        """Asterisk finished the recording (``RecordingFinished``): fetch it."""
        async with self._turn(name):
            return await self._finished(name, duration_s=duration_s, agents=agents)

    async def _finished(
        self,
        name: str,
        *,
        duration_s: float | None = None,
        agents: tuple[str, ...] | list[str] = (),
    ) -> Recording:
        recording = await self._current_or_new(RecordingName(name), duration_s)
        if recording.state is not RecordingState.RECORDING:
            log.info("recording_finished_again", recording=name, state=recording.state.value)
            return recording
        finished = recording.apply(
            RecordingEvent.FINISHED,
            finished_at=self.now(),
            duration_s=duration_s,
            agents=_merge(recording.agents, agents),
            next_attempt_at=None,
        )
        self._live.pop(name, None)
        await self._save(finished)
        log.info("recording_finished", call_id=finished.call_id, recording=name)
        self.fetcher.wake()
        return finished

    async def recording_failed(
        self, name: str, cause: str, *, status: int | None = None
    ) -> Recording:
        """Asterisk could not make the recording (``RecordingFailed``): report and alarm."""
        async with self._turn(name):
            return await self._failed(name, cause, status=status)

    async def _failed(self, name: str, cause: str, *, status: int | None = None) -> Recording:
        recording = await self._current_or_new(RecordingName(name), None)
        if recording.state is not RecordingState.RECORDING:
            log.warning("recording_failed_late", recording=name, state=recording.state.value)
            return recording
        failed = recording.apply(RecordingEvent.FAILED, error=cause, finished_at=self.now())
        self._live.pop(name, None)
        await self._save(failed)
        await self._report(failed, "recording_failed", cause, status=status)
        return failed

    async def record_request_failed(
        self,
        call_id: str,
        name: str,
        *,
        status: int,
        message: str,
        segment: int = 1,
        agents: tuple[str, ...] | list[str] = (),
    ) -> Recording:
        """``POST /bridges/{id}/record`` was refused (e.g. 500): report and alarm."""
        await self.recording_started(call_id, name, segment=segment, agents=agents)
        return await self.recording_failed(
            name, f"record request refused: HTTP {status} {message}", status=status
        )

    async def handle_ari_event(self, event: Any) -> None:
        """Apply an ARI ``RecordingStarted`` / ``RecordingFinished`` / ``RecordingFailed``.

        ``event`` is the event's JSON object or a typed event with the same
        fields; other events are ignored.
        """
        kind = _field(event, "type")
        recording = _field(event, "recording")
        if kind not in ("RecordingStarted", "RecordingFinished", "RecordingFailed"):
            return
        name = _field(recording, "name")
        if not isinstance(name, str) or not name:
            log.warning("recording_event_without_name", event_type=kind)
            return
        if kind == "RecordingStarted":
            async with self._turn(name):
                if await self._current(RecordingName(name)) is None:
                    call_id, segment = _guess_identity(name)
                    await self._started(call_id, name, segment=segment)
        elif kind == "RecordingFinished":
            duration = _field(recording, "duration")
            await self.recording_finished(
                name, duration_s=float(duration) if isinstance(duration, int | float) else None
            )
        else:
            cause = _field(recording, "cause")
            await self.recording_failed(name, str(cause) if cause else "RecordingFailed")

    async def resume_in_progress(
        self, is_live: Callable[[str], Awaitable[bool]] | None = None
    ) -> list[str]:
        """Finish the recordings that ended while the engine was away; their names.

        A ``RecordingFinished`` sent while the engine was down is never seen
        again, so after a (re)connection the orchestrator calls this: every
        row still in ``recording`` that Asterisk no longer records (asked with
        ``is_live``, by default the source's, which answers "live" when
        Asterisk cannot be asked) is treated as finished, and fetched (or
        found lost, and alarmed).  The rows Asterisk still records are
        watched from then on like the ones this process started.
        """
        ask = is_live or self.source.is_live
        finished: list[str] = []
        try:
            rows = await self.store.list_in_state(RecordingState.RECORDING, 1000)
        except MetadataUnavailable as exc:
            log.warning("recording_resume_deferred", error=str(exc))
            return finished
        for row in rows:
            if await ask(row.name):
                self._live.setdefault(row.name, row)
                continue
            await self.recording_finished(row.name)
            finished.append(row.name)
        if finished:
            log.info("recordings_resumed", count=len(finished))
        return finished

    async def confirm_live(self) -> list[str]:
        """Finish the recordings Asterisk no longer records though no event said so; their names.

        One ``GET /recordings/live/{name}`` per recording this process
        believes live (see the module docstring: ``RecordingFinished`` of a
        bridge recording is lost when its bridge was destroyed first).
        """
        finished: list[str] = []
        for name in list(self._live):
            if await self.source.is_live(name):
                continue
            async with self._turn(name):
                current = await self._current(RecordingName(name))
                if current is None or current.state is not RecordingState.RECORDING:
                    self._live.pop(name, None)
                    continue
                log.warning("recording_finished_unreported", recording=name)
                await self._finished(name)
            finished.append(name)
        return finished

    # -- queries ----------------------------------------------------------------------------

    async def access_facts(self, call_id: str) -> tuple[list[Recording], CallFacts] | None:
        """The call's recordings and what the access policy needs; ``None`` if none.

        Raise :class:`recordings.MetadataUnavailable` if the database is down.
        """
        recordings = await self.store.list_for_call(CallId(call_id))
        if not recordings:
            return None
        call = await self.store.call_summary(CallId(call_id))
        agents = {agent for r in recordings for agent in r.agents}
        ends = [_end_of(r) for r in recordings]
        if call is not None:
            agents |= {a for a in (call.first_agent, call.last_agent) if a}
            if call.ended_at is not None:
                ends.append(call.ended_at)
        return recordings, CallFacts(call_id, frozenset(agents), max(ends))

    async def purge_now(self) -> PurgeReport:
        """Run the retention purge once (raise ``MetadataUnavailable`` if the database is down)."""
        report = await purge_expired(
            self.store,
            self.files,
            self.audit,
            now=self.now(),
            months=self.settings.retention_months,
            zone=self.settings.zone,
        )
        log.info("recordings_purge_done", purged=len(report.purged), errors=len(report.errors))
        return report

    # -- internals --------------------------------------------------------------------------

    async def _current(self, name: RecordingName) -> Recording | None:
        waiting = self.pending.get(name)
        if waiting is not None:
            return waiting
        if name in self._live:
            return self._live[name]
        try:
            return await self.store.get(name)
        except MetadataUnavailable:
            return None

    async def _current_or_new(self, name: RecordingName, duration_s: float | None) -> Recording:
        known = await self._current(name)
        if known is not None:
            return known
        # An event for a recording this process never heard start (e.g. started
        # before an engine restart whose row was not written): keep it anyway.
        call_id, segment = _guess_identity(name)
        started = self.now() - timedelta(seconds=duration_s or 0)
        log.warning("recording_unknown", recording=name, call_id=call_id)
        return Recording(name=name, call_id=CallId(call_id), segment=segment, started_at=started)

    async def _save(self, recording: Recording) -> None:
        await self.pending.save(recording)

    async def _report(
        self, recording: Recording, kind: str, message: str, *, status: int | None = None
    ) -> None:
        detail: dict[str, Any] = {
            "recording": recording.name,
            "segment": recording.segment,
            "error": message,
        }
        if status is not None:
            detail["status"] = status
        await self._call_event(recording.call_id, kind, detail)
        self._raise_alarm(
            RecordingAlarm(self.now(), kind, recording.call_id, recording.name, message)
        )

    async def _call_event(self, call_id: str, kind: str, detail: dict[str, Any]) -> None:
        if self._call_event_sink is None:
            await self.pending.call_event(call_id, self.now(), kind, detail)
            return
        try:
            await self._call_event_sink(call_id, kind, detail)
        except Exception as exc:
            log.error("recording_call_event_failed", call_id=call_id, error=repr(exc))

    def _raise_alarm(self, alarm: RecordingAlarm) -> None:
        self.alarms.append(alarm)
        log.error(alarm.kind, call_id=alarm.call_id, recording=alarm.name, error=alarm.message)
        if self.on_alarm is not None:
            try:
                self.on_alarm(alarm)
            except Exception as exc:
                log.error("recording_alarm_callback_failed", error=repr(exc))

    async def _fetch_alarm(self, recording: Recording, reason: str) -> None:
        if reason == "lost":
            await self._report(recording, "recording_lost", recording.error or "lost")
        else:
            message = f"{recording.attempts} failed attempts: {recording.error}"
            self._raise_alarm(
                RecordingAlarm(
                    self.now(),
                    "recording_fetch_failing",
                    recording.call_id,
                    recording.name,
                    message,
                )
            )

    @contextlib.asynccontextmanager
    async def _turn(self, name: str) -> AsyncIterator[None]:
        """Hold ``name``'s turn: its row's read, decision and write are not interleaved."""
        lock, users = self._turns.get(name) or (asyncio.Lock(), 0)
        self._turns[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[name]
            if users == 1:
                del self._turns[name]
            else:
                self._turns[name] = (lock, users - 1)

    async def _watch_live(self) -> None:
        interval = self.settings.live_check_interval or 0.0
        first = True
        while True:
            await asyncio.sleep(interval)
            try:
                if first:
                    await self.resume_in_progress()
                    first = False
                await self.confirm_live()
            except Exception as exc:  # the watch must outlive any one bad round
                log.error("recording_watch_failed", error=repr(exc))

    async def _purge_loop(self) -> None:
        interval = self.settings.purge_interval or 0.0
        while True:
            try:
                await self.purge_now()
            except MetadataUnavailable as exc:
                log.warning("recordings_purge_deferred", error=str(exc))
            await asyncio.sleep(interval)


def _merge(first: tuple[str, ...], more: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *more)))


def _guess_identity(name: str) -> tuple[str, int]:
    parsed = parse_recording_name(name)
    return parsed if parsed is not None else (name, 1)


def _end_of(recording: Recording) -> datetime:
    if recording.finished_at is not None:
        return recording.finished_at
    return recording.started_at + timedelta(seconds=recording.duration_s or 0)


def _field(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)
