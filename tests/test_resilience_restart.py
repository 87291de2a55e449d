"""The engine is killed (SIGKILL) with 50 calls in progress and started again.

30 calls are bridged, 10 wait in the queue, 5 walk a menu and 5 ring an agent
who does not answer.  The engine runs as its own process (``hotline run``)
against pbxsim and a real PostgreSQL; after the kill a new process adopts
every call from Asterisk's channels, and every call record ends complete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from cti.pgserver import free_port
from pbxsim import PbxSim, SimConfig
from tests.support.backend import TicketBackend
from tests.support.child import EngineProc, engine_environment
from tests.support.crowd import (
    Crowd,
    assert_every_call_answered_and_complete,
    end_the_crowd,
    fifty_patches,
    gather_crowd,
    until_no_calls,
    until_states,
)
from tests.support.stack import patched_config

pytestmark = pytest.mark.resilience

SECRET = "restart-secret"
SUPERVISOR = "restart-supervisor"
FIFTY = Crowd(bridged=30, ringing=5, queued=10, menu=5)


@asynccontextmanager
async def _world(tmp_path: Path, dsn: str) -> AsyncIterator[tuple[PbxSim, EngineProc, str]]:
    config_dir = patched_config(tmp_path / "config", fifty_patches())
    sim = PbxSim(SimConfig(user="hotline", secret=SECRET, phones=FIFTY.phones(), time_scale=0.2))
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
            await gather_crowd(sim, http, url, SUPERVISOR, FIFTY)

            engine.kill()
            killed = time.monotonic()
            engine.start()
            await until_states(http, url, SUPERVISOR, FIFTY.states, 30)
            back_s = time.monotonic() - killed
            print(f"engine fully back after SIGKILL in {back_s:.2f} s")

            # Everyone finishes: agents hang up, callers are rated or time out,
            # the waiting and menu callers are answered by the freed agents.
            end_the_crowd(sim, FIFTY)
            await until_no_calls(http, url, SUPERVISOR, 240)

    await assert_every_call_answered_and_complete(empty_dsn, FIFTY)
