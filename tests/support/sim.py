"""pbxsim fixtures for tests: a running simulator and a plain ARI/AMI probe.

``running_sim(**options)`` starts a ``PbxSim`` on free loopback ports with a
fast clock (``time_scale=0.01``), the agent phone 8001, the registering
softphone 8002 and the parallel hotline 12319 behind trunk ``hotline-12319``
(the world of the recorded transcripts); keyword options override any
``SimConfig`` field.  On exit it stops the simulator and fails the test if a
simulator timer or request raised.

``AriProbe`` is a deliberately dumb ARI client (aiohttp, basic auth, one
event WebSocket) for testing pbxsim itself; it records every REST exchange and
every event so contract tests can validate them all.  ``AmiProbe`` does the
same for AMI over a raw TCP stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from pbxsim import PbxSim, PhoneScript, RemoteScript, SimConfig

USER = "hotline"
SECRET = "test-secret-not-for-production"


def default_config(**options: Any) -> SimConfig:
    values: dict[str, Any] = {
        "user": USER,
        "secret": SECRET,
        "time_scale": 0.01,
        "phones": (
            PhoneScript("8001", answer_after=0.5),
            PhoneScript("8002", registered=False),
        ),
        "remotes": (RemoteScript("12319", trunk="hotline-12319", answer_after=1.0, name="12319"),),
        "seed": 12345,
    }
    values.update(options)
    return SimConfig(**values)


@contextlib.asynccontextmanager
async def running_sim(**options: Any) -> AsyncIterator[PbxSim]:
    """A started simulator; background errors fail the test on exit."""
    sim = PbxSim(default_config(**options))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
    assert not sim.errors, f"pbxsim raised in the background: {sim.errors!r}"


def basic_auth(user: str = USER, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, secret)}


@dataclass
class Exchange:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: Any


@dataclass
class AriProbe:
    """REST calls and one event socket against a running simulator."""

    sim: PbxSim
    app: str = "hotline"
    http: aiohttp.ClientSession | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> AriProbe:
        self.http = aiohttp.ClientSession(
            headers=basic_auth(self.sim.config.user, self.sim.config.secret)
        )
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()
        assert self.http is not None
        await self.http.close()

    async def connect(self) -> None:
        assert self.http is not None
        self.ws = await self.http.ws_connect(self.sim.ws_url(self.app))
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 2.0)
        self.ws = None
        self._reader = None

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self.events.append(json.loads(message.data))
                    self._notify()
        finally:
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def request(self, method: str, path: str, **params: Any) -> Exchange:
        assert self.http is not None
        query = {k: v for k, v in params.items() if k != "json"}
        async with self.http.request(
            method, self.sim.ari_url + path, params=query, json=params.get("json")
        ) as response:
            if response.content_type == "application/json":
                body = await response.json()
            else:
                body = await response.read() if response.status == 200 else None
            exchange = Exchange(method, path, query, response.status, body)
        self.exchanges.append(exchange)
        return exchange

    async def event(
        self,
        kind: str,
        match: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first received event of type ``kind`` (from index ``start``) matching ``match``."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[start:]:
                    if event["type"] == kind and (match is None or match(event)):
                        return event
                await self._changed.wait()

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait, re-checking whenever an event arrives, until ``predicate()`` holds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"not reached within {timeout} s: {what}") from None

    def types(self, start: int = 0) -> list[str]:
        return [e["type"] for e in self.events[start:]]


class AmiProbe:
    """A raw AMI connection: send actions, read whole frames (decoded after framing)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = ""
        self.frames: list[dict[str, str]] = []
        self._buffer = b""

    @classmethod
    async def open(cls, sim: PbxSim) -> AmiProbe:
        reader, writer = await asyncio.open_connection(sim.config.host, sim.ami_port)
        probe = cls(reader, writer)
        probe.banner = (await reader.readline()).decode("utf-8")
        return probe

    async def send(self, action: str, **fields: str) -> None:
        lines = [f"Action: {action}"] + [f"{k}: {v}" for k, v in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        await self.writer.drain()

    async def frame(self, timeout: float = 5.0) -> dict[str, str]:
        """The next frame; keys keep their case, a repeated key keeps the last value."""
        async with asyncio.timeout(timeout):
            while b"\r\n\r\n" not in self._buffer:
                chunk = await self.reader.read(4096)
                if not chunk:
                    raise ConnectionError("AMI connection closed")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        frame: dict[str, str] = {}
        for line in raw.decode("utf-8").split("\r\n"):
            key, _, value = line.partition(": ")
            frame[key] = value
        self.frames.append(frame)
        return frame

    async def until(
        self, predicate: Callable[[dict[str, str]], bool], timeout: float = 5.0
    ) -> dict[str, str]:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frame(timeout)
                if predicate(frame):
                    return frame

    async def login(self, user: str = USER, secret: str = SECRET) -> dict[str, str]:
        await self.send("Login", ActionID="1", Username=user, Secret=secret)
        return await self.frame()

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the server closed the connection (reads return EOF)."""
        async with asyncio.timeout(timeout):
            while True:
                chunk = await self.reader.read(4096)
                if not chunk:
                    return True
                self._buffer += chunk

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
