"""The executor on real sockets: pbxsim, ARI, a real PostgreSQL, the switchboard.

``running_executor`` starts pbxsim with the agent phones, a writer on a fresh
database and an :class:`~cti.executor.Executor` over the shipped
configuration, connected to pbxsim's ARI.  Agents log in and seats become
reachable through switchboard events, as the API and AMI would send them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acd
from cti.ari.client import AriClient
from cti.config import ConfigManager
from cti.engine import records
from cti.engine.acdmap import acd_config
from cti.engine.pbx import Pbx
from cti.executor import Executor, flow_config
from cti.store import Database
from cti.writer import BufferedWriter
from pbxsim import PbxSim, PhoneScript, SimConfig
from switchboard import CallTimer, Switchboard, WriteFinal
from switchboard import events as ev
from tests.support.stack import SECRET, Patch, patched_config


@dataclass
class Rig:
    sim: PbxSim
    executor: Executor
    writer: BufferedWriter
    db: Database
    finals: list[WriteFinal] = field(default_factory=list)
    _ended: asyncio.Event = field(default_factory=asyncio.Event)

    def on_final(self, command: WriteFinal) -> None:
        self.finals.append(command)
        self._ended.set()

    def login(self, agent: str, seat: str) -> None:
        ex = self.executor
        ex.feed(ev.SeatChanged(acd.SeatReachability(acd.SeatId(seat), True)))
        ex.feed(ev.AgentRequest(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(seat))))
        ex.feed(ev.AgentRequest(acd.AgentReady(acd.AgentId(agent))))

    def ready(self, agent: str) -> None:
        """The agent ends wrap-up (if in it) and is ready (if not)."""
        ex = self.executor
        ex.feed(ev.AgentRequest(acd.AgentEndWrapup(acd.AgentId(agent))))
        ex.feed(ev.AgentRequest(acd.AgentReady(acd.AgentId(agent))))

    async def wait_ended(self, count: int = 1, timeout: float = 20.0) -> list[WriteFinal]:
        async with asyncio.timeout(timeout):
            while len(self.finals) < count:
                self._ended.clear()
                await self._ended.wait()
        return self.finals[:count]

    async def call_row(self, call_id: str) -> Any:
        await self.writer.flushed(10.0)
        row = await self.db.fetchrow("SELECT * FROM calls WHERE call_id = $1", call_id)
        assert row is not None, f"no call record for {call_id}"
        return row

    async def kinds(self, call_id: str) -> list[str]:
        await self.writer.flushed(10.0)
        found = await self.db.fetch(
            "SELECT kind FROM call_events WHERE call_id = $1 ORDER BY at, id", call_id
        )
        return [r["kind"] for r in found]

    def requests(self, method: str, path: str) -> list[Any]:
        """ARI requests received: ``path`` exact, or a prefix when it ends with ``/``."""
        found = []
        for r in self.sim.requests:
            p = r.path.removeprefix("/ari")
            if r.method == method and (p == path or (path.endswith("/") and p.startswith(path))):
                found.append(r)
        return found

    def call_timers(self, call_id: str) -> list[CallTimer]:
        """The timers of the call still running in the executor."""
        armed = self.executor.armed()
        return [k for k in armed if isinstance(k, CallTimer) and k.call_id == call_id]

    def live_channels(self) -> list[str]:
        return [ch.id for ch in self.sim.world.channels.values()]


@asynccontextmanager
async def running_executor(
    tmp_path: Path,
    dsn: str,
    *,
    phones: Iterable[PhoneScript] = (),
    patches: dict[str, Patch] | None = None,
    time_scale: float = 0.1,
) -> AsyncIterator[Rig]:
    manager = ConfigManager(patched_config(tmp_path / "config", patches))
    config = manager.current
    sim = PbxSim(
        SimConfig(
            user="hotline",
            secret=SECRET,
            time_scale=time_scale,
            phones=tuple(phones),
            recordings_dir=tmp_path / "asterisk-recordings",
        )
    )
    await sim.start()
    db = Database(dsn)
    await db.open()
    writer = BufferedWriter(db, tmp_path / "spool" / "writes.jsonl")
    records.register(writer)
    writer.start()
    ari = AriClient(sim.ari_url, "hotline", SECRET, "hotline")
    board = Switchboard(flow_config(config, manager.version.digest), acd_config(config))
    executor = Executor(board, Pbx(ari), writer, config.sound)
    rig = Rig(sim, executor, writer, db)
    executor.listeners.finals.append(rig.on_final)
    ari.on_event(executor.on_ari)
    try:
        await ari.connect()
        yield rig
    finally:
        executor.shutdown()
        await ari.close()
        await writer.stop()
        await db.close()
        await sim.stop()
