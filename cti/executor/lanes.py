"""Ordered lanes of softswitch requests: :class:`Lanes`.

The requests of one lane run one after the other, in the order they were
given; lanes run side by side.  A call's requests share its lane, so the
caller's channel sees them in the switchboard's order; its agent legs have
a lane of their own (``<call>/legs``), so an originate never waits behind
the caller's requests.  Each request takes a slot of the
:class:`~cti.engine.gate.PriorityGate`, which serves the oldest call first.

A request that fails reports through its own ``failed`` callback (the
executor turns it into an event for the switchboard); a request cancelled
while it waits or runs reports the same way, so a cancellation never leaves
a decision waiting for an answer that will not come.  A lane is forgotten
as soon as its last request is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from cti.engine.gate import PriorityGate
from cti.engine.pbx import PbxError

log = structlog.get_logger("cti.executor")

Request = Callable[[], Awaitable[None]]
CANCELLED = "cancelled"
"""What ``failed`` is told when the request was cancelled before it was done."""
Failed = Callable[[str], None]


class Lanes:
    """Per-key ordered request lanes through one gate."""

    def __init__(self, gate: PriorityGate, rank: Callable[[str], float]) -> None:
        self.gate = gate
        self._rank = rank
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.errors = 0

    def __repr__(self) -> str:
        return f"<Lanes open={len(self._tails)}>"

    def __len__(self) -> int:
        return len(self._tails)

    def open(self) -> frozenset[str]:
        """The lanes with a request not yet done."""
        return frozenset(self._tails)

    def run(self, lane: str, request: Request, failed: Failed | None = None) -> None:
        """Run ``request`` after every earlier request of ``lane`` (none once closed)."""
        if self._closed:
            return
        previous = self._tails.get(lane)
        rank = self._rank(lane)
        task = asyncio.get_running_loop().create_task(
            self._step(lane, previous, rank, request, failed)
        )
        self._tails[lane] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(lane, t))

    async def _step(
        self,
        lane: str,
        previous: asyncio.Task[None] | None,
        rank: float,
        request: Request,
        failed: Failed | None,
    ) -> None:
        try:
            if previous is not None:
                # Waiting for the request before never cancels it.
                await asyncio.wait([previous])
            async with self.gate.slot(rank):
                await request()
        except PbxError as exc:
            log.info("pbx_request_failed", lane=lane, error=str(exc))
            if failed is not None:
                failed(str(exc))
        except asyncio.CancelledError:
            if failed is not None and not self._closed:
                failed(CANCELLED)
            raise
        except Exception:
            self.errors += 1
            log.exception("executor_io_error", lane=lane)
            if failed is not None:
                failed("error")

    def _done(self, lane: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(lane) is task:
            del self._tails[lane]

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every lane is done (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while self._tails:
                await asyncio.gather(*list(self._tails.values()), return_exceptions=True)

    def cancel(self) -> None:
        """Cancel every request not yet done and take no more (shutdown)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
