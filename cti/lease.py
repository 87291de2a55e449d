"""The leadership lease: one row of ``engine_leases`` in PostgreSQL, with a fencing token.

Theory of operation
-------------------
Engines that share one PostgreSQL and one Stasis application compete for the
row named after the application.  :meth:`Lease.try_acquire` takes it when it is
free or has expired, by PostgreSQL's clock (``now()``), so the engines' own
clocks never have to agree; every change of holder adds one to ``token``.
The holder renews the row every ``renew_seconds`` (:meth:`Lease.renew`); a
renewal that finds another holder or another token has lost the lease.

The holder also keeps its own, conservative, view of the lease:
:meth:`Lease.held` is true until ``lease_seconds`` minus a safety margin after
the last renewal was *sent*, on the monotonic clock.  PostgreSQL cannot let the
row expire before the renewal arrived, so this view runs out first: an engine
frozen past its lease (``SIGSTOP``, a stalled VM) finds :meth:`held` false the
moment it runs again, before it hears from the database.  That is what the
fence checks before every request that changes a call (:mod:`cti.ari.http`).

The row is read and written over a connection of its own, never the pool the
call records use, so a busy pool cannot delay a renewal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from cti.errors import StoreError

log = structlog.get_logger("cti.lease")

_ACQUIRE = """
INSERT INTO engine_leases AS l (name, holder, address, token, acquired_at, expires_at)
VALUES ($1, $2, $3, 1, now(), now() + make_interval(secs => $4))
ON CONFLICT (name) DO UPDATE
   SET holder = EXCLUDED.holder, address = EXCLUDED.address, token = l.token + 1,
       acquired_at = now(), expires_at = EXCLUDED.expires_at
 WHERE l.expires_at < now()
RETURNING token
"""

_RENEW = """
UPDATE engine_leases SET expires_at = now() + make_interval(secs => $4)
 WHERE name = $1 AND holder = $2 AND token = $3
RETURNING token
"""

_RELEASE = """
UPDATE engine_leases SET expires_at = now() - interval '1 millisecond'
 WHERE name = $1 AND holder = $2 AND token = $3
"""

_HOLDER = (
    "SELECT holder, address, token, expires_at > now() AS live FROM engine_leases WHERE name = $1"
)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds the lease now, as the row says."""

    holder: str
    address: str
    token: int
    live: bool


class Lease:
    """The lease ``name`` as ``holder`` (unique per process) would hold it.

    ``address`` is the holder's HTTP address, which standby engines tell
    browsers that reach them.  ``seconds`` is the lease's length; ``margin``
    how much earlier than PostgreSQL this process considers it gone.
    """

    def __init__(
        self,
        dsn: str,
        name: str,
        holder: str,
        address: str,
        *,
        seconds: float,
        margin: float | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.holder = holder
        self.address = address
        self.seconds = seconds
        self.margin = min(1.0, seconds / 4) if margin is None else margin
        self.timeout = timeout if timeout is not None else seconds / 2
        self.token: int | None = None
        self.current: Holder | None = None
        self._dsn = dsn
        self._clock = clock
        self._valid_until = 0.0
        self._conn: asyncpg.Connection | None = None
        self._one_at_a_time = asyncio.Lock()  # one connection: one query at a time

    def __repr__(self) -> str:
        return f"<Lease {self.name} holder={self.holder} token={self.token} held={self.held()}>"

    def held(self) -> bool:
        """Whether this process may still act as the holder (its own, earlier, view)."""
        return self.token is not None and self._clock() < self._valid_until

    def remaining(self) -> float:
        """Seconds left of this process's view of the lease (0 when not held)."""
        return max(0.0, self._valid_until - self._clock()) if self.token is not None else 0.0

    async def try_acquire(self) -> bool:
        """Take the lease if it is free or expired; learn who holds it otherwise."""
        sent = self._clock()
        token = await self._value(_ACQUIRE, self.name, self.holder, self.address, self.seconds)
        if token is None:
            self.current = await self._holder()
            return False
        self.token = int(token)
        self._valid_until = sent + self.seconds - self.margin
        self.current = Holder(self.holder, self.address, self.token, True)
        log.info("lease_acquired", lease=self.name, holder=self.holder, token=self.token)
        return True

    async def renew(self) -> bool:
        """Extend the lease; False when another engine holds it now (it is lost)."""
        if self.token is None:
            return False
        sent = self._clock()
        token = await self._value(_RENEW, self.name, self.holder, self.token, self.seconds)
        if token is None:
            self.token = None
            self._valid_until = 0.0
            return False
        self._valid_until = sent + self.seconds - self.margin
        return True

    async def look(self) -> Holder | None:
        """Read who holds the lease now (what a standby tells clients)."""
        self.current = await self._holder()
        return self.current

    def forget(self) -> None:
        """Stop acting as the holder, at once (the lease was lost or given up)."""
        self._valid_until = 0.0

    async def release(self) -> None:
        """Give the lease up so that a standby takes over without waiting for it to expire."""
        token, self.token = self.token, None
        self._valid_until = 0.0
        if token is not None:
            try:
                await self._execute(_RELEASE, self.name, self.holder, token)
            except StoreError as exc:
                log.warning("lease_release_failed", lease=self.name, error=str(exc))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    # -- the connection ----------------------------------------------------------

    async def _holder(self) -> Holder | None:
        row = await self._row(_HOLDER, self.name)
        if row is None:
            return None
        return Holder(row["holder"], row["address"], int(row["token"]), bool(row["live"]))

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=self.timeout)
        return self._conn

    async def _value(self, sql: str, *args: object) -> Any:
        row = await self._row(sql, *args)
        return None if row is None else row[0]

    async def _row(self, sql: str, *args: object) -> asyncpg.Record | None:
        try:
            async with self._one_at_a_time, asyncio.timeout(self.timeout):
                conn = await self._connection()
                row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
                return row
        except asyncio.CancelledError:
            await self.close()  # a query cut in the middle leaves the connection unusable
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise StoreError(f"lease {self.name}: {exc or type(exc).__name__}") from exc

    async def _execute(self, sql: str, *args: object) -> None:
        await self._row(sql, *args)
