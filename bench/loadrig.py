"""The running system of ``hotline bench load``: PostgreSQL, pbxsim, the engine, a ticket backend.

:class:`Rig` starts them, each in its own process but the backend (an aiohttp
server in the benchmark's process): a private PostgreSQL, ``hotline sim``
with one phone per agent, and ``hotline run`` on the bench configuration;
then logs every agent in.  Secrets are random per run and reach the children
only through their environment.  :class:`WallboardWatch` follows the
wallboard the way a supervisor's screen does (``/ws/wallboard``, or polling
``/api/wallboard`` when the engine has no such socket) and keeps what it saw
with the time it saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.loadsupport import (
    BenchError,
    Child,
    Staff,
    clean_environ,
    free_port,
    hotline_command,
    manager_eventfilters,
    start_pbxsim,
)
from cti.config import Config
from cti.demo import DemoBackend
from cti.pgserver import PrivatePostgres

SIM_USER = "hotline"


@dataclass
class Sample:
    """One wallboard figure set, as received (``at``: this process's ``time.time()``)."""

    at: float
    offered: int
    ready: int
    on_call: int


def board_sample(at: float, board: dict[str, Any]) -> Sample:
    """The figures the benchmark follows, from one wallboard document."""
    total = board.get("total", board)
    agents = total.get("agents", {})
    by_state = agents.get("by_state")
    if isinstance(by_state, dict):  # the first shape of /api/wallboard
        ready, on_call = by_state.get("idle", 0), by_state.get("on_call", 0)
    else:
        ready, on_call = agents.get("ready", 0), agents.get("on_call", 0)
    return Sample(at, int(total.get("today", {}).get("offered", 0)), int(ready), int(on_call))


@dataclass
class WallboardWatch:
    """Every wallboard update seen; ``source`` says how they were obtained."""

    url: str
    token: str
    poll_interval: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    source: str = ""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def start(self, http: aiohttp.ClientSession) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(http))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait_for(
        self, predicate: Callable[[Sample], bool], timeout: float, what: str
    ) -> None:
        """Wait until the latest sample satisfies ``predicate``."""
        try:
            async with asyncio.timeout(timeout):
                while not (self.latest is not None and predicate(self.latest)):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}") from None

    def _add(self, board: dict[str, Any]) -> None:
        self.samples.append(board_sample(time.time(), board))
        self._changed.set()

    async def _run(self, http: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with http.ws_connect(self.url + "/ws/wallboard", headers=headers) as ws:
                self.source = "push: /ws/wallboard"
                async for message in ws:
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        continue
                    data = json.loads(message.data)
                    if data.get("type") == "wallboard":
                        self._add(data["wallboard"])
                return
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 404:
                raise
        self.source = f"poll: /api/wallboard every {self.poll_interval:g}s"
        while True:
            async with http.get(self.url + "/api/wallboard", headers=headers) as reply:
                if reply.status == 200:
                    self._add(await reply.json())
            await asyncio.sleep(self.poll_interval)  # a polling client's own period


MANAGER_CONF = Path(__file__).resolve().parents[1] / "asterisk-conf" / "manager.conf"


@dataclass
class RigOptions:
    workdir: Path
    config_dir: Path
    config: Config
    staff: Staff
    answer_after: float
    talk: float
    time_scale: float
    cprofile: Path | None = None  # the engine runs under cProfile, its stats written here


class Rig:
    """The whole system under test; ``async with Rig(options) as rig``."""

    def __init__(self, options: RigOptions) -> None:
        self.options = options
        self.secret = secrets.token_hex(16)
        self.wallboard_token = secrets.token_hex(16)
        self.pg = PrivatePostgres()
        self.backend = DemoBackend()
        self.sim: Child | None = None
        self.engine: Child | None = None
        self.http: aiohttp.ClientSession | None = None
        self.sim_url = ""
        self.engine_url = ""
        self.watch: WallboardWatch | None = None

    async def __aenter__(self) -> Rig:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- life ------------------------------------------------------------------

    async def _start(self) -> None:
        o = self.options
        await asyncio.to_thread(self.pg.start)
        await self.backend.start()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        ari_port, ami_port, http_port = free_port(), free_port(), free_port()
        self.sim = await self._start_sim(ari_port, ami_port)
        base_env = clean_environ()
        self.sim_url = f"http://127.0.0.1:{ari_port}"
        await self._until(lambda: self._up(self.sim_url + "/sim/state", self._sim_auth), self.sim)
        engine = o.config.engine
        env: dict[str, str] = {
            **base_env,
            "HOTLINE_ARI_URL": f"{self.sim_url}/ari",
            "HOTLINE_AMI_HOST": "127.0.0.1",
            "HOTLINE_AMI_PORT": str(ami_port),
            "HOTLINE_HTTP_HOST": "127.0.0.1",
            "HOTLINE_HTTP_PORT": str(http_port),
            "HOTLINE_STATE_DIR": str(o.workdir / "state"),
            "HOTLINE_RECORDINGS_DIR": str(o.workdir / "recordings"),
            "HOTLINE_TICKETS_URL": self.backend.url,
            "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
            engine.ari.password_env: self.secret,
            engine.ami.secret_env: self.secret,
            engine.database.dsn_env: self.pg.dsn,
            "HOTLINE_WALLBOARD_TOKEN": f"bench:{self.wallboard_token}",
        }
        if engine.tickets.token_env:
            env[engine.tickets.token_env] = secrets.token_hex(8)
        self.engine = await Child(
            "engine",
            _profiled(
                hotline_command(
                    "run", f"--config={o.config_dir}", "--log-json", "--log-level=INFO"
                ),
                o.cprofile,
            ),
            env,
            o.workdir / "engine.log",
        ).start()
        self.engine_url = f"http://127.0.0.1:{http_port}"
        await self._until(lambda: self._up(self.engine_url + "/healthz"), self.engine)
        self.watch = WallboardWatch(self.engine_url, self.wallboard_token)
        self.watch.start(self.http)

    async def stop(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        for child in (self.engine, self.sim):
            if child is not None:
                await child.stop()
        if self.http is not None:
            await self.http.close()
        await self.backend.stop()
        await asyncio.to_thread(self.pg.cleanup)

    @property
    def _sim_auth(self) -> dict[str, str]:
        return {"Authorization": aiohttp.encode_basic_auth(SIM_USER, self.secret)}

    async def _up(self, url: str, headers: dict[str, str] | None = None) -> bool:
        assert self.http is not None
        try:
            async with self.http.get(url, headers=headers) as reply:
                return reply.status == 200
        except aiohttp.ClientError:
            return False

    async def _until(
        self, check: Callable[[], Awaitable[bool]], child: Child, timeout: float = 60.0
    ) -> None:
        """Wait until ``check()`` holds while ``child`` keeps running."""
        deadline = time.monotonic() + timeout
        while not await check():
            child.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{child.name} did not come up in {timeout:.0f}s:\n{child.tail()}")
            await asyncio.sleep(0.2)  # a process starting up: nothing to wait on but time

    # -- pbxsim ------------------------------------------------------------------

    async def _start_sim(self, ari_port: int, ami_port: int, **named: str) -> Child:
        """A pbxsim process with the rig's phones; its manager events filtered as the
        shipped manager.conf makes Asterisk do.  ``named``: ``name`` and ``system_name``
        of one node among several."""
        o = self.options
        return await start_pbxsim(
            o.workdir,
            ari_port=ari_port,
            ami_port=ami_port,
            user=SIM_USER,
            secret=self.secret,
            time_scale=o.time_scale,
            phones=[self.phone(e) for e in o.staff.endpoints],
            eventfilters=manager_eventfilters(MANAGER_CONF, o.config.engine.ami.user),
            **named,
        )

    def phone(self, endpoint: str, *, hangs_up: bool = True) -> dict[str, Any]:
        """An agent phone's script: answers after ``answer_after``, then hangs up
        after ``talk`` (or never, until told, with ``hangs_up`` False)."""
        o = self.options
        return {
            "endpoint": endpoint,
            "answer_after": o.answer_after,
            "hangup_after": o.talk if hangs_up else None,
        }

    async def sim_call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.http is not None
        async with self.http.request(
            method, self.sim_url + path, json=body, headers=self._sim_auth
        ) as reply:
            if reply.status >= 300:
                raise BenchError(f"pbxsim {method} {path}: {reply.status} {await reply.text()}")
            return await reply.json() if reply.status != 204 else None

    async def each(
        self, items: list[Any], work: Callable[[Any], Awaitable[Any]], width: int = 8
    ) -> list[Any]:
        """Run ``work(item)`` for every item, ``width`` at a time."""
        gate = asyncio.Semaphore(width)

        async def one(item: Any) -> Any:
            async with gate:
                return await work(item)

        return await asyncio.gather(*(one(item) for item in items))

    # -- the engine --------------------------------------------------------------

    async def engine_call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> Any:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(
            method, self.engine_url + path, json=body, headers=headers
        ) as reply:
            data = await reply.json(content_type=None)
            if reply.status != 200:
                raise BenchError(f"engine {method} {path}: {reply.status} {data}")
            return data

    async def log_in_everyone(self) -> None:
        staff = self.options.staff

        async def log_in(pair: tuple[str, str]) -> None:
            agent, seat = pair
            body = {"agent": agent, "pin": staff.pin, "seat": seat}
            token = (await self.engine_call("POST", "/api/agents/login", body))["token"]
            await self.engine_call("POST", "/api/agents/me/ready", token=token)

        await self.each(list(zip(staff.agents, staff.seats, strict=True)), log_in)
        assert self.watch is not None
        await self.watch.wait_for(
            lambda s: s.ready >= len(staff.agents), 60, "every agent ready after login"
        )


def _profiled(argv: list[str], stats: Path | None) -> list[str]:
    """``argv`` (``python -m module ...``) run under cProfile when ``stats`` is set."""
    if stats is None:
        return argv
    return [argv[0], "-m", "cProfile", "-o", str(stats), *argv[1:]]
