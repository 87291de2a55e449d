"""Split brain: the active engine is frozen (SIGSTOP) while the standby takes over, then
resumes (SIGCONT) with timers due and events unread.  It must find out that it lost the
lease before it sends anything that changes a call, and step down to standby.

The calls are spread over two Asterisk nodes (two pbxsim, ``nodes:``).  pbxsim
logs every ARI request with the ``User-Agent`` of the engine that sent it; after
the standby's first request, not one ``POST``/``PUT``/``DELETE`` of the old
active engine may reach either node.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from pbxsim import CallerScript
from pbxsim.sim import RequestRecord
from tests.support.crowd import Crowd, until_states
from tests.support.nodes import nodes_environment, nodes_patch, started_nodes
from tests.support.pair import engine_pair, until_role

pytestmark = pytest.mark.availability

SUPERVISOR = "split-supervisor"
CROWD = Crowd(bridged=3, ringing=3, queued=4)
BRIDGED, RINGING, QUEUED = CROWD.bridged, CROWD.ringing, CROWD.queued
MUTATING = ("POST", "PUT", "DELETE")
RING_TIMEOUT = 5


def _patches() -> dict[str, Any]:
    def queues(data: Any) -> None:
        general = data["queues"]["general"]
        general["wrapup"] = 0
        general["ring_timeout"] = RING_TIMEOUT  # due while the engine is frozen
        general["max_wait"] = 600

    return {"queues.yaml": queues}


async def test_a_frozen_active_engine_sends_nothing_after_the_takeover_and_steps_down(
    tmp_path: Path, empty_dsn: str
) -> None:
    sims = await started_nodes(2, CROWD.phones(), time_scale=0.2)
    nodes = list(sims.values())

    def requests() -> list[RequestRecord]:
        return [r for sim in nodes for r in sim.requests]

    try:
        async with (
            engine_pair(
                tmp_path,
                empty_dsn,
                nodes[0],
                {**_patches(), "engine.yaml": nodes_patch(sims, lost_after=5.0)},
                HOTLINE_SUPERVISOR_TOKEN=SUPERVISOR,
                **nodes_environment(sims),
            ) as (a, b),
            aiohttp.ClientSession() as http,
        ):
            a.proc.start()
            await until_role(http, a, "active", 30, ari="connected")
            b.proc.start()
            await until_role(http, b, "standby", 30)
            for n in range(1, BRIDGED + RINGING + 1):
                async with http.post(
                    f"{a.url}/api/agents/login",
                    json={"agent": f"{1000 + n}", "pin": f"{1000 + n}", "seat": f"s{n:02d}"},
                ) as r:
                    assert r.status == 200, await r.text()
            for n in range(BRIDGED):
                nodes[n % 2].place_call(CallerScript(number=f"1380000{n:04d}"))
            await until_states(http, a.url, SUPERVISOR, {"talking": BRIDGED}, 60)
            for n in range(RINGING + QUEUED):
                nodes[n % 2].place_call(CallerScript(number=f"1390000{n:04d}"))
            await until_states(
                http, a.url, SUPERVISOR, {"talking": BRIDGED, "waiting": RINGING + QUEUED}, 60
            )

            a.proc.freeze()
            frozen_at = time.monotonic()
            await until_role(http, b, "active", 30, ari="connected")
            await until_states(
                http, b.url, SUPERVISOR, {"talking": BRIDGED, "waiting": RINGING + QUEUED}, 30
            )
            took_over = min(r.at for r in requests() if r.client == b.client)
            # The freeze itself outlasts the ring timeout, so that the old engine resumes
            # with timers due (agent legs to cancel) as well as unread events.
            await asyncio.sleep(max(0.0, frozen_at + RING_TIMEOUT + 1 - time.monotonic()))
            a.proc.thaw()
            await until_role(http, a, "standby", 30)
            # The new active engine goes on deciding; the old one stays quiet.
            await until_states(
                http, b.url, SUPERVISOR, {"talking": BRIDGED, "waiting": RINGING + QUEUED}, 30
            )

            late = [
                (r.method, r.path)
                for r in requests()
                if r.client == a.client and r.at >= took_over and r.method in MUTATING
            ]
            assert late == [], late
            fences = {r.fence for r in requests() if r.method in MUTATING}
            assert {r.fence for r in requests() if r.client == a.client and r.fence} == {"1"}
            assert "2" in fences
            for sim in nodes:
                assert sim.connected_apps == {"hotline"}
                assert [r for r in sim.requests if r.client == b.client], "a node left out"
    finally:
        for sim in nodes:
            await sim.stop()

    log = (tmp_path / "node-a.log").read_text(encoding="utf-8", errors="replace")
    assert "engine_deposed" in log
    refused = log.count("this engine is not the active one")
    print(f"requests the fence kept from the old active engine: {refused}")
    conn = await asyncpg.connect(empty_dsn)
    try:
        lease = await conn.fetchrow("SELECT holder, token FROM engine_leases")
    finally:
        await conn.close()
    assert lease is not None and lease["holder"].startswith("node-b/") and lease["token"] == 2
