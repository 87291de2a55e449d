"""The state of one connection to Asterisk (the ARI WebSocket or the AMI socket).

Theory of operation
-------------------
A client owns one :class:`Link`.  ``connect()`` moves it from ``idle`` to
``connecting`` and, once the socket is open and authenticated, to
``connected``.  When the socket is lost the client moves it to
``reconnecting`` and retries after :class:`Backoff` delays; the first success
moves it back to ``connected`` and counts one reconnect.  ``close()`` moves it
to ``closed`` from anywhere, for good.  A failed first attempt goes back to
``idle`` so that the caller may try again.  ``replaced`` is the end of an ARI
link whose application another WebSocket took (``ApplicationReplaced``) or
that this engine may no longer hold (it is not the active engine): the client
does not reconnect from there, only ``close()`` follows.

The allowed moves are the table :data:`TRANSITIONS`; any other move is a bug
and raises :class:`IllegalLinkTransition`.  Observers either register a
listener (called synchronously on every move) or await
:meth:`Link.wait_until` with a deadline.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from enum import StrEnum

from cti.errors import CtiError


class LinkState(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    REPLACED = "replaced"
    CLOSED = "closed"


TRANSITIONS: dict[LinkState, frozenset[LinkState]] = {
    LinkState.IDLE: frozenset({LinkState.CONNECTING, LinkState.CLOSED}),
    LinkState.CONNECTING: frozenset({LinkState.CONNECTED, LinkState.IDLE, LinkState.CLOSED}),
    LinkState.CONNECTED: frozenset({LinkState.RECONNECTING, LinkState.REPLACED, LinkState.CLOSED}),
    LinkState.RECONNECTING: frozenset({LinkState.CONNECTED, LinkState.REPLACED, LinkState.CLOSED}),
    LinkState.REPLACED: frozenset({LinkState.CLOSED}),
    LinkState.CLOSED: frozenset(),
}

Listener = Callable[["Link", LinkState, LinkState], None]


class IllegalLinkTransition(CtiError):
    """A client tried a move the table does not allow (a bug in the client)."""

    def __init__(self, link: str, old: LinkState, new: LinkState) -> None:
        super().__init__(f"{link}: illegal transition {old} -> {new}")
        self.link = link
        self.old = old
        self.new = new


class Link:
    """Observable connection state: ``state``, ``reconnects`` (successful
    re-connections after a loss), ``losses`` (connections lost) and the reason
    of the last loss."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._state = LinkState.IDLE
        self.reconnects = 0
        self.losses = 0
        self.last_error: str | None = None
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Link {self.name} {self._state} reconnects={self.reconnects}>"

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is LinkState.CONNECTED

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(link, old, new)`` after every move."""
        self._listeners.append(listener)

    def move(self, new: LinkState, *, error: str | None = None) -> None:
        """Apply one move of :data:`TRANSITIONS`; ``error`` records why a
        connection was lost (with a move to ``reconnecting``)."""
        old = self._state
        if new not in TRANSITIONS[old]:
            raise IllegalLinkTransition(self.name, old, new)
        self._state = new
        if new is LinkState.RECONNECTING:
            self.losses += 1
            self.last_error = error
        elif old is LinkState.RECONNECTING and new is LinkState.CONNECTED:
            self.reconnects += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in list(self._listeners):
            listener(self, old, new)

    async def wait_until(self, predicate: Callable[[Link], bool], timeout: float) -> None:
        """Return once ``predicate(link)`` holds; raise ``TimeoutError`` after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await self._changed.wait()


class Backoff:
    """Exponential backoff with jitter: attempt *n* waits
    ``min(maximum, initial * factor**n)`` shortened by a random fraction of up
    to ``jitter`` of itself, so that many engines cut off together do not come
    back in lock-step.  :meth:`reset` after a success."""

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if not (0.0 <= jitter <= 1.0) or initial <= 0 or maximum < initial or factor < 1.0:
            raise ValueError("backoff needs 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._ceiling = initial

    def next_delay(self) -> float:
        """The delay before the next attempt, in seconds."""
        ceiling = self._ceiling
        self._ceiling = min(self.maximum, ceiling * self.factor)
        return ceiling * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self._ceiling = self.initial
