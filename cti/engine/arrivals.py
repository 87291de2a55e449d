"""New calls wait their turn; the events of calls in progress do not wait for them.

Theory of operation
-------------------
A burst of arrivals reaches the engine as a run of ``StasisStart`` events on
the one ARI WebSocket, and the next event of a call in conversation (the
agent hanging up) comes behind them.  Deciding each arrival as it is read
would make that event wait for every arrival's decision.  Instead the
reader only *notes* an arrival here, and :class:`Arrivals` decides the noted
arrivals one by one, in the order they came, yielding to the event loop
between two of them, so that the events behind the burst are decided first,
and only while the request gate (:mod:`cti.engine.gate`) has a free slot: an
arrival decided while every slot is taken would only add waiting work.

Order per channel is kept: an event of a channel whose arrival has not been
decided yet (its hang-up, a digit, a variable) is held behind that arrival
and dispatched right after it.  :meth:`Arrivals.admit_all` decides every
waiting arrival at once; the engine calls it before reconciling after a
reconnect, so that reconciliation sees every call.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from cti.engine.gate import PriorityGate


class Arrivals:
    """Arrivals in order of arrival; ``decide(event)`` decides one event (an arrival,
    or an event held behind it) and must not raise."""

    def __init__(self, decide: Callable[[Any], None], gate: PriorityGate) -> None:
        self._decide = decide
        self._gate = gate
        self._queue: deque[Any] = deque()
        self._held: dict[str, list[Any]] = {}
        self._worker: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Arrivals waiting={len(self._queue)}>"

    def __len__(self) -> int:
        return len(self._queue)

    def channels(self) -> frozenset[str]:
        """The channels whose arrival is noted but not decided yet."""
        return frozenset(self._held)

    def arrive(self, event: Any) -> None:
        """Note the ``StasisStart`` of a new call; it is decided soon, in order."""
        self._queue.append(event)
        self._held[event.channel.id] = []
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def hold(self, event: Any) -> bool:
        """Keep ``event`` behind its channel's undecided arrival; False if it has none."""
        # Only a typed channel counts: an event may carry a stray ``channel`` field.
        channel_id = getattr(getattr(event, "channel", None), "id", None)
        held = self._held.get(channel_id) if isinstance(channel_id, str) else None
        if held is None:
            return False
        held.append(event)
        return True

    def admit_all(self) -> None:
        """Decide every noted arrival now, in order."""
        while self._queue:
            self._admit_next()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def _run(self) -> None:
        while self._queue:
            # An arrival's first request would wait for a slot anyway: deciding it
            # later keeps the loop's work, and every call's latency, small.
            await self._gate.until_free()
            if self._queue:
                self._admit_next()
            await asyncio.sleep(0)  # let the events read meanwhile be decided first

    def _admit_next(self) -> None:
        event = self._queue.popleft()
        later = self._held.pop(event.channel.id, [])
        self._decide(event)
        for item in later:
            self._decide(item)
