"""Kamailio in front of two real Asterisk nodes, one engine driving both.

Debian's Kamailio runs the shipped ``deploy/kamailio/kamailio.cfg`` (loopback
ports): its dispatcher spreads the carrier's calls over the two nodes, its
registrar holds the seat phones (SIPp, registered at Kamailio, not at any
Asterisk).  Each Asterisk runs the shipped ``asterisk-conf/`` with its own
``systemname``, the carrier trunk pointing at Kamailio and the seats' contacts
at Kamailio, so that an agent leg a node originates reaches the phone through
the registrar.  The engine lists both nodes in ``engine.yaml`` ``nodes:``.

Calls land on both nodes and reach agents; a drained node refuses new callers
with 503 and Kamailio hands them to the other node; one Asterisk stopped, new
calls are still answered, on the other node.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.asterisk.engine import AgentSession, EngineRunner
from tests.asterisk.kamailio import Kamailio, KamailioUnavailable, kamailio_binary
from tests.asterisk.pbx import AMI_SECRET, ARI_PASSWORD, Asterisk, Ports, free_udp_port
from tests.asterisk.scenario import prompt_seconds, tier_config
from tests.asterisk.sip import Phone, Sipp, call

pytestmark = [pytest.mark.asterisk, pytest.mark.availability]

NODES = ("ast-1", "ast-2")
SEATS = {"8001": ("1003", "s01"), "8002": ("1004", "s02")}
TALK_S = 3
LOST_AFTER = 2
SUPERVISOR = "tier-supervisor"


@dataclasses.dataclass
class NodesEngine(EngineRunner):
    """The tier's engine with ``nodes:``: each node's secrets under its own variables."""

    nodes: tuple[str, ...] = ()

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["HOTLINE_SUPERVISOR_TOKEN"] = SUPERVISOR
        for name in self.nodes:
            suffix = name.upper().replace("-", "_")
            env[f"HOTLINE_ARI_PASSWORD_{suffix}"] = ARI_PASSWORD
            env[f"HOTLINE_AMI_SECRET_{suffix}"] = AMI_SECRET
        return env


def _behind_kamailio(node: Asterisk, name: str, kamailio_port: int) -> None:
    """The staged configuration of ``node`` as one of several behind Kamailio."""
    etc = node.conf.parent
    conf = etc / "asterisk.conf"
    text = conf.read_text(encoding="utf-8")
    assert text.count("[options]\n") == 1
    conf.write_text(text.replace("[options]\n", f"[options]\nsystemname = {name}\n"))
    seats = etc / "pjsip_seats.conf"
    text = seats.read_text(encoding="utf-8")
    for endpoint in SEATS:
        aor = f"[{endpoint}](seat-aor)\n"
        assert text.count(aor) == 1, aor
        text = text.replace(aor, f"{aor}contact = sip:{endpoint}@127.0.0.1:{kamailio_port}\n")
    seats.write_text(text, encoding="utf-8")


@dataclasses.dataclass
class Platform:
    nodes: dict[str, Asterisk]
    kamailio: Kamailio
    engine: NodesEngine
    workdir: Path


@pytest.fixture
async def platform(
    asterisk_binary: Path, empty_dsn: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    try:
        kamailio_binary()
    except KamailioUnavailable as exc:
        pytest.skip(str(exc))
    kamailio_port = free_udp_port()
    nodes: dict[str, Asterisk] = {}
    for name in NODES:
        ports = dataclasses.replace(Ports.allocate(), carrier=kamailio_port)
        nodes[name] = Asterisk(asterisk_binary, tmp_path / name, ports)
        _behind_kamailio(nodes[name], name, kamailio_port)
    kamailio = Kamailio(
        tmp_path / "kamailio",
        carrier_port=free_udp_port(),
        nodes=[n.ports.sip for n in nodes.values()],
        port=kamailio_port,
    )
    config = tier_config(tmp_path / "config")
    listed = "".join(
        f"  - {{name: {name}, ari_url: {n.ari_url}, ami_host: 127.0.0.1, ami_port: {n.ports.ami}}}\n"
        for name, n in nodes.items()
    )
    with (config / "engine.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"nodes:\n{listed}node_lost_after: {LOST_AFTER}\n")
    first = nodes[NODES[0]]
    engine = NodesEngine(first, config, tmp_path / "engine", empty_dsn, nodes=NODES)
    engine.workdir.mkdir()
    try:
        for node in nodes.values():
            await node.start_async()
        await kamailio.start()
        await engine.start()
        yield Platform(nodes, kamailio, engine, tmp_path)
    finally:
        await engine.stop()
        await kamailio.stop()
        for node in nodes.values():
            node.stop()


async def _phones(platform: Platform) -> list[Phone]:
    phones = []
    for endpoint in SEATS:
        phone = Phone(
            endpoint,
            free_udp_port(),
            platform.workdir,
            platform.kamailio.port,
            challenged=False,
        )
        await phone.register()
        await phone.serve("answer", ring_ms=500, talk_ms=TALK_S * 1000)
        phones.append(phone)
    return phones


def _active(listing: str, port: int) -> bool:
    """Whether ``kamcmd dispatcher.list`` shows the node on ``port`` active (flags A...)."""
    block = listing.split(f"URI: sip:127.0.0.1:{port}\n", 1)
    if len(block) < 2:
        return False
    flags = block[1].split("FLAGS: ", 1)[1].split("\n", 1)[0].strip()
    return flags.startswith("A")


async def _until(check: Any, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # polling processes that have no change signal
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


async def _nodes_health(platform: Platform) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{platform.engine.url}/healthz") as reply,
    ):
        body: dict[str, Any] = await reply.json()
        nodes: list[dict[str, Any]] = body.get("nodes", [])
        return nodes


async def _drain(platform: Platform, node: str, on: bool) -> None:
    headers = {"Authorization": f"Bearer {SUPERVISOR}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{platform.engine.url}/api/nodes/{node}/drain", json={"drain": on}, headers=headers
        ) as reply,
    ):
        assert reply.status == 200, await reply.text()


async def _answered(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            "SELECT * FROM calls WHERE answered_at IS NOT NULL AND ended_at IS NOT NULL"
        )
    finally:
        await conn.close()


async def _callers(platform: Platform, role: str, calls: int) -> Sipp:
    wait_s = prompt_seconds("recording-notice") + 1 + TALK_S + 2
    return await call(
        platform.workdir,
        sip_port=platform.kamailio.port,
        source_port=free_udp_port(),
        role=role,
        calls=calls,
        rate=2,
        wait_ms=int(wait_s * 1000),
    )


async def test_calls_on_two_nodes_behind_kamailio_and_one_node_stopped(
    platform: Platform, empty_dsn: str
) -> None:
    kamailio, engine = platform.kamailio, platform.engine
    ports = {name: node.ports.sip for name, node in platform.nodes.items()}

    async def all_active() -> bool:
        listing = kamailio.destinations()
        return all(_active(listing, port) for port in ports.values())

    await _until(all_active, 30, "Kamailio probing both nodes active")
    phones = await _phones(platform)
    try:
        for agent, seat in SEATS.values():
            await AgentSession(engine, agent, seat).login()

        # Two callers through the dispatcher: one lands on each node, both reach an agent.
        first = await _callers(platform, "callers-1", 2)

        async def one_call_on_each_node() -> bool:
            return sorted(n["calls"] for n in await _nodes_health(platform)) == [1, 1]

        await _until(one_call_on_each_node, 30, "a call in progress on each node")
        for phone in phones:
            assert phone.uas is not None
            await phone.uas.wait_for_received("INVITE", 1, 30)
        await first.expect_success(60)

        async def answered(count: int) -> bool:
            return len(await _answered(empty_dsn)) >= count

        await _until(lambda: answered(2), 30, "two answered call records")

        # ast-2 drained: a caller Kamailio sends there is refused with 503 and goes to ast-1.
        await _drain(platform, "ast-2", True)
        drained = await _callers(platform, "callers-drained", 2)
        await drained.expect_success(60)
        await _until(lambda: answered(4), 30, "four answered call records")
        refused = {n["name"]: n["refused"] for n in await _nodes_health(platform)}
        assert refused["ast-2"] >= 1 and refused["ast-1"] == 0, refused
        await _drain(platform, "ast-2", False)

        # Node ast-1 stops: Kamailio's probe and the engine both notice; new calls go to ast-2.
        platform.nodes["ast-1"].stop()

        async def node_one_down() -> bool:
            states = {n["name"]: n["state"] for n in await _nodes_health(platform)}
            return states == {"ast-1": "down", "ast-2": "up"}

        await _until(node_one_down, 30, "the engine marking ast-1 down")
        second = await _callers(platform, "callers-2", 2)
        await second.expect_success(90)
        await _until(lambda: answered(6), 30, "six answered call records")
        rows = await _answered(empty_dsn)
        assert all(r["end_reason"] != "node_lost" for r in rows), [dict(r) for r in rows]
        for phone in phones:
            assert phone.uas is not None
            assert phone.uas.received("INVITE") >= 3
    finally:
        await asyncio.gather(*(phone.close() for phone in phones))
