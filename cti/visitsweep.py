"""The return-visit sweeper: visits whose window closed unfinished are expired, and reported.

Every ``every_s`` seconds one pass of :func:`cti.store.visits.expire_due`
marks them ``expired`` and puts the notice in the ticket outbox, in one
transaction, so the work-order system learns of every visit that was not
made (100% return visits: none may vanish).  A database that is away is
waited out; the next pass catches up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import structlog

from cti.errors import StoreError
from cti.periodic import Periodic
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
        self._loop = Periodic(
            "visit-sweeper", self.sweep, lambda: self._every_s, expected=(StoreError,),
            event="return_visit_sweep",
        )  # fmt: skip
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
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
