"""One engine and several pbxsim nodes (``engine.yaml`` ``nodes:``) on real sockets.

Each node is a :class:`~pbxsim.PbxSim` of its own, named as an Asterisk with
``systemname`` set (its channel ids start with the name), with the same seat
phones: an agent leg is rung on the caller's node, as Kamailio would carry it
to the phone registered there.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from cti.app import EngineProcess, Settings
from cti.config import ConfigManager
from cti.config.sections.engine import node_env
from cti.pgserver import free_port
from cti.store import Database
from pbxsim import PbxSim, PhoneScript, SimConfig
from tests.support.backend import TicketBackend
from tests.support.stack import SECRET, TICKET_TOKEN, Patch, Stack, patched_config


@dataclass
class NodesStack:
    """The engine's :class:`Stack` (its ``sim`` is the first node) and every node by name."""

    stack: Stack
    sims: dict[str, PbxSim]

    def node_of(self, channel_id: str) -> str:
        """The node a channel id of pbxsim belongs to (its system name prefix)."""
        return channel_id.rpartition("-")[0]


async def calls_by_node(http: aiohttp.ClientSession, url: str) -> Counter[str]:
    """Calls in progress on each node, as the engine at ``url`` counts them."""
    async with http.get(f"{url}/healthz") as reply:
        body = await reply.json()
    return Counter({n["name"]: n["calls"] for n in body.get("nodes", [])})


def node_names(count: int) -> list[str]:
    return [f"ast-{chr(ord('a') + n)}" for n in range(count)]


def nodes_environment(names: Iterable[str]) -> dict[str, str]:
    """Each node's ARI password and AMI secret, under the variables named after it."""
    env: dict[str, str] = {}
    for name in names:
        env[node_env("HOTLINE_ARI_PASSWORD", name)] = SECRET
        env[node_env("HOTLINE_AMI_SECRET", name)] = SECRET
    return env


def nodes_patch(sims: Mapping[str, PbxSim], lost_after: float) -> Patch:
    def engine(data: Any) -> None:
        data["nodes"] = [
            {
                "name": name,
                "ari_url": sim.ari_url,
                "ami_host": sim.config.host,
                "ami_port": sim.ami_port,
            }
            for name, sim in sims.items()
        ]
        data["node_lost_after"] = lost_after

    return engine


async def started_nodes(
    count: int,
    phones: Iterable[PhoneScript],
    *,
    time_scale: float,
    recordings: Path | None = None,
    late: Iterable[str] = (),
) -> dict[str, PbxSim]:
    """``count`` pbxsim nodes by name, each an Asterisk with its ``systemname`` in its
    channel ids; those named in ``late`` get their ports but are not started."""
    sims: dict[str, PbxSim] = {}
    late = set(late)
    for name in node_names(count):
        ports = {"ari_port": free_port(), "ami_port": free_port()} if name in late else {}
        folder = {"recordings_dir": recordings / f"{name}-recordings"} if recordings else {}
        sims[name] = PbxSim(
            SimConfig(
                user="hotline",
                secret=SECRET,
                time_scale=time_scale,
                phones=tuple(phones),
                system_name=name,
                system_name_in_ids=True,
                **folder,
                **ports,
            )
        )
        if name not in late:
            await sims[name].start()
    return sims


@asynccontextmanager
async def running_nodes(
    tmp_path: Path,
    dsn: str,
    *,
    count: int = 2,
    patches: dict[str, Patch] | None = None,
    phones: Iterable[PhoneScript] = (),
    time_scale: float = 0.1,
    lost_after: float = 1.0,
    late: Iterable[str] = (),
) -> AsyncIterator[NodesStack]:
    """``count`` pbxsim nodes and one engine listing them all, stopped on exit.

    The nodes named in ``late`` get their ports but are not started: the test
    starts them (``await sims[name].start()``) once the engine runs without them.
    """
    sims = await started_nodes(count, phones, time_scale=time_scale, recordings=tmp_path, late=late)
    everything = dict(patches or {})
    own_engine = everything.pop("engine.yaml", None)

    def engine(data: Any) -> None:
        nodes_patch(sims, lost_after)(data)
        if own_engine is not None:
            own_engine(data)

    config_dir = patched_config(tmp_path / "config", {**everything, "engine.yaml": engine})
    manager = ConfigManager(config_dir)
    os.environ.setdefault("HOTLINE_TICKET_TOKEN", TICKET_TOKEN)
    backend = await TicketBackend(token=os.environ["HOTLINE_TICKET_TOKEN"]).start()
    settings = Settings.from_config(
        str(config_dir), manager.current, environ=nodes_environment(sims)
    ).with_(
        http_port=0,
        database_url=dsn,
        state_dir=str(tmp_path / "state"),
        recordings_dir=str(tmp_path / "recordings"),
        tickets_url=backend.url,
        tickets_retry_cap=2.0,
    )
    process = EngineProcess(settings, manager)
    db = Database(dsn)
    first = next(iter(sims.values()))
    try:
        await process.start()
        await db.open(run_migrations=False)
        async with aiohttp.ClientSession() as http:
            stack = Stack(sim=first, backend=backend, engine_process=process, db=db, http=http)
            process.engine.ended_listeners.append(stack._on_ended)
            yield NodesStack(stack, sims)
            assert stack.engine.errors == 0, "the engine logged internal errors"
    finally:
        await process.stop()
        await db.close()
        for sim in sims.values():
            await sim.stop()
        await backend.stop()
