"""Two engines, one active and one standing by: the active one is killed (SIGKILL)
with 50 calls in progress and the standby takes every call over.

30 calls are bridged, 10 wait in the queue, 5 walk a menu and 5 ring an agent
who does not answer.  Both engines run as their own processes (``hotline run``
with ``availability:``) against one pbxsim and one PostgreSQL.  The standby
sends nothing to Asterisk until it holds the lease; after the kill it takes the
lease once it expires, adopts every call from Asterisk's channels, the agents'
tokens from the first engine keep working on it, and every call record ends
complete.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from pbxsim import CallerScript, PbxSim, PhoneScript, SimConfig
from tests.support.pair import LEASE_SECONDS, Node, engine_pair, until_role

pytestmark = pytest.mark.availability

SECRET = "standby-secret"
SUPERVISOR = "standby-supervisor"
BRIDGED, QUEUED, MENU, RINGING = 30, 10, 5, 5


def _patches() -> dict[str, Any]:
    def queues(data: Any) -> None:
        general = data["queues"]["general"]
        general["wrapup"] = 0
        general["ring_timeout"] = 60
        general["max_wait"] = 600
        del general["announce"]

    def routing(data: Any) -> None:
        data["numbers"] = [{"number": "12346", "route": "menu_route"}]
        data["routes"]["menu_route"] = {"menu": "main"}

    def survey(data: Any) -> None:
        data["timeout"] = 1
        data["max_attempts"] = 1

    return {"queues.yaml": queues, "routing.yaml": routing, "survey.yaml": survey}


async def _live(http: aiohttp.ClientSession, node: Node) -> list[dict[str, Any]] | None:
    try:
        async with http.get(
            f"{node.url}/api/supervisor/calls", headers={"Authorization": f"Bearer {SUPERVISOR}"}
        ) as r:
            if r.status != 200:
                return None
            data: list[dict[str, Any]] = await r.json()
            return data
    except aiohttp.ClientError:
        return None


async def _until(
    http: aiohttp.ClientSession, node: Node, want: dict[str, int], timeout: float
) -> None:
    async with asyncio.timeout(timeout):
        while True:
            calls = await _live(http, node) or []
            states = Counter(c["state"] for c in calls)
            if all(states.get(k, 0) >= n for k, n in want.items()):
                return
            await asyncio.sleep(0.2)


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


def _ringing(sim: PbxSim) -> int:
    return sum(
        1
        for n in range(BRIDGED + 1, BRIDGED + RINGING + 1)
        for log in sim.phone_logs(f"80{n:02d}")
        if not log.destroyed and not log.answered
    )


async def test_standby_takes_over_fifty_calls_when_the_active_engine_is_killed(
    tmp_path: Path, empty_dsn: str
) -> None:
    phones = [PhoneScript(f"80{n:02d}", answer_after=0.2) for n in range(1, BRIDGED + 1)]
    phones += [
        PhoneScript(f"80{n:02d}", answer_after=None)
        for n in range(BRIDGED + 1, BRIDGED + RINGING + 1)
    ]
    sim = PbxSim(SimConfig(user="hotline", secret=SECRET, phones=tuple(phones), time_scale=0.2))
    await sim.start()
    try:
        async with (
            engine_pair(
                tmp_path,
                empty_dsn,
                sim,
                _patches(),
                HOTLINE_SUPERVISOR_TOKEN=SUPERVISOR,
                HOTLINE_TICKETS_RETRY_CAP="2",
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

            agents = [f"{1000 + n}" for n in range(1, BRIDGED + RINGING + 1)]
            seats = [f"s{n:02d}" for n in range(1, BRIDGED + RINGING + 1)]
            tokens: dict[str, str] = {}

            async def login(agent: str, seat: str) -> None:
                async with http.post(
                    f"{a.url}/api/agents/login", json={"agent": agent, "pin": agent, "seat": seat}
                ) as r:
                    assert r.status == 200, await r.text()
                    tokens[agent] = (await r.json())["token"]

            await asyncio.gather(*(login(x, s) for x, s in zip(agents, seats, strict=True)))
            for n in range(BRIDGED):
                sim.place_call(CallerScript(number=f"1380000{n:04d}"))
            await _until(http, a, {"talking": BRIDGED}, 60)
            for n in range(RINGING + QUEUED):
                sim.place_call(CallerScript(number=f"1390000{n:04d}"))
            for n in range(MENU):
                sim.place_call(CallerScript(number=f"1370000{n:04d}", dialled="12346"))
            everyone = {"talking": BRIDGED, "waiting": RINGING + QUEUED, "ivr": MENU}
            await _until(http, a, everyone, 60)
            async with asyncio.timeout(30):
                while _ringing(sim) < RINGING:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            assert not [r for r in sim.requests if r.client == b.client], (
                "the standby spoke to Asterisk before it held the lease"
            )

            a.proc.kill()
            killed = time.monotonic()
            left = await _lease_left(empty_dsn)  # until the killed engine's lease expires
            await until_role(http, b, "active", 30, ari="connected")
            active_s = time.monotonic() - killed
            await _until(http, b, everyone, 30)
            back_s = time.monotonic() - killed
            print(
                f"lease ({LEASE_SECONDS} s) expired {left:.2f} s after SIGKILL; the standby was "
                f"active {active_s - left:.2f} s and had adopted every call "
                f"{back_s - left:.2f} s after it expired"
            )

            # The agents' tokens from the killed engine work on the new active one.
            for agent in agents[:3]:
                async with http.get(
                    f"{b.url}/api/agents/me", headers={"Authorization": f"Bearer {tokens[agent]}"}
                ) as me:
                    assert me.status == 200, await me.text()
                    assert (await me.json())["agent"] == agent

            # Everyone finishes on the new active engine.
            for n in range(1, BRIDGED + 1):
                sim.set_phone(PhoneScript(f"80{n:02d}", answer_after=0.2, hangup_after=1.0))
                sim.hangup_phone(f"80{n:02d}")
            async with asyncio.timeout(240):
                while await _live(http, b) != []:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
    finally:
        await sim.stop()

    conn = await asyncpg.connect(empty_dsn)
    try:
        rows = await conn.fetch("SELECT * FROM calls")
        lease = await conn.fetchrow("SELECT holder, token FROM engine_leases")
    finally:
        await conn.close()
    assert len(rows) == BRIDGED + QUEUED + MENU + RINGING
    incomplete = [r["call_id"] for r in rows if r["ended_at"] is None or r["outcome"] is None]
    assert not incomplete, incomplete
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes["answered"] == len(rows), outcomes
    for row in rows:
        assert row["arrived_at"] <= row["answered_at"] <= row["ended_at"]
    assert lease is not None and lease["token"] == 2 and lease["holder"].startswith("node-b/")
