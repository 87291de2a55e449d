"""The return-visit sweeper: visits whose window closed unfinished are expired, and reported.

Every ``every_s`` seconds one pass of :func:`cti.store.visits.expire_due`
marks them ``expired`` and puts the notice in the ticket outbox, in one
transaction, so the work-order system learns of every visit that was not
made (100% return visits: none may vanish).  A database that is away is
waited out; the next pass catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

import structlog

from cti.errors import StoreError
from cti.store import Database, visits

log = structlog.get_logger("cti.visitsweep")


class VisitSweeper:
    def __init__(
        self,
        db: Database,
        *,
        every_s: float = 60.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._db = db
        self._every_s = every_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.expired = 0

    def __repr__(self) -> str:
        return f"<VisitSweeper every={self._every_s}s expired={self.expired}>"

    async def sweep(self) -> list[str]:
        """One pass; the tickets whose visit expired now."""
        async with self._db.connection() as conn:
            found = await visits.expire_due(conn, self._clock())
        for ticket in found:
            log.info("return_visit_expired", ticket_id=ticket)
        self.expired += len(found)
        return found

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="visit-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except StoreError as exc:
                log.warning("return_visit_sweep_failed", error=str(exc))
            except Exception:  # a defect: keep sweeping, say so
                log.exception("return_visit_sweep_error")
            await asyncio.sleep(self._every_s)  # the sweep's period, not synchronisation
