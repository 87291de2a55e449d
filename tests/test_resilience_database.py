"""PostgreSQL stops for a minute while calls keep arriving: calls go on, no record is lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from cti.pgserver import PrivatePostgres
from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.support.stack import running_stack

pytestmark = pytest.mark.resilience

OUTAGE_S = 60.0
SURVEY = "sound:hotline/zh/survey-question"


def _fast_queue(data: Any) -> None:
    data["queues"]["general"]["wrapup"] = 0


async def test_database_down_for_a_minute_while_calls_arrive(
    tmp_path: Path, empty_dsn: str, pg_server: PrivatePostgres
) -> None:
    phones = [PhoneScript(f"800{n}", answer_after=0.3, hangup_after=2.0) for n in (1, 2, 3)]
    async with running_stack(
        tmp_path, empty_dsn, phones=phones, patches={"queues.yaml": _fast_queue}
    ) as stack:
        for agent, seat in (("1001", "s01"), ("1002", "s02"), ("1003", "s03")):
            await stack.login(agent, seat)
        writer = stack.engine_process.writer
        stopped = time.monotonic()
        await asyncio.to_thread(pg_server.stop, "immediate")
        try:
            placed = 0
            while time.monotonic() - stopped < OUTAGE_S:
                stack.sim.place_call(
                    CallerScript(
                        number=f"1390000{placed:04d}",
                        digits=(DigitPress(at=0.2, digits="1", on_media=SURVEY),),
                    )
                )
                placed += 1
                await asyncio.sleep(4.0)
            ended = await stack.wait_ended(placed - 1, timeout=30)
            # Calls were answered and completed while the database was away.
            assert all(c.outcome == "answered" for c in ended), [c.outcome for c in ended]
            assert not writer.database_up
            assert writer.pending > 0
        finally:
            await asyncio.to_thread(pg_server.start)
        await stack.wait_ended(placed, timeout=30)
        await writer.flushed(60)
        rows = await stack.db.fetch("SELECT call_id, outcome, rating FROM calls")
        assert len(rows) == placed
        assert {r["outcome"] for r in rows} == {"answered"}
        assert all(r["rating"] == 1 for r in rows)
        events = await stack.db.fetchrow("SELECT count(*) AS n FROM call_events")
        assert events is not None and events["n"] >= placed * 6
        await stack.backend.wait_until(
            lambda: len(stack.backend.creates_received()) >= placed, timeout=60
        )
        keys = stack.backend.keys_received()
        assert len(keys) == placed and all(n == 1 for n in keys.values()), keys
