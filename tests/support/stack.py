"""The whole engine on real sockets: pbxsim, a real PostgreSQL, the engine and its HTTP API.

``running_stack`` copies the shipped ``config/`` into a temporary directory,
applies the test's YAML patches, starts pbxsim with the agent phones, starts
the engine against it with a fresh database, and yields a :class:`Stack`
with helpers to log agents in and wait for outcomes under deadlines.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from ruamel.yaml import YAML

from cti.app import EngineProcess, Settings
from cti.config import ConfigManager
from cti.executor import CallView as Call
from cti.store import Database
from pbxsim import PbxSim, PhoneScript, SimConfig
from tests.support.backend import TicketBackend
from tests.support.remote_sim import SimProcess

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-secret"
TICKET_TOKEN = "test-ticket-token"

Patch = Callable[[Any], None]


def patched_config(target: Path, patches: dict[str, Patch] | None = None) -> Path:
    """A copy of the shipped config/ with ``{file name: mutate(yaml data)}`` applied."""
    shutil.copytree(REPO / "config", target)
    yaml = YAML()
    yaml.preserve_quotes = True
    for name, mutate in (patches or {}).items():
        path = target / name
        data = yaml.load(path.read_text(encoding="utf-8"))
        mutate(data)
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)
    return target


@dataclass
class Stack:
    sim: Any  # a PbxSim in this process, or a SimProcess (``running_stack(sim_process=True)``)
    backend: TicketBackend
    engine_process: EngineProcess
    db: Database
    http: aiohttp.ClientSession
    ended: list[Call] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    _ended_event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def engine(self) -> Any:
        return self.engine_process.engine

    @property
    def url(self) -> str:
        return self.engine_process.url

    async def restart_engine(self) -> None:
        """Stop the engine and start a new one on the same database and pbxsim."""
        old = self.engine_process
        await old.stop()
        manager = ConfigManager(old.manager.directory)
        self.engine_process = EngineProcess(old.settings, manager)
        await self.engine_process.start()
        self.engine_process.engine.ended_listeners.append(self._on_ended)

    def _on_ended(self, call: Call) -> None:
        self.ended.append(call)
        self._ended_event.set()

    async def api(
        self, method: str, path: str, *, token: str | None = None, json: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.url + path, json=json, headers=headers) as r:
            body = await r.json(content_type=None)
            return r.status, body

    async def login(self, agent: str, seat: str, *, ready: bool = True) -> str:
        status, body = await self.api(
            "POST", "/api/agents/login", json={"agent": agent, "pin": agent, "seat": seat}
        )
        assert status == 200, body
        token: str = body["token"]
        self.tokens[agent] = token
        if ready:
            status, body = await self.api("POST", "/api/agents/me/ready", token=token)
            assert status == 200, body
        return token

    async def wait_ended(self, count: int = 1, timeout: float = 20.0) -> list[Call]:
        """Wait until ``count`` calls have ended; return them in order."""
        async with asyncio.timeout(timeout):
            while len(self.ended) < count:
                self._ended_event.clear()
                await self._ended_event.wait()
        return self.ended[:count]

    async def flushed(self, timeout: float = 10.0) -> None:
        await self.engine_process.writer.flushed(timeout)

    async def call_row(self, call_id: str) -> dict[str, Any]:
        await self.flushed()
        row = await self.db.fetchrow("SELECT * FROM calls WHERE call_id = $1", call_id)
        assert row is not None, f"no call record for {call_id}"
        return row

    async def timeline(self, call_id: str) -> list[dict[str, Any]]:
        await self.flushed()
        return await self.db.fetch(
            "SELECT kind, agent, detail FROM call_events WHERE call_id = $1 ORDER BY at, id",
            call_id,
        )

    def requests(self, method: str, path: str) -> list[Any]:
        """ARI requests received: ``path`` exact, or a prefix when it ends with ``/``."""
        found = []
        for r in self.sim.requests:
            p = r.path.removeprefix("/ari")
            if r.method == method and (p == path or (path.endswith("/") and p.startswith(path))):
                found.append(r)
        return found


@asynccontextmanager
async def running_stack(
    tmp_path: Path,
    dsn: str,
    *,
    patches: dict[str, Patch] | None = None,
    phones: Iterable[PhoneScript] = (),
    time_scale: float = 0.1,
    sim_options: dict[str, Any] | None = None,
    tickets_retry_cap: float | None = 2.0,
    sim_process: bool = False,
) -> AsyncIterator[Stack]:
    """The whole stack, stopped on exit.

    ``tickets_retry_cap`` stands for ``HOTLINE_TICKETS_RETRY_CAP`` (2 s keeps
    ticket retries quick); None leaves the backoff to ``engine.yaml``
    ``tickets.retry``, patched like any other setting.  With ``sim_process``
    pbxsim runs in a child process (:class:`~tests.support.remote_sim.SimProcess`),
    so that its work does not share the engine's event loop.
    """
    config_dir = patched_config(tmp_path / "config", patches)
    manager = ConfigManager(config_dir)
    sim: PbxSim | SimProcess
    if sim_process:
        assert not sim_options, "options of a simulator in a child process: not supported"
        sim = SimProcess(
            tmp_path / "pbxsim", user="hotline", secret=SECRET, time_scale=time_scale, phones=phones
        )
    else:
        sim = PbxSim(
            SimConfig(
                user="hotline",
                secret=SECRET,
                time_scale=time_scale,
                phones=tuple(phones),
                recordings_dir=tmp_path / "asterisk-recordings",
                **(sim_options or {}),
            )
        )
    await sim.start()
    os.environ.setdefault("HOTLINE_TICKET_TOKEN", TICKET_TOKEN)
    backend = await TicketBackend(token=os.environ["HOTLINE_TICKET_TOKEN"]).start()
    settings = Settings.from_config(str(config_dir), manager.current, environ={}).with_(
        ari_url=sim.ari_url,
        ari_password=SECRET,
        ami_port=sim.ami_port,
        ami_secret=SECRET,
        http_port=0,
        database_url=dsn,
        state_dir=str(tmp_path / "state"),
        recordings_dir=str(tmp_path / "recordings"),
        tickets_url=backend.url,
        tickets_retry_cap=tickets_retry_cap,
    )
    process = EngineProcess(settings, manager)
    db = Database(dsn)
    try:
        await process.start()
        await db.open(run_migrations=False)
        async with aiohttp.ClientSession() as http:
            stack = Stack(sim=sim, backend=backend, engine_process=process, db=db, http=http)
            process.engine.ended_listeners.append(stack._on_ended)
            yield stack
            assert stack.engine.errors == 0, "the engine logged internal errors"
            process = stack.engine_process
    finally:
        await process.stop()
        await db.close()
        await sim.stop()
        await backend.stop()
