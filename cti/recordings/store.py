"""PostgreSQL adapters for :mod:`recordings`: the metadata store and the audit sink.

Both sit on :class:`cti.store.Database` and translate its
:class:`~cti.errors.StoreError` into :class:`recordings.MetadataUnavailable`
so the fetcher and the purge job see their own package's errors.  The table
is ``recordings`` (``0001_init.sql`` plus ``0003_recordings.sql``); its
``status`` column holds :class:`recordings.RecordingState` values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cti.errors import StoreError
from cti.store import Database
from recordings import (
    AuditEntry,
    CallId,
    MetadataUnavailable,
    Recording,
    RecordingName,
    RecordingState,
)

T = TypeVar("T")

_COLUMNS = (
    "name, call_id, segment, agents, started_at, status, format, finished_at, duration_s,"
    " file_path, size_bytes, sha256, error, attempts, next_attempt_at, source_deleted"
)
_DUE = """(status IN ('finished', 'fetching') OR (status = 'stored' AND NOT source_deleted))"""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_recording(row: dict[str, Any]) -> Recording:
    return Recording(
        name=RecordingName(row["name"]),
        call_id=CallId(row["call_id"]),
        segment=row["segment"],
        agents=tuple(row["agents"] or ()),
        started_at=row["started_at"],
        state=RecordingState(row["status"]),
        format=row["format"],
        finished_at=row["finished_at"],
        duration_s=row["duration_s"],
        file_path=row["file_path"],
        size_bytes=row["size_bytes"],
        sha256=row["sha256"],
        error=row["error"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        source_deleted=row["source_deleted"],
    )


async def _translated(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except StoreError as exc:
        raise MetadataUnavailable(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class CallSummary:
    """The ``calls`` row fields that access decisions and listings need."""

    call_id: str
    caller_number: str
    dialled: str
    first_agent: str | None
    last_agent: str | None
    answered_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class ListedRecording:
    recording: Recording
    call: CallSummary | None


class PgRecordingStore:
    """:class:`recordings.RecordingStore` over the ``recordings`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"<PgRecordingStore {self.db!r}>"

    async def save(self, recording: Recording) -> None:
        r = recording
        await _translated(
            lambda: self.db.execute(
                f"""INSERT INTO recordings ({_COLUMNS}, updated_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                            $16, now())
                    ON CONFLICT (name) DO UPDATE SET
                        call_id = EXCLUDED.call_id, segment = EXCLUDED.segment,
                        agents = EXCLUDED.agents, started_at = EXCLUDED.started_at,
                        status = EXCLUDED.status, format = EXCLUDED.format,
                        finished_at = EXCLUDED.finished_at, duration_s = EXCLUDED.duration_s,
                        file_path = EXCLUDED.file_path, size_bytes = EXCLUDED.size_bytes,
                        sha256 = EXCLUDED.sha256, error = EXCLUDED.error,
                        attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,
                        source_deleted = EXCLUDED.source_deleted, updated_at = now()""",
                r.name,
                r.call_id,
                r.segment,
                list(r.agents),
                r.started_at,
                r.state.value,
                r.format,
                r.finished_at,
                r.duration_s,
                r.file_path,
                r.size_bytes,
                r.sha256,
                r.error,
                r.attempts,
                r.next_attempt_at,
                r.source_deleted,
            )
        )

    async def get(self, name: RecordingName) -> Recording | None:
        row = await _translated(
            lambda: self.db.fetchrow(f"SELECT {_COLUMNS} FROM recordings WHERE name = $1", name)
        )
        return _to_recording(row) if row is not None else None

    async def _select(self, where: str, *args: Any) -> list[Recording]:
        rows = await _translated(
            lambda: self.db.fetch(f"SELECT {_COLUMNS} FROM recordings WHERE {where}", *args)
        )
        return [_to_recording(row) for row in rows]

    async def list_for_call(self, call_id: CallId) -> list[Recording]:
        return await self._select(
            "call_id = $1 AND status <> 'purged' ORDER BY segment, started_at, id", call_id
        )

    async def list_due(self, now: datetime, limit: int) -> list[Recording]:
        return await self._select(
            f"{_DUE} AND (next_attempt_at IS NULL OR next_attempt_at <= $1)"
            " ORDER BY next_attempt_at NULLS FIRST, id LIMIT $2",
            now,
            limit,
        )

    async def list_in_state(self, state: RecordingState, limit: int) -> list[Recording]:
        return await self._select("status = $1 ORDER BY id LIMIT $2", state.value, limit)

    async def next_due_at(self) -> datetime | None:
        row = await _translated(
            lambda: self.db.fetchrow(
                "SELECT bool_or(next_attempt_at IS NULL) AS now_due,"
                f" min(next_attempt_at) AS earliest FROM recordings WHERE {_DUE}"
            )
        )
        if row is None or row["now_due"] is None:
            return None
        if row["now_due"]:
            return _EPOCH
        earliest: datetime | None = row["earliest"]
        return earliest

    async def list_expired(self, before: datetime, limit: int) -> list[Recording]:
        return await self._select(
            "status IN ('stored', 'failed') AND started_at < $1 ORDER BY started_at, id LIMIT $2",
            before,
            limit,
        )

    async def purge(self, name: RecordingName) -> None:
        await _translated(lambda: self.db.execute("DELETE FROM recordings WHERE name = $1", name))

    async def call_summary(self, call_id: CallId) -> CallSummary | None:
        row = await _translated(
            lambda: self.db.fetchrow(
                "SELECT call_id, caller_number, dialled, first_agent, last_agent, answered_at,"
                " ended_at FROM calls WHERE call_id = $1",
                call_id,
            )
        )
        return CallSummary(**row) if row is not None else None

    async def listing(
        self,
        *,
        call_id: str | None = None,
        agent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[ListedRecording]:
        """Recordings (purged excluded) with their call, newest first, filtered.

        ``agent`` matches an agent of the recording or the call's
        first-contact / last agent.
        """
        rows = await _translated(
            lambda: self.db.fetch(
                f"""SELECT {", ".join("r." + c.strip() for c in _COLUMNS.split(","))},
                       c.call_id AS c_call_id, c.caller_number, c.dialled, c.first_agent,
                       c.last_agent, c.answered_at, c.ended_at
                    FROM recordings r LEFT JOIN calls c ON c.call_id = r.call_id
                    WHERE r.status <> 'purged'
                      AND ($1::text IS NULL OR r.call_id = $1)
                      AND ($2::text IS NULL OR $2 = ANY(r.agents)
                           OR c.first_agent = $2 OR c.last_agent = $2)
                      AND ($3::timestamptz IS NULL OR r.started_at >= $3)
                      AND ($4::timestamptz IS NULL OR r.started_at < $4)
                    ORDER BY r.started_at DESC, r.segment LIMIT $5""",
                call_id,
                agent,
                since,
                until,
                limit,
            )
        )
        listed = []
        for row in rows:
            call = None
            if row["c_call_id"] is not None:
                call = CallSummary(
                    call_id=row["c_call_id"],
                    caller_number=row["caller_number"],
                    dialled=row["dialled"],
                    first_agent=row["first_agent"],
                    last_agent=row["last_agent"],
                    answered_at=row["answered_at"],
                    ended_at=row["ended_at"],
                )
            listed.append(ListedRecording(_to_recording(row), call))
        return listed


class DbAuditSink:
    """:class:`recordings.AuditSink` over the ``audit_log`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"<DbAuditSink {self.db!r}>"

    async def record(self, entry: AuditEntry) -> None:
        await _translated(
            lambda: self.db.audit(
                entry.actor,
                entry.role,
                entry.action,
                entry.target,
                allowed=entry.allowed,
                detail=entry.detail,
            )
        )
