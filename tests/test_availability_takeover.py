"""Two engines, one active and one standing by: the active one is killed (SIGKILL)
with 50 calls in progress and the standby takes every call over.

30 calls are bridged, 10 wait in the queue, 5 walk a menu and 5 ring an agent
who does not answer, spread over two Asterisk nodes (two pbxsim, ``nodes:``).
Both engines run as their own processes (``hotline run`` with
``availability:``) against the two nodes and one PostgreSQL.  The standby
sends nothing to either node until it holds the lease; after the kill it takes the
lease once it expires, adopts every call from Asterisk's channels, the agents'
tokens from the first engine keep working on it, and every call record ends
complete.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.support.crowd import (
    Crowd,
    assert_every_call_answered_and_complete,
    end_the_crowd,
    fifty_patches,
    gather_crowd,
    until_no_calls,
    until_states,
)
from tests.support.nodes import (
    calls_by_node,
    nodes_environment,
    nodes_patch,
    started_nodes,
)
from tests.support.pair import LEASE_SECONDS, engine_pair, until_role

pytestmark = pytest.mark.availability

SUPERVISOR = "standby-supervisor"
FIFTY = Crowd(bridged=30, ringing=5, queued=10, menu=5)


async def _lease_left(dsn: str) -> float:
    """Seconds until the lease row expires, by PostgreSQL's clock."""
    conn = await asyncpg.connect(dsn)
    try:
        left = await conn.fetchval(
            "SELECT extract(epoch FROM expires_at - now()) FROM engine_leases"
        )
    finally:
        await conn.close()
    return max(0.0, float(left))


async def test_standby_takes_over_fifty_calls_when_the_active_engine_is_killed(
    tmp_path: Path, empty_dsn: str
) -> None:
    sims = await started_nodes(2, FIFTY.phones(), time_scale=0.2)
    nodes = list(sims.values())
    try:
        async with (
            engine_pair(
                tmp_path,
                empty_dsn,
                nodes[0],
                {**fifty_patches(), "engine.yaml": nodes_patch(sims, lost_after=5.0)},
                HOTLINE_SUPERVISOR_TOKEN=SUPERVISOR,
                HOTLINE_TICKETS_RETRY_CAP="2",
                **nodes_environment(sims),
            ) as (a, b),
            aiohttp.ClientSession() as http,
        ):
            a.proc.start()
            await until_role(http, a, "active", 30, ari="connected")
            b.proc.start()
            standby = await until_role(http, b, "standby", 30)
            assert standby["ari"] == "idle"
            async with http.get(f"{b.url}/api/agents/me") as refused:
                assert refused.status == 503
                assert (await refused.json())["active"] == a.url

            tokens = await gather_crowd(nodes, http, a.url, SUPERVISOR, FIFTY)
            on_nodes = await calls_by_node(http, a.url)
            assert sum(on_nodes.values()) == FIFTY.calls and len(+on_nodes) == 2, on_nodes
            assert not [r for sim in nodes for r in sim.requests if r.client == b.client], (
                "the standby spoke to a node before it held the lease"
            )

            a.proc.kill()
            killed = time.monotonic()
            left = await _lease_left(empty_dsn)  # until the killed engine's lease expires
            await until_role(http, b, "active", 30, ari="connected")
            active_s = time.monotonic() - killed
            await until_states(http, b.url, SUPERVISOR, FIFTY.states, 30)
            back_s = time.monotonic() - killed
            async with asyncio.timeout(30):
                while await calls_by_node(http, b.url) != on_nodes:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            print(
                f"lease ({LEASE_SECONDS} s) expired {left:.2f} s after SIGKILL; the standby was "
                f"active {active_s - left:.2f} s and had adopted every call "
                f"{back_s - left:.2f} s after it expired"
            )

            # The agents' tokens from the killed engine work on the new active one.
            for agent in FIFTY.agents[:3]:
                async with http.get(
                    f"{b.url}/api/agents/me", headers={"Authorization": f"Bearer {tokens[agent]}"}
                ) as me:
                    assert me.status == 200, await me.text()
                    assert (await me.json())["agent"] == agent

            # Everyone finishes on the new active engine.
            end_the_crowd(nodes, FIFTY)
            await until_no_calls(http, b.url, SUPERVISOR, 240)
    finally:
        for sim in nodes:
            await sim.stop()

    await assert_every_call_answered_and_complete(empty_dsn, FIFTY)
    conn = await asyncpg.connect(empty_dsn)
    try:
        lease = await conn.fetchrow("SELECT holder, token FROM engine_leases")
    finally:
        await conn.close()
    assert lease is not None and lease["token"] == 2 and lease["holder"].startswith("node-b/")
