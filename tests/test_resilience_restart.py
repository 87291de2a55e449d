"""The engine is killed (SIGKILL) with 50 calls in progress and started again.

30 calls are bridged, 10 wait in the queue, 5 walk a menu and 5 ring an agent
who does not answer.  The engine runs as its own process (``hotline run``)
against pbxsim and a real PostgreSQL; after the kill a new process adopts
every call from Asterisk's channels, and every call record ends complete.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from cti.pgserver import free_port
from pbxsim import CallerScript, PbxSim, PhoneScript, SimConfig
from tests.support.backend import TicketBackend
from tests.support.child import EngineProc, engine_environment
from tests.support.stack import patched_config

pytestmark = pytest.mark.resilience

SECRET = "restart-secret"
SUPERVISOR = "restart-supervisor"
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


@asynccontextmanager
async def _world(tmp_path: Path, dsn: str) -> AsyncIterator[tuple[PbxSim, EngineProc, str]]:
    config_dir = patched_config(tmp_path / "config", _patches())
    phones = [PhoneScript(f"80{n:02d}", answer_after=0.2) for n in range(1, BRIDGED + 1)]
    phones += [
        PhoneScript(f"80{n:02d}", answer_after=None)
        for n in range(BRIDGED + 1, BRIDGED + RINGING + 1)
    ]
    sim = PbxSim(SimConfig(user="hotline", secret=SECRET, phones=tuple(phones), time_scale=0.2))
    await sim.start()
    backend = await TicketBackend(token="t").start()
    port = free_port()
    env = engine_environment(
        sim,
        SECRET,
        http_port=port,
        database_url=dsn,
        workdir=tmp_path,
        tickets_url=backend.url,
        ticket_token="t",
        HOTLINE_SUPERVISOR_TOKEN=SUPERVISOR,
        HOTLINE_TICKETS_RETRY_CAP="2",
    )
    engine = EngineProc(config_dir, env, tmp_path / "engine.log")
    try:
        yield sim, engine, f"http://127.0.0.1:{port}"
    finally:
        engine.stop()
        await sim.stop()
        await backend.stop()


async def _live(http: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    try:
        async with http.get(
            f"{url}/api/supervisor/calls", headers={"Authorization": f"Bearer {SUPERVISOR}"}
        ) as r:
            if r.status != 200:
                return []
            data: list[dict[str, Any]] = await r.json()
            return data
    except aiohttp.ClientError:
        return []


async def _until(
    http: aiohttp.ClientSession, url: str, want: dict[str, int], timeout: float
) -> None:
    async with asyncio.timeout(timeout):
        while True:
            states = Counter(c["state"] for c in await _live(http, url))
            if all(states.get(k, 0) >= n for k, n in want.items()):
                return
            await asyncio.sleep(0.2)


def _ringing(sim: PbxSim) -> int:
    return sum(
        1
        for n in range(BRIDGED + 1, BRIDGED + RINGING + 1)
        for log in sim.phone_logs(f"80{n:02d}")
        if not log.destroyed and not log.answered
    )


async def test_engine_killed_and_restarted_with_fifty_calls_in_progress(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with _world(tmp_path, empty_dsn) as (sim, engine, url):
        engine.start()
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with http.get(f"{url}/healthz") as r:
                            if r.status == 200 and (await r.json())["ari"] == "connected":
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
            agents = [f"{1000 + n}" for n in range(1, BRIDGED + RINGING + 1)]

            async def login(agent: str, seat: str) -> None:
                async with http.post(
                    f"{url}/api/agents/login", json={"agent": agent, "pin": agent, "seat": seat}
                ) as r:
                    assert r.status == 200, await r.text()

            seats = [f"s{n:02d}" for n in range(1, BRIDGED + RINGING + 1)]
            await asyncio.gather(*(login(a, s) for a, s in zip(agents, seats, strict=True)))
            for n in range(BRIDGED):
                sim.place_call(CallerScript(number=f"1380000{n:04d}"))
            await _until(http, url, {"talking": BRIDGED}, 60)
            for n in range(RINGING + QUEUED):
                sim.place_call(CallerScript(number=f"1390000{n:04d}"))
            for n in range(MENU):
                sim.place_call(CallerScript(number=f"1370000{n:04d}", dialled="12346"))
            await _until(
                http, url, {"talking": BRIDGED, "waiting": RINGING + QUEUED, "ivr": MENU}, 60
            )
            async with asyncio.timeout(30):
                while _ringing(sim) < RINGING:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)

            engine.kill()
            killed = time.monotonic()
            engine.start()
            await _until(
                http, url, {"talking": BRIDGED, "waiting": RINGING + QUEUED, "ivr": MENU}, 30
            )
            back_s = time.monotonic() - killed
            print(f"engine fully back after SIGKILL in {back_s:.2f} s")

            # Everyone finishes: agents hang up, callers are rated or time out,
            # the waiting and menu callers are answered by the freed agents.
            for n in range(1, BRIDGED + 1):
                sim.set_phone(PhoneScript(f"80{n:02d}", answer_after=0.2, hangup_after=1.0))
                sim.hangup_phone(f"80{n:02d}")
            async with asyncio.timeout(240):
                while await _live(http, url):  # noqa: ASYNC110
                    await asyncio.sleep(0.5)

    conn = await asyncpg.connect(empty_dsn)
    try:
        rows = await conn.fetch("SELECT * FROM calls")
    finally:
        await conn.close()
    assert len(rows) == BRIDGED + QUEUED + MENU + RINGING
    incomplete = [r["call_id"] for r in rows if r["ended_at"] is None or r["outcome"] is None]
    assert not incomplete, incomplete
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes["answered"] == len(rows), outcomes
    for row in rows:
        assert row["arrived_at"] <= row["answered_at"] <= row["ended_at"]
