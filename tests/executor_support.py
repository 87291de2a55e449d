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
from cti.config import Config, ConfigManager
from cti.engine import records
from cti.engine.acdmap import acd_config
from cti.engine.pbx import Pbx
from cti.executor import Executor, Intake, flow_config
from cti.store import Database
from cti.writer import BufferedWriter
from pbxsim import PbxSim, PhoneScript, SimConfig
from switchboard import CallTimer, Switchboard, WriteFinal
from switchboard import events as ev
from tests.support.stack import SECRET, Patch, patched_config


@dataclass
class Rig:
    sim: PbxSim
    config: Config
    version: str
    writer: BufferedWriter
    db: Database
    executor: Executor = field(init=False)
    intake: Intake = field(init=False)
    ari: AriClient = field(init=False)
    finals: list[WriteFinal] = field(default_factory=list)
    _ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, agents: tuple[tuple[str, str], ...] = ()) -> None:
        """A new executor, on a new switchboard, connected to pbxsim.

        ``agents`` (agent, seat) are logged in before the connection, as a
        restarted engine restores them before it takes calls back.
        """
        self.ari = AriClient(self.sim.ari_url, "hotline", SECRET, "hotline")
        board = Switchboard(flow_config(self.config, self.version), acd_config(self.config))
        self.executor = Executor(board, Pbx(self.ari), self.writer, self.config.sound)
        self.intake = Intake(self.executor)
        self.executor.listeners.finals.append(self.on_final)
        self.ari.on_event(self.intake.on_ari)
        self.ari.set_known(self.intake.known)
        for agent, seat in agents:
            self.login(agent, seat)
        await self.ari.connect()
        await self.intake.remember_pbx()

    async def stop(self) -> None:
        """The executor goes away; Asterisk keeps its channels."""
        self.executor.shutdown()
        await self.ari.close()

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
    rig = Rig(sim, manager.current, manager.version.digest, writer, db)
    try:
        await rig.start()
        yield rig
    finally:
        await rig.stop()
        await writer.stop()
        await db.close()
        await sim.stop()
