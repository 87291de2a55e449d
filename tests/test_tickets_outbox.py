"""The ticket outbox against a real PostgreSQL and a real HTTP backend on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from structlog.testing import capture_logs

from cti.store import Database
from cti.tickets import (
    RowStatus,
    SenderConfigError,
    SenderSettings,
    TicketError,
    TicketNotFound,
    TicketOutbox,
    TicketSender,
    TicketStateError,
)
from tests.support.backend import TicketBackend, eventually, open_db, sample_rating, sample_ticket

pytestmark = pytest.mark.tickets

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


def settings(backend: TicketBackend, **changes: Any) -> SenderSettings:
    return SenderSettings(backend_url=backend.url, **{**FAST, **changes})


@asynccontextmanager
async def running(
    db: Database, backend: TicketBackend, **changes: Any
) -> AsyncIterator[TicketSender]:
    """A started sender; stopping it raises if it met an unexpected fault."""
    sender = TicketSender(db, settings(backend, **changes))
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()


async def wait_status(outbox: TicketOutbox, outbox_id: int, status: RowStatus) -> None:
    async def reached() -> bool:
        return (await outbox.get(outbox_id)).status is status

    await eventually(reached, timeout=10)


async def _true(value: bool) -> bool:
    return value


async def test_ticket_delivered_with_its_key_and_the_backend_id_stored(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        ticket = sample_ticket("1714987800.1")
        # A long poll interval: only the NOTIFY at commit can wake the sender in time.
        with capture_logs() as logs:
            async with running(db, backend, poll_interval_s=30) as sender:
                await eventually(lambda: _true(sender.listening))
                outbox_id = await outbox.finalize_call(
                    ticket, {"outcome": "answered", "route": "queue"}
                )
                await backend.wait_until(lambda: backend.accepted_creates == 1, timeout=3)
                await wait_status(outbox, outbox_id, RowStatus.DELIVERED)

        [request] = backend.received
        assert request.path == "/tickets"
        assert request.key == "1714987800.1"
        assert request.body == ticket.body()
        row = await outbox.get(outbox_id)
        assert row.backend_ticket_id == "WO000001"
        assert (row.attempts, row.response_status, row.idempotency_key) == (1, 201, "1714987800.1")
        call = await db.fetchrow("SELECT * FROM calls WHERE call_id = $1", ticket.call_id)
        assert call is not None
        assert call["ticket_id"] == "WO000001"
        assert call["outcome"] == "answered"
        assert call["caller_number"] == "13800138000"
        assert (call["first_agent"], call["last_agent"]) == ("a1001", "a1002")
        assert call["department"] == "文广旅局"
        assert [step["node"] for step in call["menu_path"]] == ["welcome", "topics"]
        assert call["menu_path"][1]["keys"] == "2"
        assert call["recording_ref"] == ticket.recording_url
        [delivered] = [e for e in logs if e["event"] == "ticket_delivered"]
        assert delivered["caller"] == "138****8000"
        assert delivered["ticket_id"] == "WO000001"
        assert "13800138000" not in json.dumps(logs, default=str, ensure_ascii=False)


async def test_a_rolled_back_transaction_sends_nothing(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        async with running(db, backend):
            with pytest.raises(RuntimeError):
                async with db.connection() as conn, conn.transaction():
                    await outbox.enqueue_in(conn, sample_ticket("lost-call"))
                    raise RuntimeError("the call record failed")
            with pytest.raises(TicketError, match="not columns"):
                await outbox.finalize_call(sample_ticket("bad-call"), {"no_such_column": 1})
            kept = await outbox.enqueue(sample_ticket("kept-call"))
            await wait_status(outbox, kept, RowStatus.DELIVERED)
        assert [r.key for r in backend.received] == ["kept-call"]
        assert await db.fetchrow("SELECT 1 FROM calls WHERE call_id = 'bad-call'") is None
        assert await outbox.depth() == 0


async def test_one_create_per_call_however_often_it_is_enqueued(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        first = await outbox.enqueue(sample_ticket("c-dup"))
        again = await outbox.finalize_call(sample_ticket("c-dup"), {"outcome": "answered"})
        assert again == first
        async with running(db, backend):
            await wait_status(outbox, first, RowStatus.DELIVERED)
        assert again == await outbox.enqueue(sample_ticket("c-dup"))
        assert backend.keys_received() == {"c-dup": 1}
        assert len(await outbox.rows_for_call("c-dup")) == 1


async def test_a_4xx_is_parked_listed_and_delivered_after_resend(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        backend.reject_if(
            lambda body: (
                "unknown department"
                if (body.get("merged_line") or {}).get("department") == "旧部门"
                else None
            )
        )
        bad = sample_ticket("c-bad", merged_line={"original_number": "1", "department": "旧部门"})
        with capture_logs() as logs:
            async with running(db, backend):
                good_id = await outbox.enqueue(sample_ticket("c-good"))
                bad_id = await outbox.enqueue(bad)
                await wait_status(outbox, bad_id, RowStatus.REJECTED)
                # A later rating of the parked call waits behind its create.
                update_id = await outbox.enqueue_rating_update("c-bad", sample_rating(3))
                await wait_status(outbox, good_id, RowStatus.DELIVERED)

                [parked] = await outbox.list_rejected()
                assert (parked.id, parked.call_id, parked.response_status) == (bad_id, "c-bad", 422)
                assert "unknown department" in (parked.response_body or "")
                assert parked.caller_masked == "138****8000"
                assert (await outbox.get(update_id)).status is RowStatus.PENDING
                assert (await outbox.stats()).rejected == 1
                with pytest.raises(TicketStateError):
                    await outbox.resend(good_id, by="admin1")
                with pytest.raises(TicketNotFound):
                    await outbox.resend(999_999, by="admin1")
                with pytest.raises(TicketStateError):
                    await outbox.resend(bad_id, by="admin1", payload=sample_ticket("c-other"))

                fixed = sample_ticket("c-bad")  # the department corrected
                resent = await outbox.resend(bad_id, by="admin1", payload=fixed)
                assert resent.id == bad_id and resent.status is not RowStatus.REJECTED
                await wait_status(outbox, update_id, RowStatus.DELIVERED)

        creates = [r for r in backend.creates_received() if r.key == "c-bad"]
        assert [r.status for r in creates] == [422, 201]
        assert creates[1].body == fixed.body()
        delivered = await outbox.get(bad_id)
        assert (delivered.status, delivered.attempts) == (RowStatus.DELIVERED, 1)
        assert await outbox.list_rejected() == []
        audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'ticket_resend'")
        assert audit is not None
        assert (audit["actor"], audit["role"], audit["target"]) == (
            "admin1",
            "admin",
            f"ticket_outbox:{bad_id}",
        )
        assert audit["detail"]["rejected_with"] == 422
        assert audit["detail"]["payload_replaced"] is True
        [rejected_log] = [e for e in logs if e["event"] == "ticket_rejected"]
        assert rejected_log["status"] == 422 and rejected_log["call_id"] == "c-bad"


async def test_a_late_rating_is_posted_to_the_same_ticket(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        async with running(db, backend):
            create_id = await outbox.enqueue(sample_ticket("c-late"))
            await wait_status(outbox, create_id, RowStatus.DELIVERED)
            update_id = await outbox.enqueue_rating_update("c-late", sample_rating(5))
            assert update_id == await outbox.enqueue_rating_update("c-late", sample_rating(1))
            await wait_status(outbox, update_id, RowStatus.DELIVERED)
            with pytest.raises(TicketNotFound):
                await outbox.enqueue_rating_update("no-such-call", sample_rating(2))

        ticket_id = (await outbox.get(create_id)).backend_ticket_id
        assert ticket_id is not None
        update = backend.received[-1]
        assert update.path == f"/tickets/{ticket_id}/updates"
        assert update.key == "c-late:rating"
        assert update.body["rating"]["level"] == 5
        assert backend.tickets[ticket_id].updates == [update.body]
        assert (await outbox.get(update_id)).backend_ticket_id == ticket_id


async def test_updates_wait_for_their_create_through_an_outage(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        backend.fail_with(503)
        calls = [f"c-order-{n}" for n in range(12)]
        async with running(db, backend):
            for call_id in calls:
                await outbox.enqueue(sample_ticket(call_id))
                await outbox.enqueue_rating_update(call_id, sample_rating())
            await backend.wait_until(lambda: len(backend.received) >= 30)
            assert all(r.path == "/tickets" for r in backend.received), "no update before create"
            await backend.recover()
            await backend.wait_until(lambda: backend.accepted_updates == len(calls))
        for call_id in calls:
            paths = [r.path for r in backend.received if r.key and r.key.startswith(call_id + ":")]
            first_accept = next(
                i for i, r in enumerate(backend.received) if r.key == call_id and r.status == 201
            )
            first_update = next(
                i for i, r in enumerate(backend.received) if r.key == f"{call_id}:rating"
            )
            assert first_accept < first_update
            assert len(paths) == 1
        assert backend.max_in_flight <= 4


async def test_refused_connections_and_timeouts_are_retried_until_delivered(
    empty_dsn: str,
) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        await backend.refuse()
        with capture_logs() as logs:
            # A short request timeout: timing out is what this test is about.
            async with running(db, backend, request_timeout_s=0.5, lease_s=2.0):
                refused = [await outbox.enqueue(sample_ticket(f"c-ref-{n}")) for n in range(3)]

                async def retried_twice(ids: list[int]) -> bool:
                    return all([(await outbox.get(i)).attempts >= 2 for i in ids])

                await eventually(lambda: retried_twice(refused))
                assert backend.received == []
                await backend.recover()
                for outbox_id in refused:
                    await wait_status(outbox, outbox_id, RowStatus.DELIVERED)

                backend.hang()  # answers come after the client gave up: the POST did arrive
                slow = [await outbox.enqueue(sample_ticket(f"c-slow-{n}")) for n in range(2)]
                await eventually(lambda: retried_twice(slow))
                await backend.recover()
                for outbox_id in slow:
                    await wait_status(outbox, outbox_id, RowStatus.DELIVERED)

        retries = [e for e in logs if e["event"] == "ticket_retry"]
        assert any("ClientConnectorError" in e["error"] for e in retries)
        assert any("Timeout" in e["error"] for e in retries)
        # The slow tickets reached the backend several times; it made each once.
        assert backend.accepted_creates == 5
        for n in range(2):
            key = f"c-slow-{n}"
            assert backend.keys_received()[key] >= 2
            [made] = [t for t in backend.tickets.values() if t.key == key]
            row = (await outbox.rows_for_call(key))[0]
            assert row.backend_ticket_id == made.id


async def test_429_is_retried_and_other_4xx_are_not(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        backend.fail_with(429, times=2)
        async with running(db, backend):
            outbox_id = await outbox.enqueue(sample_ticket("c-429"))
            await wait_status(outbox, outbox_id, RowStatus.DELIVERED)
            backend.fail_with(404, times=1)
            parked = await outbox.enqueue(sample_ticket("c-404"))
            await wait_status(outbox, parked, RowStatus.REJECTED)
        assert (await outbox.get(outbox_id)).attempts == 3
        assert (await outbox.get(parked)).attempts == 1
        assert backend.keys_received()["c-404"] == 1


async def test_the_bearer_token_comes_from_the_named_environment_variable(
    empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_db(empty_dsn) as db, TicketBackend(token="tok-123") as backend:
        outbox = TicketOutbox(db)
        monkeypatch.delenv("TICKET_TOKEN_T", raising=False)
        with pytest.raises(SenderConfigError, match="TICKET_TOKEN_T"):
            await TicketSender(db, settings(backend, token_env="TICKET_TOKEN_T")).start()
        monkeypatch.setenv("TICKET_TOKEN_T", "tok-123")
        with capture_logs() as logs:
            async with running(db, backend, token_env="TICKET_TOKEN_T"):
                outbox_id = await outbox.enqueue(sample_ticket("c-auth"))
                await wait_status(outbox, outbox_id, RowStatus.DELIVERED)
        assert backend.received[0].authorization == "Bearer tok-123"
        assert "tok-123" not in json.dumps(logs, default=str)


async def test_a_2xx_without_ticket_id_is_delivered_and_its_update_parked(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend(id_field="") as backend:
        outbox = TicketOutbox(db)
        with capture_logs() as logs:
            async with running(db, backend):
                create_id = await outbox.enqueue(sample_ticket("c-noid"))
                await wait_status(outbox, create_id, RowStatus.DELIVERED)
                update_id = await outbox.enqueue_rating_update("c-noid", sample_rating())
                await wait_status(outbox, update_id, RowStatus.REJECTED)
        assert (await outbox.get(create_id)).backend_ticket_id is None
        assert (await outbox.get(update_id)).last_error == "the backend gave no ticket id"
        assert len(backend.received) == 1
        assert any(e["event"] == "ticket_delivered_without_id" for e in logs)


async def test_depth_and_oldest_age_follow_the_backlog(empty_dsn: str) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        assert (await outbox.depth(), await outbox.oldest_age_s()) == (0, None)
        ids = [await outbox.enqueue(sample_ticket(f"c-depth-{n}")) for n in range(3)]
        assert await outbox.depth() == 3
        age = await outbox.oldest_age_s()
        assert age is not None and 0 <= age < 30
        backend.fail_with(503)
        async with running(db, backend) as sender:
            await backend.wait_until(lambda: len(backend.received) >= 6)
            assert await outbox.depth() == 3
            await backend.recover()
            for outbox_id in ids:
                await wait_status(outbox, outbox_id, RowStatus.DELIVERED)
            await eventually(lambda: _true(sender.counters.delivered == 3))
            assert sender.counters.retried >= 3
        assert (await outbox.depth(), await outbox.oldest_age_s()) == (0, None)
