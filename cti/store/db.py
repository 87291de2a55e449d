"""The connection pool and the small write/read helpers every part shares.

``Database`` owns one asyncpg pool.  It is opened in one place (the app's
cleanup context), migrates on open, and translates asyncpg and OS errors into
:class:`cti.errors.StoreError` so nothing of asyncpg escapes ``cti``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

import asyncpg
from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from cti.errors import StoreError
from cti.store.migrate import migrate

_TRANSIENT = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # "cannot switch to state ..." on a pooled link that died
    TimeoutError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda v: json.dumps(v, ensure_ascii=False),
            decoder=json.loads,
            schema="pg_catalog",
        )


def _plain(conn: PoolConnectionProxy[Record]) -> asyncpg.Connection:
    """A pooled connection as the connection it stands for.

    The pool hands out a proxy that forwards every attribute to the
    connection it holds; the rest of the code speaks of connections.
    """
    return cast(asyncpg.Connection, conn)


class _Connection(asyncpg.Connection):
    """A pooled connection that goes back to the pool without a reset query.

    asyncpg's default (``CLOSE ALL; UNLISTEN *; RESET ALL; ...``) costs a
    round trip per release, a twentieth of the engine's CPU under load.  The
    engine leaves no session state behind: no ``SET`` or cursors, the migration
    lock is released by the migration, and the ticket sender removes its own
    ``LISTEN``.  asyncpg still
    rolls back an open transaction and drops listener callbacks on release.
    """

    def get_reset_query(self) -> str:
        return ""


class Database:
    """An asyncpg pool plus the engine's migrations."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._run_migrations = True
        self._closed = False

    def __repr__(self) -> str:
        state = "open" if self._pool is not None else "closed"
        return f"<Database {state}>"

    async def open(self, *, run_migrations: bool = True) -> list[int]:
        """Open the pool; apply migrations; return the versions applied now."""
        self._run_migrations = run_migrations
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                init=_init_connection,
                command_timeout=30,
                connection_class=_Connection,
            )
        except (*_TRANSIENT, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot open the database: {exc}") from exc
        try:
            applied: list[int] = []
            if run_migrations:
                async with pool.acquire() as conn:
                    applied = await migrate(_plain(conn))
        except (*_TRANSIENT, asyncpg.PostgresError) as exc:
            await pool.close()
            raise StoreError(f"cannot migrate the database: {exc}") from exc
        self._pool = pool
        return applied

    async def close(self) -> None:
        """Close for good: later requests raise :class:`StoreError`."""
        self._closed = True
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the database is not open")
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; the pool opens here if the database was down at start."""
        if self._pool is None and not self._closed:
            await self.open(run_migrations=self._run_migrations)
        try:
            async with self.pool.acquire() as conn:
                yield _plain(conn)
        except (*_TRANSIENT, asyncpg.PostgresError) as exc:
            raise StoreError(str(exc)) from exc

    async def execute(self, sql: str, *args: Any) -> str:
        async with self.connection() as conn:
            result: str = await conn.execute(sql, *args)
            return result

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self.connection() as conn:
            return [dict(r) for r in await conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self.connection() as conn:
            row = await conn.fetchrow(sql, *args)
            return dict(row) if row is not None else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.connection() as conn:
            await conn.executemany(sql, rows)

    async def record_config_version(
        self, sha256: str, loaded_at: datetime, requested_by: str, summary: str
    ) -> None:
        await self.execute(
            "INSERT INTO config_versions (sha256, loaded_at, requested_by, summary)"
            " VALUES ($1, $2, $3, $4)",
            sha256,
            loaded_at,
            requested_by,
            summary,
        )

    async def audit(
        self,
        actor: str,
        role: str,
        action: str,
        target: str | None = None,
        *,
        allowed: bool = True,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.execute(
            "INSERT INTO audit_log (actor, role, action, target, allowed, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            actor,
            role,
            action,
            target,
            allowed,
            detail or {},
        )
