"""The work-order backend down while calls end, with an engine restart in the middle:
every ticket reaches the backend exactly once when it recovers.

Two scenarios: 200 calls through a short outage at a 2 s retry cap, and ten
minutes of outage at the production backoff (``engine.yaml`` tickets.retry),
on a clock running :data:`SPEED` times fast.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, PhoneScript
from tests.support.backend import Received, eventually
from tests.support.stack import Stack, running_stack

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


# -- ten minutes of outage on a compressed clock ------------------------------------
#
# Every duration of the scenario is a production duration divided by SPEED:
# the backoff (engine.yaml tickets.retry), the outage, the moment of the restart.

SPEED = 60  # one wall-clock second stands for one minute
PRODUCTION_INITIAL_S = 1.0  # the shipped tickets.retry
PRODUCTION_CAP_S = 300.0
INITIAL_S = PRODUCTION_INITIAL_S / SPEED
CAP_S = PRODUCTION_CAP_S / SPEED
OUTAGE_S = 10 * 60 / SPEED
RESTART_AT_S = OUTAGE_S / 2
LAST_MINUTE_S = 60 / SPEED
OUTAGE_CALLS = 40
# Time a row spends neither waiting out its backoff nor paused by the restart:
# claiming, posting, settling, summed over all its attempts.  Generous for a busy machine.
WORK_SLACK_S = 1.0
WORK_PER_ATTEMPT_S = 0.1


def _work_slack(attempts: int) -> float:
    return WORK_SLACK_S + WORK_PER_ATTEMPT_S * attempts


DELIVERY_DEADLINE_S = 3 * CAP_S + 5.0


def _retry_ceiling(failure: int) -> float:
    """The longest wait after failed attempt ``failure`` (1 = the first): policy.backoff_delay."""
    return min(CAP_S, INITIAL_S * 2.0 ** (failure - 1))


CAP_FAILURE = next(n for n in itertools.count(1) if _retry_ceiling(n) == CAP_S)
"""The first failure after which the wait is drawn under the cap itself."""


def _fewest_failures(waited_s: float) -> int:
    """The fewest failed attempts that can fill ``waited_s`` seconds of backoff.

    Full jitter waits at most the ceiling after each failure, so n failures span
    at most ``sum(ceiling(1..n))``; a row still refused after ``waited_s`` has
    failed at least the first n whose sum reaches it.
    """
    spanned = 0.0
    for n in itertools.count(1):
        spanned += _retry_ceiling(n)
        if spanned >= waited_s:
            return n
    raise AssertionError("unreachable")


def _compressed_retry(data: Any) -> None:
    retry = data["tickets"]["retry"]
    assert (retry["initial"], retry["cap"]) == (PRODUCTION_INITIAL_S, PRODUCTION_CAP_S)
    retry["initial"] = INITIAL_S
    retry["cap"] = CAP_S


async def _outbox_counts(stack: Stack) -> dict[str, int]:
    rows = await stack.db.fetch(
        "SELECT status, count(*) AS n FROM ticket_outbox WHERE kind = 'create' GROUP BY status"
    )
    return {r["status"]: r["n"] for r in rows}


async def _sleep_until(deadline: float) -> None:
    # Letting simulated time pass is the scenario here, not a way of waiting for an outcome.
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


async def test_ten_minutes_of_outage_at_the_production_backoff_on_a_clock_60_times_fast(
    tmp_path: Path, empty_dsn: str
) -> None:
    assert CAP_FAILURE == 10  # 1 s doubling reaches 300 s after the tenth failure (512 > 300)
    seats = [f"s{n:02d}" for n in range(1, 31)]
    phones = [PhoneScript(f"80{n:02d}", answer_after=0.05, hangup_after=0.3) for n in range(1, 31)]
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=phones,
        patches={
            "queues.yaml": _quick,
            "survey.yaml": _quick_survey,
            "engine.yaml": _compressed_retry,
        },
        time_scale=0.02,
        tickets_retry_cap=None,
    ) as stack:
        agents = [a.number for a in stack.engine.config.agents.agents if "general" in a.skills]
        for agent, seat in zip(agents, seats, strict=False):
            await stack.login(agent, seat)
        backend = stack.backend
        backend.fail_with(503)
        outage_began = time.monotonic()

        for n in range(OUTAGE_CALLS):
            stack.sim.place_call(CallerScript(number=f"1380000{n:04d}"))
        # Every call ends, and every ticket meets a 503, by "minute" five on an idle
        # machine; a loaded one moves the restart and the recovery later, never earlier.
        ended = await stack.wait_ended(OUTAGE_CALLS, timeout=60)
        assert [c.outcome for c in ended] == ["answered"] * OUTAGE_CALLS
        await stack.flushed(30)
        await backend.wait_until(
            lambda: len({r.key for r in backend.creates_received()}) == OUTAGE_CALLS,
            timeout=30,
        )

        await _sleep_until(outage_began + RESTART_AT_S)
        restart_began = time.monotonic()
        await stack.restart_engine()
        restart_ended = time.monotonic()
        restart_s = restart_ended - restart_began
        # At least two "minutes" of outage after the restart, so the sender is seen
        # trying again from the new engine and in the last minute.
        recover_at = max(outage_began + OUTAGE_S, restart_ended + 2 * LAST_MINUTE_S)

        await _sleep_until(recover_at)
        before = await _outbox_counts(stack)
        await backend.recover()
        recovered_at = time.monotonic()
        assert before == {"pending": OUTAGE_CALLS}, before

        await backend.wait_until(
            lambda: len(backend.tickets) >= OUTAGE_CALLS, timeout=DELIVERY_DEADLINE_S
        )
        delivered_after_s = time.monotonic() - recovered_at

        # The sender kept trying all along: before and after the restart, and in the
        # last "minute" before the backend came back.
        refused = [r for r in backend.creates_received() if r.status == 503]
        assert refused and all(r.at < recovered_at for r in refused)
        assert any(r.at < restart_began for r in refused)
        assert any(r.at > restart_ended for r in refused)
        assert any(r.at >= recover_at - LAST_MINUTE_S for r in refused)

        # Each row: at least as many failures as its time in the outage forces,
        # and no gap between two attempts longer than the cap (plus the restart).
        by_key: defaultdict[str, list[Received]] = defaultdict(list)
        for r in backend.creates_received():
            assert r.key is not None
            by_key[r.key].append(r)
        assert len(by_key) == OUTAGE_CALLS
        fewest: dict[str, int] = {}
        for key, tries in by_key.items():
            failed = [r.at for r in tries if r.status == 503]
            slack = _work_slack(len(failed))
            waited = recovered_at - failed[0] - restart_s - slack
            fewest[key] = _fewest_failures(waited)
            assert len(failed) >= fewest[key], (key, len(failed), round(waited, 2))
            gaps = [b - a for a, b in itertools.pairwise([*failed, recovered_at])]
            assert max(gaps) <= CAP_S + restart_s + slack, (key, max(gaps))
        # Reaching the cap takes 8.5 "minutes" of backoff at worst and about four on
        # average, so with jitter nearly every row gets there within the outage (a row
        # misses only if its nine first draws all land near their ceilings).
        at_cap = sum(
            1 for tries in by_key.values() if sum(r.status == 503 for r in tries) >= CAP_FAILURE
        )
        assert at_cap >= OUTAGE_CALLS // 2, f"{at_cap} of {OUTAGE_CALLS} rows reached the cap"

        # Exactly once, nothing parked, every record and ticket id in place.
        accepted = [r.key for r in backend.creates_received() if r.status in (200, 201)]
        assert len(accepted) == OUTAGE_CALLS and len(set(accepted)) == OUTAGE_CALLS
        assert backend.accepted_creates == OUTAGE_CALLS
        assert len(backend.tickets) == OUTAGE_CALLS
        assert not backend.overlapping_keys

        async def all_delivered() -> bool:
            return await _outbox_counts(stack) == {"delivered": OUTAGE_CALLS}

        await eventually(all_delivered, timeout=10)
        rows = await stack.db.fetch(
            "SELECT call_id, idempotency_key, attempts FROM ticket_outbox WHERE kind = 'create'"
        )
        for row in rows:
            tries = by_key[row["idempotency_key"]]
            assert row["attempts"] >= len(tries) >= fewest[row["idempotency_key"]] + 1, row
        others = await stack.db.fetchrow(
            "SELECT count(*) AS n FROM ticket_outbox WHERE status <> 'delivered'"
        )
        assert others is not None and others["n"] == 0
        calls = await stack.db.fetch("SELECT outcome, ticket_id FROM calls")
        assert len(calls) == OUTAGE_CALLS
        assert all(c["outcome"] == "answered" and c["ticket_id"] for c in calls)
        assert {c["ticket_id"] for c in calls} == set(backend.tickets)

        attempts = sorted(r["attempts"] for r in rows)
        print(
            f"\nten-minute outage x{SPEED}: restart {restart_s:.2f} s,"
            f" create attempts per row min {attempts[0]} median {attempts[len(attempts) // 2]}"
            f" max {attempts[-1]} (floor {min(fewest.values()) + 1}),"
            f" {at_cap}/{OUTAGE_CALLS} rows reached the cap,"
            f" all delivered {delivered_after_s:.2f} s after recovery"
            f" (= {delivered_after_s * SPEED / 60:.1f} min)"
        )
