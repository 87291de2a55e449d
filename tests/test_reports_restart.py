"""Today's figures survive a SIGKILL: the engine rebuilds them from PostgreSQL on start.

The engine runs as its own process (``hotline run``) against pbxsim and a real
PostgreSQL.  Calls are answered (one agent, wrap-up included), abandoned and
left waiting; the wallboard's figures (per queue, in total, the chart) are read,
the engine is killed and started again, and the same figures are read back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cti.pgserver import free_port
from pbxsim import CallerScript, PbxSim, PhoneScript, SimConfig
from tests.support.backend import TicketBackend
from tests.support.child import EngineProc, engine_environment
from tests.support.stack import patched_config

pytestmark = pytest.mark.reports

SECRET = "figures-secret"
SUPERVISOR = "figures-supervisor"


def _patches() -> dict[str, Any]:
    def queues(data: Any) -> None:
        general = data["queues"]["general"]
        general["wrapup"] = 1
        general.pop("announce", None)

    def survey(data: Any) -> None:
        data["timeout"] = 1
        data["max_attempts"] = 1

    return {"queues.yaml": queues, "survey.yaml": survey}


@asynccontextmanager
async def _world(tmp_path: Path, dsn: str) -> AsyncIterator[tuple[PbxSim, EngineProc, str]]:
    config_dir = patched_config(tmp_path / "config", _patches())
    phones = (PhoneScript("8001", answer_after=0.5),)
    sim = PbxSim(SimConfig(user="hotline", secret=SECRET, phones=phones, time_scale=0.2))
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
    )
    engine = EngineProc(config_dir, env, tmp_path / "engine.log")
    try:
        yield sim, engine, f"http://127.0.0.1:{port}"
    finally:
        engine.stop()
        await sim.stop()
        await backend.stop()


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    try:
        async with http.get(url, headers={"Authorization": f"Bearer {SUPERVISOR}"}) as r:
            return await r.json() if r.status == 200 else None
    except aiohttp.ClientError:
        return None


async def _until(what: Any, timeout: float) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            found = await what()
            if found:
                return found
            await asyncio.sleep(0.2)


def _figures(board: dict[str, Any]) -> dict[str, Any]:
    """What must not change across a restart: today's figures, satisfaction, the chart."""
    keep = ("id", "today", "satisfaction_rate", "rated")
    return {
        "total": {k: board["total"][k] for k in keep},
        "queues": [{k: q[k] for k in keep} for q in board["queues"]],
        # the chart is a rolling window: key its buckets by start, since a bucket
        # boundary may pass between the two readings
        "chart": {bucket["start"]: bucket for bucket in board["chart"]},
    }


async def test_figures_are_identical_before_a_sigkill_and_after_the_restart(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with _world(tmp_path, empty_dsn) as (sim, engine, url), aiohttp.ClientSession() as http:
        engine.start()

        async def up() -> bool:
            health = await _get(http, f"{url}/healthz")
            return bool(health and health["ari"] == "connected")

        await _until(up, 30)
        async with http.post(
            f"{url}/api/agents/login", json={"agent": "1003", "pin": "1003", "seat": "s01"}
        ) as r:
            assert r.status == 200, await r.text()
        sim.place_call(CallerScript(number="13800000001", hangup_after_bridged=2))
        sim.place_call(CallerScript(number="13800000002", hangup_after=1))
        sim.place_call(CallerScript(number="13800000003", hangup_after=12))

        async def settled() -> Any:
            board = await _get(http, f"{url}/api/wallboard")
            health = await _get(http, f"{url}/healthz")
            live = await _get(http, f"{url}/api/supervisor/calls")
            if board is None or health is None or health["pending_writes"] or live != []:
                return None  # a call still in progress (its survey, say) may change a figure
            today = board["total"]["today"]
            done = today["offered"] == 3 and today["in_queue"] == 0
            agents = board["total"]["agents"]
            return board if done and today["avg_handle_s"] and agents["ready"] == 1 else None

        before = await _until(settled, 60)
        today = before["total"]["today"]
        assert today["answered"] >= 1 and today["abandoned"] >= 1, today
        assert today["answered"] + today["abandoned"] == 3, today
        assert today["connection_rate"] == round(today["answered"] / 3, 4)

        engine.kill()
        engine.start()
        await _until(up, 30)
        after = await _until(lambda: _get(http, f"{url}/api/wallboard"), 10)
        was, now = _figures(before), _figures(after)
        changed = {
            f"{scope}.{name}": (value, now[scope]["today"][name])
            for scope in ("total",)
            for name, value in was[scope]["today"].items()
            if now[scope]["today"][name] != value
        }
        assert not changed, changed
        busy = {start for start, bucket in was["chart"].items() if bucket["offered"]}
        assert busy and busy <= now["chart"].keys(), (busy, sorted(now["chart"]))
        common = was["chart"].keys() & now["chart"].keys()
        assert {s: now["chart"][s] for s in common} == {s: was["chart"][s] for s in common}
        was.pop("chart"), now.pop("chart")
        assert now == was
