"""Deliver each item (an ARI or AMI event) to every subscriber, in order.

A :class:`Fanout` is fed synchronously by the client's reader; each
:class:`Subscription` has its own unbounded queue and is read as an async
iterator, or with :meth:`Subscription.get` / :meth:`Subscription.wait_for`
under a deadline.  Callbacks run synchronously in publish order; one that
raises is logged and does not stop the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

import structlog

T = TypeVar("T")

log = structlog.get_logger(__name__)

_END = object()


class Subscription(Generic[T]):
    """One subscriber's ordered view of the items published after it joined."""

    def __init__(self, fanout: Fanout[T], accept: Callable[[T], bool] | None) -> None:
        self._fanout = fanout
        self._accept = accept
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False

    def _offer(self, item: T) -> None:
        if not self.closed and (self._accept is None or self._accept(item)):
            self._queue.put_nowait(item)

    def _end(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_END)

    def close(self) -> None:
        """Stop receiving; a reader blocked in the iterator sees the end."""
        self._fanout._subscriptions.discard(self)
        self._end()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    def pending(self) -> int:
        """Items queued and not yet read."""
        return self._queue.qsize()

    async def get(self, timeout: float) -> T:
        """The next item; ``TimeoutError`` after ``timeout`` seconds,
        ``EOFError`` once the subscription has ended."""
        async with asyncio.timeout(timeout):
            try:
                return await self.__anext__()
            except StopAsyncIteration:
                raise EOFError("subscription closed") from None

    async def wait_for(self, predicate: Callable[[T], bool], timeout: float) -> T:
        """The first next item for which ``predicate`` holds, skipping the
        others; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    item = await self.__anext__()
                except StopAsyncIteration:
                    raise EOFError("subscription closed") from None
                if predicate(item):
                    return item


class Fanout(Generic[T]):
    def __init__(self) -> None:
        self._subscriptions: set[Subscription[T]] = set()
        self._callbacks: list[Callable[[T], None]] = []

    def subscribe(self, accept: Callable[[T], bool] | None = None) -> Subscription[T]:
        """A new subscription to the items for which ``accept`` holds (all by default)."""
        subscription = Subscription(self, accept)
        self._subscriptions.add(subscription)
        return subscription

    def add_callback(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Call ``callback(item)`` for every item; returns a function that removes it."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def publish(self, item: T) -> None:
        for subscription in list(self._subscriptions):
            subscription._offer(item)
        for callback in list(self._callbacks):
            try:
                callback(item)
            except Exception:
                log.exception("event_callback_failed", callback=repr(callback))

    def close(self) -> None:
        """End every subscription (the client was closed)."""
        for subscription in list(self._subscriptions):
            subscription._end()
        self._subscriptions.clear()
