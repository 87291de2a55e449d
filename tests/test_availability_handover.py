"""A planned stop (SIGTERM) of the active engine gives the lease up on the way out, so
that the standby takes over at its next ask instead of waiting for the lease to expire."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from pbxsim import PbxSim, SimConfig
from tests.support.pair import LEASE_SECONDS, engine_pair, until_role

pytestmark = pytest.mark.availability


async def test_a_stopped_active_engine_hands_the_lease_over(tmp_path: Path, empty_dsn: str) -> None:
    sim = PbxSim(SimConfig(user="hotline", secret="handover-secret", time_scale=0.2))
    await sim.start()
    try:
        async with (
            engine_pair(tmp_path, empty_dsn, sim, {}) as (a, b),
            aiohttp.ClientSession() as http,
        ):
            a.proc.start()
            await until_role(http, a, "active", 30, ari="connected")
            b.proc.start()
            await until_role(http, b, "standby", 30)
            stopped = time.monotonic()
            a.proc.stop()  # SIGTERM, and wait for the process to end
            conn = await asyncpg.connect(empty_dsn)
            try:
                row = await conn.fetchrow(
                    "SELECT holder, expires_at <= now() AS released FROM engine_leases"
                )
            finally:
                await conn.close()
            assert row is not None
            assert row["holder"].startswith("node-b/") or row["released"], dict(row)
            await until_role(http, b, "active", 30, ari="connected")
            print(
                f"standby active {time.monotonic() - stopped:.2f} s after SIGTERM "
                f"(lease {LEASE_SECONDS} s)"
            )
    finally:
        await sim.stop()
    log = (tmp_path / "node-a.log").read_text(encoding="utf-8", errors="replace")
    assert "lease_release_failed" not in log
