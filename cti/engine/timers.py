"""The clock the pure cores do not have.

The ACD and the IVR ask for time by returning ``StartTimer`` commands and
expect a ``TimerFired``/``Timeout`` event back.  :class:`Timers` keeps one
``loop.call_later`` handle per key; starting a key again replaces it, and
cancelling an unknown key is a no-op, so a late or duplicate command is
harmless.  When a timer fires, its callback runs on the loop; the engine's
callback only enqueues an event, so the decision still happens in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable


class Timers:
    def __init__(self, fire: Callable[[Hashable], None]) -> None:
        self._fire = fire
        self._handles: dict[Hashable, asyncio.TimerHandle] = {}

    def __repr__(self) -> str:
        return f"<Timers pending={len(self._handles)}>"

    def __len__(self) -> int:
        return len(self._handles)

    def start(self, key: Hashable, seconds: float) -> None:
        self.cancel(key)
        loop = asyncio.get_running_loop()
        self._handles[key] = loop.call_later(max(0.0, seconds), self._expire, key)

    def start_at(self, key: Hashable, when: float) -> None:
        """Fire at loop time ``when`` (``loop.time()`` scale)."""
        self.start(key, when - asyncio.get_running_loop().time())

    def cancel(self, key: Hashable) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _expire(self, key: Hashable) -> None:
        self._handles.pop(key, None)
        self._fire(key)
