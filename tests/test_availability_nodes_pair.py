"""Two engines (``hotline run``, active and standby) and two pbxsim nodes with one PostgreSQL:
the active engine is killed (SIGKILL) with calls in progress on both nodes, and the standby
connects to both, adopts every call of each, and every call ends answered and complete."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from pbxsim import CallerScript, PhoneScript
from tests.support.crowd import live_calls, until_no_calls, until_states
from tests.support.nodes import (
    calls_by_node,
    nodes_environment,
    nodes_patch,
    started_nodes,
)
from tests.support.pair import engine_pair, until_role

pytestmark = pytest.mark.availability

SUPERVISOR = "pair-supervisor"
AGENTS = [f"{1000 + n}" for n in range(1, 7)]
SEATS = [f"s{n:02d}" for n in range(1, 7)]
TALKING = 6  # three on each node
WAITING = 2  # one on each node, behind them


def _phones(hang_up: bool) -> tuple[PhoneScript, ...]:
    return tuple(
        PhoneScript(f"80{n:02d}", answer_after=0.2, hangup_after=1.0 if hang_up else None)
        for n in range(1, 7)
    )


def _patches() -> dict[str, object]:
    def queues(data: object) -> None:
        general = data["queues"]["general"]  # type: ignore[index]
        general["wrapup"] = 0
        general["ring_timeout"] = 60
        general["max_wait"] = 600
        del general["announce"]

    def survey(data: object) -> None:
        data["timeout"] = 1  # type: ignore[index]
        data["max_attempts"] = 1  # type: ignore[index]

    return {"queues.yaml": queues, "survey.yaml": survey}


async def test_standby_takes_over_the_calls_of_both_nodes(tmp_path: Path, empty_dsn: str) -> None:
    sims = await started_nodes(2, _phones(hang_up=False), time_scale=0.2)
    first = sims["ast-a"]
    try:
        async with (
            engine_pair(
                tmp_path,
                empty_dsn,
                first,
                {**_patches(), "engine.yaml": nodes_patch(sims, lost_after=5.0)},
                HOTLINE_SUPERVISOR_TOKEN=SUPERVISOR,
                HOTLINE_TICKETS_RETRY_CAP="2",
                **nodes_environment(sims),
            ) as (a, b),
            aiohttp.ClientSession() as http,
        ):
            a.proc.start()
            await until_role(http, a, "active", 30, ari="connected")
            b.proc.start()
            await until_role(http, b, "standby", 30)
            for agent, seat in zip(AGENTS, SEATS, strict=True):
                async with http.post(
                    f"{a.url}/api/agents/login", json={"agent": agent, "pin": agent, "seat": seat}
                ) as r:
                    assert r.status == 200, await r.text()
            for n in range(TALKING // 2):
                for k, sim in enumerate(sims.values()):
                    sim.place_call(CallerScript(number=f"13{k}0000000{n}"))
            await until_states(http, a.url, SUPERVISOR, {"talking": TALKING}, 60)
            for k, sim in enumerate(sims.values()):
                sim.place_call(CallerScript(number=f"13{k}10000000"))
            want = {"talking": TALKING, "waiting": WAITING}
            await until_states(http, a.url, SUPERVISOR, want, 60)
            assert await calls_by_node(http, a.url) == Counter({"ast-a": 4, "ast-b": 4})
            assert not [r for s in sims.values() for r in s.requests if r.client == b.client], (
                "the standby spoke to a node before it held the lease"
            )

            a.proc.kill()
            await until_role(http, b, "active", 30, ari="connected")
            await until_states(http, b.url, SUPERVISOR, want, 30)
            assert len(await live_calls(http, b.url, SUPERVISOR)) == TALKING + WAITING

            async def both_nodes_adopted() -> bool:
                return await calls_by_node(http, b.url) == Counter({"ast-a": 4, "ast-b": 4})

            async with asyncio.timeout(30):
                while not await both_nodes_adopted():  # noqa: ASYNC110
                    await asyncio.sleep(0.2)

            for sim in sims.values():
                for script in _phones(hang_up=True):
                    sim.set_phone(script)
                    sim.hangup_phone(script.endpoint)
            await until_no_calls(http, b.url, SUPERVISOR, 120)
    finally:
        for sim in sims.values():
            await sim.stop()

    conn = await asyncpg.connect(empty_dsn)
    try:
        rows = await conn.fetch("SELECT * FROM calls")
    finally:
        await conn.close()
    assert len(rows) == TALKING + WAITING
    incomplete = [r["call_id"] for r in rows if r["ended_at"] is None or r["outcome"] is None]
    assert not incomplete, incomplete
    assert Counter(r["outcome"] for r in rows) == Counter({"answered": TALKING + WAITING})
    assert not [r["call_id"] for r in rows if r["end_reason"] == "node_lost"]
