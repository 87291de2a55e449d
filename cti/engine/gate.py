"""Oldest call first: how the engine shares its softswitch requests among calls.

Theory of operation
-------------------
Every softswitch request of a call runs in that call's lane (see
:class:`cti.executor.Lanes`).  Without a limit, a burst of a hundred
arrivals puts some three hundred requests in flight at once, and a request of
a call already in conversation (the survey after the agent hangs up, a
transfer, a hold) queues behind all of them at the softswitch.

The :class:`PriorityGate` lets at most ``slots`` lane steps talk to the
softswitch at the same time and, when a slot frees, gives it to the waiting
step of the *oldest* call (the lowest rank: the call's arrival time).  Calls
in progress are older than any arrival of a burst, so their requests pass
every request of the burst that has not started yet; they wait for one slot
at most, not for the burst.  Among the burst, arrivals are served in the
order they came, so nobody's queue position is changed by the gate.

The gate is fair within a rank (first come, first served) and never idle
while a step waits.  It is pure asyncio: no I/O, no clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PriorityGate:
    """At most ``slots`` holders at a time; waiters are admitted lowest ``rank`` first."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot, not {slots}")
        self.slots = slots
        self._busy = 0
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._free = asyncio.Event()
        self._free.set()

    def __repr__(self) -> str:
        return f"<PriorityGate busy={self._busy}/{self.slots} waiting={len(self._waiting)}>"

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def resize(self, slots: int) -> None:
        """Change the number of slots; steps waiting for a new slot start at once."""
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot, not {slots}")
        self.slots = slots
        while self._waiting and self._busy < self.slots:
            self._busy += 1
            self._release()  # hands the new slot to the best waiter
        if self.free():
            self._free.set()

    def free(self) -> bool:
        """Whether a step arriving now would get a slot at once."""
        return self._busy < self.slots and not self._waiting

    async def until_free(self) -> None:
        """Return once a slot is free and nobody waits (at once if so already)."""
        while not self.free():
            self._free.clear()
            await self._free.wait()

    @asynccontextmanager
    async def slot(self, rank: float) -> AsyncIterator[None]:
        """Hold one slot for the body; wait for it behind every lower ``rank``."""
        await self._acquire(rank)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, rank: float) -> None:
        if self.free():
            self._busy += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was handed over just as the waiter was cancelled: pass it on.
                self._release()
            else:
                self._forget(future)
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the slot passes straight to the waiter
                return
        self._busy -= 1
        self._free.set()

    def _forget(self, future: asyncio.Future[None]) -> None:
        self._waiting = [w for w in self._waiting if w[2] is not future]
        heapq.heapify(self._waiting)
        if self.free():
            self._free.set()
