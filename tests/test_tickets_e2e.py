"""200 calls while the work-order backend answers 503, an engine restart in the middle,
then the backend recovers: 200 tickets, each received exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, PhoneScript
from tests.support.stack import running_stack

pytestmark = [pytest.mark.tickets, pytest.mark.resilience]

CALLS = 200


def _quick(data: Any) -> None:
    data["queues"]["general"]["wrapup"] = 0


def _quick_survey(data: Any) -> None:
    data["timeout"] = 0.5
    data["max_attempts"] = 1


async def test_two_hundred_calls_through_a_backend_outage_and_an_engine_restart(
    tmp_path: Path, empty_dsn: str
) -> None:
    seats = [f"s{n:02d}" for n in range(1, 31)]
    phones = [PhoneScript(f"80{n:02d}", answer_after=0.05, hangup_after=0.3) for n in range(1, 31)]
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=phones,
        patches={"queues.yaml": _quick, "survey.yaml": _quick_survey},
        time_scale=0.02,
    ) as stack:
        stack.backend.fail_with(503)
        agents = [a.number for a in stack.engine.config.agents.agents if "general" in a.skills]
        for agent, seat in zip(agents, seats, strict=False):
            await stack.login(agent, seat)
        for n in range(CALLS):
            stack.sim.place_call(CallerScript(number=f"1370000{n:04d}"))
            if n % 20 == 19:
                await asyncio.sleep(0.2)
        ended = await stack.wait_ended(CALLS, timeout=180)
        assert sum(1 for c in ended if c.outcome == "answered") == CALLS
        await stack.flushed(30)
        # The backend has refused every attempt so far; restart the engine.
        assert len({r.key for r in stack.backend.creates_received() if r.status == 201}) == 0
        await stack.restart_engine()
        await stack.backend.recover()
        await stack.backend.wait_until(lambda: len(stack.backend.tickets) >= CALLS, timeout=120)
        await asyncio.sleep(0)
        accepted = [r for r in stack.backend.creates_received() if r.status in (200, 201)]
        keys = [r.key for r in accepted]
        assert len(keys) == CALLS and len(set(keys)) == CALLS, "each ticket accepted exactly once"
        # The backend counts a ticket before the sender marks its row delivered.
        async with asyncio.timeout(30):
            while True:
                delivered = await stack.db.fetchrow(
                    "SELECT count(*) AS n FROM ticket_outbox"
                    " WHERE kind = 'create' AND status = 'delivered'"
                )
                if delivered is not None and delivered["n"] == CALLS:
                    break
                await asyncio.sleep(0.1)
        with_ids = await stack.db.fetchrow(
            "SELECT count(*) AS n FROM calls WHERE ticket_id IS NOT NULL"
        )
        assert with_ids is not None and with_ids["n"] == CALLS
