"""The floor of the ring path for a Python ARI application, for ``bench app-queue``.

The smallest application that still connects a caller to an agent: on the
caller's ``StasisStart`` it originates the agent leg to the next free seat at
once, before any other request; then it answers the caller; when the agent
leg answers (its own ``StasisStart``) the two share a mixing bridge; when
either party leaves, the other is hung up and the seat is free again.  No
queue, no record, no database: one event over the WebSocket and one HTTP
request back, the practical floor of an engine written in Python on this path.
It uses the project's ARI client, as the engine does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine
from typing import Any

from cti.ari import AriClient, AriError, ChannelDestroyed, StasisStart
from cti.ids import ChannelId

ROLE = "floor"


class FloorApp:
    """Rings the next free seat the moment a caller arrives (see the module docstring)."""

    def __init__(self, client: AriClient, endpoints: list[str], ring_timeout: int = 15) -> None:
        self.client = client
        self.free: deque[str] = deque(endpoints)
        self.ring_timeout = ring_timeout
        self.peer: dict[str, str] = {}  # caller <-> agent leg
        self.seat: dict[str, str] = {}  # agent leg -> endpoint
        self.refused = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = client.on_event(self._on_event)

    def __repr__(self) -> str:
        return f"<FloorApp free={len(self.free)} calls={len(self.seat)}>"

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, item: Any) -> None:
        if isinstance(item, StasisStart):
            args = list(item.args or [])
            channel = str(item.channel.id)
            if args and args[0] == "inbound":
                self._arrived(channel, item.channel.caller.number or "")
            elif args and args[0] == ROLE and len(args) > 1:
                self._spawn(self._connect(args[1], channel))
        elif isinstance(item, ChannelDestroyed):
            self._gone(str(item.channel.id))

    def _arrived(self, caller: str, number: str) -> None:
        if not self.free:
            self.refused += 1
            self._spawn(self._hangup(caller))
            return
        endpoint = self.free.popleft()
        leg = f"{caller}-floor"
        self.peer[caller], self.peer[leg] = leg, caller
        self.seat[leg] = endpoint
        self._spawn(self._ring(caller, leg, endpoint, number))

    async def _ring(self, caller: str, leg: str, endpoint: str, number: str) -> None:
        channels = self.client.channels
        try:
            await channels.originate(
                f"PJSIP/{endpoint}",
                app=self.client.app,
                app_args=f"{ROLE},{caller}",
                caller_id=number,  # the seat sees who calls, as with the engine
                timeout=self.ring_timeout,
                channel_id=leg,
            )
            await channels.answer(ChannelId(caller))
        except AriError:
            self._gone(leg)

    async def _connect(self, caller: str, leg: str) -> None:
        try:
            bridge = await self.client.bridges.create(type="mixing")
            await self.client.bridges.add_channel(bridge.id, [ChannelId(caller), ChannelId(leg)])
        except AriError:
            self._gone(leg)

    def _gone(self, channel: str) -> None:
        other = self.peer.pop(channel, None)
        endpoint = self.seat.pop(channel, None)
        if endpoint is not None:
            self.free.append(endpoint)
        if other is not None:
            self.peer.pop(other, None)
            endpoint = self.seat.pop(other, None)
            if endpoint is not None:
                self.free.append(endpoint)
            self._spawn(self._hangup(other))

    async def _hangup(self, channel: str) -> None:
        with contextlib.suppress(AriError):
            await self.client.channels.hangup(ChannelId(channel))

    async def close(self) -> None:
        self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
