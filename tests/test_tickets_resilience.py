"""Exactly-once ticket delivery through backend outages, engine restarts and a database
that goes away, against a real PostgreSQL and a real HTTP backend on loopback."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from cti.pgserver import PrivatePostgres
from cti.store import Database
from cti.tickets import RowStatus, SenderSettings, TicketOutbox, TicketSender
from cti.tickets import rows as outbox_rows
from tests.support.backend import Received, TicketBackend, eventually, open_db, sample_ticket

pytestmark = [pytest.mark.tickets, pytest.mark.resilience]

# Short backoffs and polls, so the tests run fast; a request timeout and a lease
# that a loaded machine's stalls do not reach, so nothing is re-sent by accident.
FAST: dict[str, Any] = {
    "request_timeout_s": 5.0,
    "connect_timeout_s": 0.3,
    "backoff_base_s": 0.01,
    "backoff_cap_s": 0.1,
    "poll_interval_s": 0.2,
    "lease_s": 10.0,
}
N = 200


def settings(backend: TicketBackend, **changes: Any) -> SenderSettings:
    return SenderSettings(backend_url=backend.url, **{**FAST, **changes})


@asynccontextmanager
async def engine(dsn: str, backend: TicketBackend, **changes: Any) -> AsyncIterator[TicketSender]:
    """An engine's sender with its own connection pool, as a separate process would have."""
    async with open_db(dsn) as db:
        sender = TicketSender(db, settings(backend, **changes))
        await sender.start()
        try:
            yield sender
        finally:
            await sender.stop()


async def finalize_many(outbox: TicketOutbox, prefix: str, count: int) -> list[str]:
    call_ids = [f"{prefix}-{n:03d}" for n in range(count)]
    for call_id in call_ids:
        await outbox.finalize_call(sample_ticket(call_id), {"outcome": "answered"})
    return call_ids


async def all_delivered(db: Database) -> bool:
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE status <> 'delivered') AS open FROM ticket_outbox"
    )
    return row is not None and row["open"] == 0


def assert_exactly_once(
    backend: TicketBackend, call_ids: list[str], logs: list[dict[str, Any]]
) -> None:
    """Each ticket made once; a create answered again (200, the same ticket) only
    where the sender never got the first answer (a timed-out request, logged as a
    retry without an HTTP status), which is what the Idempotency-Key is for."""
    made = Counter(r.key for r in backend.creates_received() if r.status == 201)
    assert made == dict.fromkeys(call_ids, 1), "every ticket made once, none twice"
    assert backend.accepted_creates == len(call_ids)
    assert {t.key for t in backend.tickets.values()} == set(call_ids)
    replayed = {r.key for r in backend.creates_received() if r.status == 200}
    lost = {e["call_id"] for e in logs if e["event"] == "ticket_retry" and e["status"] is None}
    assert replayed <= lost, "a create sent again after its answer had been received"


async def assert_calls_carry_their_tickets(db: Database, backend: TicketBackend) -> None:
    made = {t.key: t.id for t in backend.tickets.values()}
    calls = await db.fetch("SELECT call_id, ticket_id FROM calls")
    assert {c["call_id"]: c["ticket_id"] for c in calls} == made


async def test_200_tickets_through_a_503_outage_with_two_engines(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        backend.fail_with(503)
        with capture_logs() as logs:
            async with engine(empty_dsn, backend) as first, engine(empty_dsn, backend) as second:
                call_ids = await finalize_many(outbox, "outage", N)
                await backend.wait_until(lambda: len(backend.received) >= 2 * N, timeout=30)
                assert backend.accepted_creates == 0
                await backend.recover()
                await eventually(lambda: all_delivered(db), timeout=30)
                assert first.running and second.running
        assert_exactly_once(backend, call_ids, logs)
        # Two engines never had the same ticket in flight at once.
        assert backend.overlapping_keys == []
        assert backend.max_in_flight <= 2 * 4
        await assert_calls_carry_their_tickets(db, backend)
        assert await outbox.depth() == 0


async def test_engine_stopped_mid_outage_and_a_new_one_takes_over(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        backend.fail_with(503)
        async with engine(empty_dsn, backend):
            call_ids = await finalize_many(outbox, "restart", N)
            await backend.wait_until(lambda: len(backend.received) >= N, timeout=30)
        # The stopped engine gave its leases back: nothing waits for a lease to run out.
        held = await db.fetchrow(
            "SELECT count(*) AS n FROM ticket_outbox WHERE claimed_by IS NOT NULL"
        )
        assert held is not None and held["n"] == 0
        assert await outbox.depth() == N
        sent_before = len(backend.received)
        await backend.recover()
        assert len(backend.received) == sent_before, "the stopped engine sends nothing"
        with capture_logs() as logs:
            async with engine(empty_dsn, backend) as successor:
                await eventually(lambda: all_delivered(db), timeout=30)
                await eventually(lambda: _holds(successor.counters.delivered == N))
        assert_exactly_once(backend, call_ids, logs)
        await assert_calls_carry_their_tickets(db, backend)


async def test_a_crashed_engines_post_is_resent_with_the_same_key(empty_dsn: str) -> None:
    """The engine died after its POST reached the backend, before it marked the row.

    The row comes due when the lease runs out, is posted again with the same
    Idempotency-Key, and the backend answers with the ticket it already made.
    """
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        outbox_id = await outbox.enqueue(sample_ticket("crash-1"))
        async with db.connection() as conn:
            [claim] = await outbox_rows.claim(conn, 1, 1.0, "dead-engine")
        async with aiohttp.ClientSession() as session:
            headers = {"Idempotency-Key": claim.idempotency_key}
            async with session.post(
                f"{backend.url}/tickets", json=claim.payload, headers=headers
            ) as resp:
                first_id = (await resp.json())["id"]
        async with engine(empty_dsn, backend):
            await eventually(lambda: all_delivered(db), timeout=10)
        row = await outbox.get(outbox_id)
        assert row.backend_ticket_id == first_id
        assert [r.status for r in backend.received] == [201, 200]
        assert backend.keys_received() == {"crash-1": 2}
        assert backend.accepted_creates == 1


async def test_a_restarted_engine_resends_its_own_rows_at_once(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        await outbox.enqueue(sample_ticket("own-1"))
        async with db.connection() as conn:
            await outbox_rows.claim(conn, 1, 600.0, "engine-a")  # then killed
        async with engine(empty_dsn, backend, engine_id="engine-a", lease_s=600.0):
            await eventually(lambda: all_delivered(db), timeout=5)
        assert backend.keys_received() == {"own-1": 1}


class DatabaseSwitch:
    """Stops and starts the session's shared PostgreSQL server."""

    def __init__(self, pg_server: PrivatePostgres) -> None:
        self._server = pg_server
        self.down = False

    async def stop(self) -> None:
        self.down = True
        await asyncio.to_thread(self._server.stop)

    async def start(self) -> None:
        await asyncio.to_thread(self._server.start)
        self.down = False


@asynccontextmanager
async def database_switch(pg_server: PrivatePostgres) -> AsyncIterator[DatabaseSwitch]:
    """The server is running again when the block ends, whatever happened in it."""
    switch = DatabaseSwitch(pg_server)
    try:
        yield switch
    finally:
        if switch.down:
            await switch.start()


def logged(logs: list[dict[str, Any]], event: str, **match: Any) -> bool:
    return any(e["event"] == event and all(e.get(k) == v for k, v in match.items()) for e in logs)


async def test_an_idle_sender_waits_out_the_database_and_listens_again(
    empty_dsn: str, pg_server: PrivatePostgres
) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        with capture_logs() as logs:
            async with (
                database_switch(pg_server) as database,
                engine(empty_dsn, backend) as sender,
            ):
                await eventually(lambda: _holds(sender.listening))
                await database.stop()

                async def claims_failed() -> bool:
                    return logged(logs, "ticket_store_unavailable", during="claim")

                await eventually(claims_failed, timeout=10)
                await eventually(lambda: _holds(not sender.listening), timeout=10)
                await database.start()
                await eventually(lambda: _holds(sender.listening), timeout=10)
                outbox_id = await outbox.enqueue(sample_ticket("after-blink"))
                await eventually(lambda: all_delivered(db), timeout=10)
        assert (await outbox.get(outbox_id)).backend_ticket_id == "WO000001"
        assert logged(logs, "ticket_store_unavailable", during="listen")


async def test_the_sender_survives_the_database_going_away(
    empty_dsn: str, pg_server: PrivatePostgres
) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        backend.fail_with(503)
        call_ids = await finalize_many(outbox, "dbdown", 20)
        with capture_logs() as logs:
            async with (
                database_switch(pg_server) as database,
                engine(empty_dsn, backend) as sender,
            ):
                await backend.wait_until(lambda: len(backend.received) >= 40)
                await database.stop()
                await backend.recover()

                async def store_failed() -> bool:
                    return logged(logs, "ticket_store_unavailable")

                await eventually(store_failed, timeout=10)
                await eventually(lambda: _holds(not sender.listening), timeout=10)
                assert sender.running
                await database.start()
                await eventually(lambda: all_delivered(db), timeout=20)
                await eventually(lambda: _holds(sender.listening), timeout=10)
        assert_exactly_once(backend, call_ids, logs)
        assert sender.counters.store_errors > 0
        assert "13800138000" not in json.dumps(logs, default=str, ensure_ascii=False)


@pytest.mark.parametrize(
    ("request_timeout_s", "lease_s", "outlast_lease"),
    [(10.0, 30.0, False), (2.5, 3.0, True)],
    ids=["lease-held", "lease-ran-out"],
)
async def test_a_result_is_kept_while_the_database_is_away_so_nothing_is_resent(
    empty_dsn: str,
    pg_server: PrivatePostgres,
    request_timeout_s: float,
    lease_s: float,
    outlast_lease: bool,
) -> None:
    """Also when the database stays away past the sender's own lease: the row it
    still settles is not claimed and posted again when the database is back."""
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        outbox_id = await outbox.enqueue(sample_ticket("settle-1"))
        with capture_logs() as logs:
            async with database_switch(pg_server) as database:

                async def stop_database_first(_: Received) -> None:
                    backend.before_create = None
                    await database.stop()  # the backend accepts while the database is away

                backend.before_create = stop_database_first
                async with engine(
                    empty_dsn, backend, request_timeout_s=request_timeout_s, lease_s=lease_s
                ):

                    async def settle_failed() -> bool:
                        return logged(logs, "ticket_store_unavailable", during="settle")

                    await eventually(settle_failed, timeout=15)
                    if outlast_lease:
                        loop = asyncio.get_running_loop()
                        lapsed = loop.time() + lease_s
                        await eventually(lambda: _holds(loop.time() > lapsed), timeout=lease_s + 5)
                    await database.start()
                    await eventually(lambda: all_delivered(db), timeout=20)
        assert backend.keys_received() == {"settle-1": 1}
        row = await outbox.get(outbox_id)
        assert (row.status, row.attempts, row.backend_ticket_id) == (
            RowStatus.DELIVERED,
            1,
            "WO000001",
        )


async def _holds(value: bool) -> bool:
    return value
