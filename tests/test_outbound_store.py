"""The callback list and return visits in a real PostgreSQL, fed by the writer's final call records."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import callbacks as cb
from cti.config import load_config
from cti.engine import records
from cti.store import callbacks as store
from cti.store import visits
from cti.store.callbacks import EntryFilter, listing_rules
from cti.tickets import TicketSender
from cti.visitsweep import VisitSweeper
from cti.writer import BufferedWriter
from tests.support.backend import TicketBackend, eventually, open_db
from tests.test_tickets_outbox import settings

pytestmark = pytest.mark.outbound

ROOT = Path(__file__).resolve().parent.parent
CONFIG = load_config(ROOT / "config")
ZONE = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZONE)
CITIZEN = "13800138000"


def call(
    call_id: str, minute: int, outcome: str, *, waited: int = 60, **extra: Any
) -> dict[str, Any]:
    arrived = T0 + dt.timedelta(minutes=minute)
    answered = arrived + dt.timedelta(seconds=20) if outcome == "answered" else None
    return {
        "call_id": call_id,
        "caller_number": CITIZEN,
        "caller_name": "",
        "dialled": "12345",
        "menu_path": [],
        "tags": {},
        "priority": 0,
        "route": "main",
        "queue": "general",
        "arrived_at": arrived,
        "queued_at": arrived + dt.timedelta(seconds=5),
        "answered_at": answered,
        "ended_at": arrived + dt.timedelta(seconds=5 + waited),
        "outcome": outcome,
        **extra,
    }


async def test_missed_calls_land_on_the_list_and_an_answered_call_clears_it(
    empty_dsn: str, tmp_path: Path
) -> None:
    async with open_db(empty_dsn) as db:
        writer = BufferedWriter(db, tmp_path / "spool.jsonl")
        records.register(writer)
        writer.follow("call_final", store.call_final_follower(lambda: listing_rules(CONFIG)))
        writer.start()
        try:
            writer.submit("call_final", {"call": call("c1", 0, "abandoned", waited=45)})
            writer.submit("call_final", {"call": call("c2", 1, "abandoned", waited=3)})  # short
            writer.submit("call_final", {"call": call("c3", 5, "voicemail", dialled="85098110")})
            writer.submit("call_final", {"call": call("c3", 5, "voicemail", dialled="85098110")})
            writer.submit(
                "call_final", {"call": {**call("c4", 6, "abandoned"), "caller_number": ""}}
            )
            await writer.flushed(10)
            async with db.connection() as conn:
                (entry,) = await store.listing(conn, EntryFilter(), T0)
                assert entry.key == f"{CITIZEN}@2026-03-02"
                assert [(m.call_id, m.line, m.reason) for m in entry.misses] == [
                    ("c1", "12345", cb.Reason.ABANDONED),
                    ("c3", "85098110", cb.Reason.VOICEMAIL),
                ]
                row = await conn.fetchrow("SELECT * FROM callback_entries")
                assert row["deadline_at"] == T0 + dt.timedelta(hours=2)
                # An agent claims it and records a no-answer from the seat phone.
                policy = CONFIG.callback_policy()
                later = T0 + dt.timedelta(minutes=20)
                await store.act(conn, entry.key, lambda e: cb.claim(e, "1001", later), policy)
                with pytest.raises(cb.Refusal, match="claimed by 1001"):
                    await store.act(conn, entry.key, lambda e: cb.claim(e, "1002", later), policy)
                done = await store.act(
                    conn,
                    entry.key,
                    lambda e: cb.record_outcome(e, cb.Outcome.NO_ANSWER, later, policy, "1001"),
                    policy,
                )
                assert done.status is cb.Status.PENDING and done.attempts[0].agent == "1001"
                attempts = await conn.fetch("SELECT n, agent, outcome FROM callback_attempts")
                assert [tuple(r) for r in attempts] == [(1, "1001", "no_answer")]
            # The citizen calls again and gets through: the entry is removed.
            writer.submit("call_final", {"call": call("c5", 40, "answered")})
            await writer.flushed(10)
            async with db.connection() as conn:
                (cleared,) = await store.listing(conn, EntryFilter(), T0)
                assert cleared.status is cb.Status.CLEARED and cleared.cleared_by == "c5"
                figures = await store.figures(conn, policy, T0 + dt.timedelta(hours=1))
                assert (figures.pending, figures.listed_today) == (0, 1)
                assert await conn.fetchval("SELECT count(*) FROM calls") == 5  # c3 once
        finally:
            await writer.stop()


async def test_overflow_full_and_closed_hours_reasons(empty_dsn: str, tmp_path: Path) -> None:
    async with open_db(empty_dsn) as db:
        writer = BufferedWriter(db, tmp_path / "spool.jsonl")
        records.register(writer)
        rules = store.ListingRules(CONFIG.callback_policy(), frozenset({"closed_route"}))
        writer.follow("call_final", store.call_final_follower(lambda: rules))
        writer.start()
        try:
            writer.submit(
                "call_event",
                {"call_id": "f1", "at": T0, "kind": "overflow", "detail": {"reason": "full"}},
            )
            writer.submit("call_final", {"call": call("f1", 0, "overflowed")})
            night = {
                **call("n1", 0, "hangup", route="closed_route"),
                "caller_number": "13900000000",
            }
            writer.submit("call_final", {"call": night})
            await writer.flushed(10)
            async with db.connection() as conn:
                entries = await store.listing(conn, EntryFilter(status=["pending"]), T0)
                reasons = {e.number: e.misses[0].reason for e in entries}
                assert reasons == {CITIZEN: cb.Reason.QUEUE_FULL, "13900000000": cb.Reason.CLOSED}
        finally:
            await writer.stop()


async def test_return_visit_request_is_idempotent_and_results_reach_the_backend_once(
    empty_dsn: str,
) -> None:
    req = cb.VisitRequest("WO-7", CITIZEN, T0, T0 + dt.timedelta(days=2), "satisfaction", True)
    policy, quiet = CONFIG.visit_policy(), CONFIG.callback_policy()
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        async with db.connection() as conn:
            visit, new = await visits.request(conn, req)
            assert new and visit.status is cb.VisitStatus.PENDING
            again, new_again = await visits.request(conn, req)
            assert not new_again and again == visit
            other = cb.VisitRequest(
                "WO-7", "13900000000", T0, T0 + dt.timedelta(days=1), "s", False
            )
            with pytest.raises(cb.Refusal, match="different return visit"):
                await visits.request(conn, other)
            first = cb.VisitResult(cb.Outcome.NO_ANSWER, T0 + dt.timedelta(hours=1), "1001")
            await visits.record_result(conn, "WO-7", first, policy, quiet)
            second = cb.VisitResult(
                cb.Outcome.REACHED, T0 + dt.timedelta(hours=4), "1002",
                (("satisfied", "1"), ("solved", "yes")), "rec-1", None,
            )  # fmt: skip
            done = await visits.record_result(conn, "WO-7", second, policy, quiet)
            assert done.status is cb.VisitStatus.DONE
            with pytest.raises(cb.Refusal, match="done"):
                await visits.record_result(conn, "WO-7", second, policy, quiet)

        async def delivered() -> bool:
            n = await db.fetchrow(
                "SELECT count(*) AS n FROM ticket_outbox WHERE status = 'delivered'"
                " AND kind = 'return_visit'"
            )
            return n is not None and n["n"] == 2

        sender = TicketSender(db, settings(backend))
        await sender.start()
        try:
            await eventually(delivered)
        finally:
            await sender.stop()
        bodies = backend.return_visits["WO-7"]
        assert [(b["attempt"], b["outcome"], b["status"]) for b in bodies] == [
            (1, "no_answer", "pending"),
            (2, "reached", "done"),
        ]
        assert bodies[1]["answers"] == [
            {"question": "satisfied", "answer": "1"},
            {"question": "solved", "answer": "yes"},
        ]
        assert backend.keys_received("/tickets/WO-7/return-visits") == {
            "return-visit:WO-7:1": 1,
            "return-visit:WO-7:2": 1,
        }


async def test_call_started_notice_reaches_the_backend_once(empty_dsn: str, tmp_path: Path) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        writer = BufferedWriter(db, tmp_path / "spool.jsonl")
        records.register(writer)
        on = store.ListingRules(CONFIG.callback_policy(), frozenset(), call_started_notice=True)
        off = store.ListingRules(CONFIG.callback_policy(), frozenset(), call_started_notice=False)
        current = {"rules": off}
        writer.follow("call", *store.call_follower(lambda: current["rules"]))
        writer.start()
        try:
            talking = {**call("s1", 0, "answered"), "ended_at": None, "first_agent": "1003"}
            writer.submit("call", talking)  # switched off: nothing
            await writer.flushed(10)
            assert await db.fetchrow("SELECT id FROM ticket_outbox") is None
            current["rules"] = on
            writer.submit("call", {**talking, "answered_at": None})  # still ringing
            writer.submit("call", talking)
            writer.submit("call", talking)  # a later snapshot: no second notice
            writer.submit("call", {**call("s2", 1, "abandoned"), "ended_at": None})  # no answer
            await writer.flushed(10)
            rows = await db.fetch("SELECT call_id, kind, idempotency_key FROM ticket_outbox")
            assert [tuple(r.values()) for r in rows] == [
                ("call-started:s1", "call_started", "s1:started")
            ]
        finally:
            await writer.stop()
        sender = TicketSender(db, settings(backend))
        await sender.start()
        try:
            await backend.wait_until(lambda: "s1" in backend.calls_started)
        finally:
            await sender.stop()
        notice = backend.calls_started["s1"]
        assert notice["agent"] == "1003" and notice["caller"] == {"number": CITIZEN}
        assert notice["line"] == "12345" and notice["queue"] == "general"
        assert backend.keys_received("/calls") == {"s1:started": 1}


async def test_a_visit_whose_window_closed_is_expired_and_reported_once(empty_dsn: str) -> None:
    req = cb.VisitRequest("WO-9", CITIZEN, T0, T0 + dt.timedelta(hours=8), "satisfaction", False)
    done_req = cb.VisitRequest(
        "WO-10", CITIZEN, T0, T0 + dt.timedelta(hours=8), "satisfaction", False
    )
    policy, quiet = CONFIG.visit_policy(), CONFIG.callback_policy()
    clock = {"now": T0 + dt.timedelta(hours=7)}
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        async with db.connection() as conn:
            await visits.request(conn, req)
            await visits.request(conn, done_req)
            reached = cb.VisitResult(cb.Outcome.REACHED, T0 + dt.timedelta(hours=1), "1001")
            await visits.record_result(conn, "WO-10", reached, policy, quiet)
        sweeper = VisitSweeper(db, every_s=3600, clock=lambda: clock["now"])
        assert await sweeper.sweep() == []  # the window is still open
        clock["now"] = T0 + dt.timedelta(hours=8)
        assert await sweeper.sweep() == ["WO-9"]
        assert await sweeper.sweep() == []
        async with db.connection() as conn:
            visit = await visits.load(conn, "WO-9")
            assert visit is not None and visit.status is cb.VisitStatus.EXPIRED
        sender = TicketSender(db, settings(backend))
        await sender.start()
        try:
            await backend.wait_until(lambda: "WO-9" in backend.return_visits)
        finally:
            await sender.stop()
        (notice,) = backend.return_visits["WO-9"]
        assert notice["status"] == "expired" and notice["outcome"] is None
        assert notice["reached"] is False and notice["attempt"] == 1
        assert backend.keys_received("/tickets/WO-9") == {"return-visit:WO-9:expired": 1}


async def test_two_agents_pressing_claim_at_once_one_wins(empty_dsn: str, tmp_path: Path) -> None:
    async with open_db(empty_dsn) as db:
        policy = CONFIG.callback_policy()
        entry = cb.opened(CITIZEN, cb.Miss("m1", T0, "12345", cb.Reason.ABANDONED), policy)
        async with db.connection() as conn:
            await store.save(conn, entry, policy)

        async def press(agent: str) -> str:
            try:
                async with db.connection() as conn:
                    got = await store.act(conn, entry.key, lambda e: cb.claim(e, agent, T0), policy)
                return f"{agent}:{got.claimed_by}"
            except cb.Refusal as exc:
                return f"{agent}:{exc.code}"

        results = sorted(await asyncio.gather(*(press(a) for a in ("1001", "1002", "1003"))))
        winners = [r for r in results if not r.endswith(":not_pending")]
        assert len(winners) == 1 and winners[0].split(":")[0] == winners[0].split(":")[1]
        assert sum(r.endswith(":not_pending") for r in results) == 2


async def test_a_failing_follower_never_costs_the_record(empty_dsn: str, tmp_path: Path) -> None:
    async def broken(conn: Any, payload: dict[str, Any]) -> None:
        await conn.execute("INSERT INTO callback_entries (key) VALUES ('incomplete')")

    async with open_db(empty_dsn) as db:
        writer = BufferedWriter(db, tmp_path / "spool.jsonl")
        records.register(writer)
        writer.follow("call_final", broken)
        writer.follow("call_final", store.call_final_follower(lambda: listing_rules(CONFIG)))
        writer.start()
        try:
            writer.submit("call_final", {"call": call("x1", 0, "abandoned", waited=45)})
            writer.submit("call_final", {"call": call("x2", 1, "answered")})
            await writer.flushed(10)
        finally:
            await writer.stop()
        assert await db.fetchrow("SELECT count(*) AS n FROM calls") == {"n": 2}
        # The broken follower's write was undone; the next follower still ran.
        rows = await db.fetch("SELECT key, status FROM callback_entries")
        assert [(r["key"], r["status"]) for r in rows] == [(f"{CITIZEN}@2026-03-02", "cleared")]
        assert writer.stats.dropped_invalid == 0
