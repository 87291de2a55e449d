"""Ordered, buffered writes to PostgreSQL that never stop a call.

Every durable fact the engine produces (a call record snapshot, a timeline
row, an agent state change, a rating, a ticket in the outbox) is submitted as
a :class:`WriteOp`: a kind and a JSON-safe payload.  One background task
applies the ops in submission order (several in one transaction when several wait), through the
handler registered for its kind.

When the database is unreachable the ops wait: first in memory (bounded by
``memory_limit``), then, when memory is full, appended to an on-disk spool
(JSON lines) so nothing is lost and memory stays bounded.  When the database
returns, the spool is drained first, then memory, so the order of writes is
the order of submission.  ``submit`` never awaits and never raises: a call
flow goes on whatever the database does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from cti.errors import StoreError
from cti.store import Database

log = structlog.get_logger("cti.writer")

Handler = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[None]]
Wanted = Callable[[dict[str, Any]], bool]

BATCH = 64
"""Ops written in one transaction when several are waiting."""


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return {"__dt__": value.isoformat()}
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _json_hook(obj: dict[str, Any]) -> object:
    if set(obj) == {"__dt__"}:
        return datetime.fromisoformat(obj["__dt__"])
    return obj


_BAD_DATA = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


def _refused(exc: BaseException) -> bool:
    """The database refused the data itself (a bad op), not the connection."""
    return isinstance(exc, _BAD_DATA) or isinstance(exc.__cause__, _BAD_DATA)


_UNREACHABLE = (
    StoreError,
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


_CONNECTION_LOST = (
    StoreError,
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)
"""What a follower may raise that means the database went away, not that it failed."""


def _store_error(exc: Exception) -> StoreError:
    return exc if isinstance(exc, StoreError) else StoreError(str(exc))


@dataclass(frozen=True)
class WriteOp:
    kind: str
    payload: dict[str, Any]

    def dumps(self) -> str:
        return json.dumps(
            {"kind": self.kind, "payload": self.payload}, ensure_ascii=False, default=_json_default
        )

    @classmethod
    def loads(cls, line: str) -> WriteOp:
        raw = json.loads(line, object_hook=_json_hook)
        return cls(raw["kind"], raw["payload"])


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    spooled: int = 0
    failures: int = 0
    dropped_invalid: int = 0
    dropped_fenced: int = 0


@dataclass
class BufferedWriter:
    """Applies :class:`WriteOp`s in order; buffers and spools through outages."""

    db: Database
    spool_path: Path
    memory_limit: int = 10_000
    retry_base: float = 0.2
    retry_cap: float = 5.0
    handlers: dict[str, Handler] = field(default_factory=dict)
    followers: dict[str, list[tuple[Handler, Wanted | None]]] = field(default_factory=dict)
    stats: WriterStats = field(default_factory=WriterStats)
    admit: Callable[[], bool] | None = None
    """When set and false, new writes are dropped: an engine that lost its leadership
    lease (:mod:`cti.availability`) records nothing more; what it queued before stays."""

    def __post_init__(self) -> None:
        self._memory: deque[WriteOp] = deque()
        self._spooled = 0  # ops in the spool file not yet written
        self._inflight = 0  # an op taken from memory and being written
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._db_up = True
        if self.spool_path.exists():
            self._spooled = sum(
                1 for line in self.spool_path.open(encoding="utf-8") if line.strip()
            )
            if self._spooled:
                self._idle.clear()

    def __repr__(self) -> str:
        return f"<BufferedWriter pending={self.pending} db_up={self._db_up}>"

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def follow(self, kind: str, follower: Handler, when: Wanted | None = None) -> None:
        """Run ``follower`` after the handler of every ``kind`` op, in the same transaction.

        A follower writes what derives from the op's rows (the callback list
        from a final call record).  It runs in a savepoint: when it fails on
        the data (not on the connection), its writes are undone and logged,
        and the op itself is still written, so a follower never costs a record.
        ``when`` (a test of the payload) skips the follower, and its savepoint,
        for the ops it has nothing to do for.
        """
        self.followers.setdefault(kind, []).append((follower, when))

    async def _handle(self, conn: asyncpg.Connection, op: WriteOp) -> None:
        await self.handlers[op.kind](conn, op.payload)
        for follower, when in self.followers.get(op.kind, ()):
            if when is not None and not when(op.payload):
                continue
            try:
                async with conn.transaction():  # a savepoint inside the op's transaction
                    await follower(conn, op.payload)
            except _CONNECTION_LOST:
                raise
            except Exception as exc:
                log.error("write_follower_failed", kind=op.kind, error=str(exc))

    @property
    def pending(self) -> int:
        """Ops submitted and not yet written (the one being written counts)."""
        return len(self._memory) + self._spooled + self._inflight

    @property
    def database_up(self) -> bool:
        return self._db_up

    def submit(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue one write; never blocks, never raises."""
        if kind not in self.handlers:
            log.error("write_kind_unknown", kind=kind)
            self.stats.dropped_invalid += 1
            return
        if self.admit is not None and not self.admit():
            if not self.stats.dropped_fenced:
                log.warning("writes_fenced", kind=kind)
            self.stats.dropped_fenced += 1
            return
        op = WriteOp(kind, payload)
        self.stats.submitted += 1
        self._idle.clear()
        if self._spooled or len(self._memory) >= self.memory_limit:
            self._spool(op)
        else:
            self._memory.append(op)
        self._wake.set()

    def _spool(self, op: WriteOp) -> None:
        # Keep order: once anything is spooled, every later op goes behind it,
        # and what is still in memory is older, so it moves to the spool first.
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spool_path.open("a", encoding="utf-8") as fh:
            if not self._spooled:
                for older in self._memory:
                    fh.write(older.dumps() + "\n")
                self._spooled += len(self._memory)
                self._memory.clear()
            fh.write(op.dumps() + "\n")
        self._spooled += 1
        self.stats.spooled += 1

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="buffered-writer")
            if self.pending:
                self._wake.set()

    async def stop(self, *, flush_timeout: float = 5.0) -> None:
        """Flush what can be flushed within ``flush_timeout``, then stop.

        Ops still pending stay in the spool for the next start.
        """
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), flush_timeout)
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._memory:
            with self.spool_path.open("a", encoding="utf-8") as fh:
                for op in self._memory:
                    fh.write(op.dumps() + "\n")
            self._spooled += len(self._memory)
            self._memory.clear()

    async def flushed(self, timeout: float) -> None:
        """Wait until every submitted op is written (or raise TimeoutError)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self.pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._drain()
                attempt = 0
                if not self._db_up:
                    log.info("database_back", pending=self.pending)
                self._db_up = True
            except StoreError as exc:
                if self._db_up:
                    log.warning("database_down", error=str(exc), pending=self.pending)
                self._db_up = False
                self.stats.failures += 1
                attempt += 1
                delay = random.uniform(0, min(self.retry_cap, self.retry_base * 2**attempt))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    async def _apply(self, op: WriteOp) -> None:
        try:
            async with self.db.connection() as conn, conn.transaction():
                await self._handle(conn, op)
        except Exception as exc:
            if isinstance(exc, _UNREACHABLE) and not _refused(exc):
                raise _store_error(exc) from exc
            # A bad op (refused data, or a handler that fails on it) must not
            # block the queue forever: log it and move on.
            self.stats.dropped_invalid += 1
            log.error("write_rejected", kind=op.kind, error=str(exc))
            return
        self.stats.written += 1

    async def _drain(self) -> None:
        if self._spooled:
            lines = [
                line for line in self.spool_path.read_text(encoding="utf-8").splitlines() if line
            ]
            done = 0
            try:
                for line in lines:
                    await self._apply(WriteOp.loads(line))
                    done += 1
            finally:
                # Ops spooled while we were writing were appended behind ours.
                current = [
                    line
                    for line in self.spool_path.read_text(encoding="utf-8").splitlines()
                    if line
                ]
                rest = current[done:]
                if rest:
                    self.spool_path.write_text("\n".join(rest) + "\n", encoding="utf-8")
                else:
                    self.spool_path.unlink(missing_ok=True)
                self._spooled = len(rest)
        while self._memory and not self._spooled:
            batch = [self._memory.popleft() for _ in range(min(BATCH, len(self._memory)))]
            self._inflight = len(batch)
            try:
                await self._apply_batch(batch)
            except BaseException:
                self._put_back(batch)
                raise
            finally:
                self._inflight = 0

    async def _apply_batch(self, batch: list[WriteOp]) -> None:
        """Several ops in one transaction on one connection (in order).

        A bad op makes the whole transaction fail: then the batch is written
        op by op, so that only the bad one is dropped.
        """
        if len(batch) == 1:
            await self._apply(batch[0])
            return
        try:
            async with self.db.connection() as conn, conn.transaction():
                for op in batch:
                    await self._handle(conn, op)
        except Exception as exc:
            if isinstance(exc, _UNREACHABLE) and not _refused(exc):
                raise _store_error(exc) from exc
            for op in batch:
                await self._apply(op)
            return
        self.stats.written += len(batch)

    def _put_back(self, batch: list[WriteOp]) -> None:
        """Return ops that failed to the front of the queue, in their order."""
        if not self._spooled:
            self._memory.extendleft(reversed(batch))
            return
        rest = self.spool_path.read_text(encoding="utf-8")
        head = "".join(op.dumps() + "\n" for op in batch)
        self.spool_path.write_text(head + rest, encoding="utf-8")
        self._spooled += len(batch)
