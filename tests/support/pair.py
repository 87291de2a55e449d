"""Two engines (``hotline run`` child processes) with ``availability:``, one PostgreSQL and
one pbxsim: the active one and its standby, for the takeover and split-brain tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from cti.pgserver import free_port
from pbxsim import PbxSim
from tests.support.backend import TicketBackend
from tests.support.child import EngineProc, engine_environment
from tests.support.stack import patched_config

LEASE_SECONDS = 5  # long enough that a loaded test machine never loses it by a stall
RENEW_SECONDS = 1


@dataclass
class Node:
    """One engine of the pair: its process, HTTP address and the name pbxsim logs it by."""

    name: str
    proc: EngineProc
    url: str

    @property
    def client(self) -> str:
        return f"hotline-cti/{self.name}"


async def health(http: aiohttp.ClientSession, node: Node) -> dict[str, Any]:
    """``/healthz`` of ``node``; ``{}`` while it does not answer."""
    try:
        async with http.get(f"{node.url}/healthz") as reply:
            if reply.status == 200:
                body: dict[str, Any] = await reply.json()
                return body
    except (aiohttp.ClientError, TimeoutError):
        pass
    return {}


async def until_role(
    http: aiohttp.ClientSession, node: Node, role: str, timeout: float, *, ari: str | None = None
) -> dict[str, Any]:
    """Poll ``node`` until it reports ``role`` (and the ARI link state ``ari``)."""
    async with asyncio.timeout(timeout):
        while True:
            body = await health(http, node)
            if body.get("role") == role and (ari is None or body.get("ari") == ari):
                return body
            await asyncio.sleep(0.1)


@asynccontextmanager
async def engine_pair(
    tmp_path: Path,
    dsn: str,
    sim: PbxSim,
    patches: dict[str, Callable[[Any], None]],
    **extra_env: str,
) -> AsyncIterator[tuple[Node, Node]]:
    """Two engines ``a`` and ``b`` (not started) on ``sim``, sharing ``dsn``."""
    backend = await TicketBackend(token="t").start()
    nodes: list[Node] = []
    own = patches.get("engine.yaml")  # applied after the pair's own settings
    for name in ("node-a", "node-b"):

        def engine(data: Any, name: str = name) -> None:
            data["node"] = name
            data["availability"] = {
                "lease_seconds": LEASE_SECONDS,
                "renew_seconds": RENEW_SECONDS,
            }
            if own is not None:
                own(data)

        config_dir = patched_config(tmp_path / name / "config", {**patches, "engine.yaml": engine})
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = engine_environment(
            sim,
            sim.config.secret,
            http_port=port,
            database_url=dsn,
            workdir=tmp_path / name,
            tickets_url=backend.url,
            ticket_token="t",
            HOTLINE_PUBLIC_URL=url,
            **extra_env,
        )
        nodes.append(Node(name, EngineProc(config_dir, env, tmp_path / f"{name}.log"), url))
    try:
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.proc.stop()
        await backend.stop()
