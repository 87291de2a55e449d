"""The AMI TCP server: banner, framing, per-session writers, events to every session.

Each session has one writer task draining a queue, so frames never
interleave.  With ``split_writes`` each frame is written in several pieces
cut at random byte offsets (inside UTF-8 characters too), with a short pause
between pieces so they reach the client as separate TCP segments: the way to
exercise a client's incremental decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
from collections.abc import Callable

from .ami_actions import BANNER, AmiActions, Frame, SessionState, encode, parse

_MAX_ACTION = 64 * 1024


class AmiSession:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.state = SessionState()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sender = asyncio.get_running_loop().create_task(self.send_loop())

    def send(self, frame: Frame) -> None:
        if self.server.keep_history:
            self.server.frames_sent.append(frame)
        self.queue.put_nowait(encode(frame))

    def close_after_flush(self) -> None:
        self.queue.put_nowait(None)

    async def send_loop(self) -> None:
        try:
            self.writer.write(BANNER)
            while True:
                data = await self.queue.get()
                if data is None:
                    await self.writer.drain()
                    self.writer.close()
                    return
                if self.server.split_writes and len(data) > 1:
                    for piece in self.server.split(data):
                        self.writer.write(piece)
                        await self.writer.drain()
                        await asyncio.sleep(self.server.split_pause)
                else:
                    self.writer.write(data)
                    await self.writer.drain()
        except (ConnectionError, OSError):
            self.writer.close()

    async def read_loop(self) -> None:
        buffer = b""
        try:
            while not self.state.closing:
                chunk = await self.reader.read(4096)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    end, size = _frame_end(buffer)
                    if end < 0:
                        break
                    block, buffer = buffer[:end], buffer[end + size :]
                    self.dispatch(block.decode("utf-8", errors="replace"))
                    if self.state.closing:
                        break
                if len(buffer) > _MAX_ACTION:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if self.state.closing:
                self.close_after_flush()
            else:
                self.abort()

    def dispatch(self, block: str) -> None:
        fields = parse(block)
        if not fields:
            return
        self.server.actions_received.append(fields)
        try:
            frames = self.server.actions.handle(self.state, fields, self.send)
        except Exception as exc:  # reported to the tests, answered like a failed action
            self.server.errors.append(exc)
            ident = [("ActionID", v) for v in fields.get("actionid", [])[:1]]
            frames = [[("Response", "Error"), *ident, ("Message", "Internal error")]]
        for frame in frames:
            self.send(frame)

    def abort(self) -> None:
        transport = self.writer.transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        self.sender.cancel()


def event_passes(text: str, include: list[re.Pattern[str]], exclude: list[re.Pattern[str]]) -> bool:
    """Whether ``manager.conf`` ``eventfilter`` lines let a manager event through, as
    Asterisk decides: with include filters, only what one of them matches; then
    nothing that an exclude filter (``!regex``) matches."""
    if include and not any(f.search(text) for f in include):
        return False
    return not any(f.search(text) for f in exclude)


def _frame_end(buffer: bytes) -> tuple[int, int]:
    """Index and length of the first blank-line terminator (CRLF or LF)."""
    candidates = [(buffer.find(sep), len(sep)) for sep in (b"\r\n\r\n", b"\n\n")]
    found = [c for c in candidates if c[0] >= 0]
    return min(found) if found else (-1, 0)


class AmiServer:
    """Listens on ``host:port``; ``broadcast`` sends a manager event to logged-in sessions."""

    def __init__(
        self,
        actions: AmiActions,
        *,
        split_writes: bool = False,
        split_pause: float = 0.002,
        eventfilter: tuple[str, ...] = (),
        seed: int | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.actions = actions
        self.split_writes = split_writes
        self.split_pause = split_pause
        self.include = [re.compile(f) for f in eventfilter if not f.startswith("!")]
        self.exclude = [re.compile(f[1:]) for f in eventfilter if f.startswith("!")]
        self.random = random.Random(seed)
        self.sessions: set[AmiSession] = set()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.frames_sent: list[Frame] = []
        self.actions_received: list[dict[str, list[str]]] = []
        self.refuse = False
        self.keep_history = True
        self.errors: list[BaseException] = []
        self.on_change = on_change
        self._tasks: set[asyncio.Task[None]] = set()

    def split(self, data: bytes) -> list[bytes]:
        """Up to four pieces; one cut inside a multi-byte character when there is one."""
        cuts = set(self.random.sample(range(1, len(data)), min(3, len(data) - 1)))
        inside = [i for i in range(1, len(data)) if 0x80 <= data[i] <= 0xBF]
        if inside:
            cuts.add(self.random.choice(inside))
        edges = [0, *sorted(cuts), len(data)]
        return [data[a:b] for a, b in itertools.pairwise(edges) if a < b]

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self.accept, host, port)
        self.port = self.server.sockets[0].getsockname()[1]
        self.actions.port = self.port
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
            self.server = None
        await self.drop_all()

    async def drop_all(self) -> None:
        for session in list(self.sessions):
            session.abort()
        self.sessions.clear()
        tasks = list(self._tasks)
        if tasks:
            # The aborted transports end the readers; cancel only a reader that hangs.
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.read_loop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(session.sender), 1.0)
        finally:
            self.sessions.discard(session)
            if task is not None:
                self._tasks.discard(task)
            session.sender.cancel()
            if self.on_change:
                self.on_change()

    def broadcast(self, frame: Frame) -> None:
        if (self.include or self.exclude) and not event_passes(
            "".join(f"{k}: {v}\r\n" for k, v in frame), self.include, self.exclude
        ):
            return
        for session in list(self.sessions):
            if session.state.authenticated and session.state.events and not session.state.closing:
                session.send(frame)
