"""Return visits (回访) in PostgreSQL, as :mod:`callbacks.visits` values.

A change locks the visit's row, lets the pure package decide and writes the
result back in one transaction; a recorded result goes into the ticket
outbox (:func:`cti.tickets.enqueue_return_visit_in`) in that same
transaction, so the backend hears of every result exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

import callbacks as cb
from cti.tickets import ReturnVisitResult, enqueue_return_visit_in

_COLUMNS = (
    "ticket_id, number, due_from, due_until, survey, person_required, summary, status,"
    " calling_by, calling_since, requested_at, fallback"
)


def _visit(row: Any, results: Sequence[Any]) -> cb.Visit:
    req = cb.VisitRequest(
        row["ticket_id"],
        row["number"],
        row["due_from"],
        row["due_until"],
        row["survey"],
        row["person_required"],
        row["summary"],
    )
    return cb.Visit(
        req,
        cb.VisitStatus(row["status"]),
        tuple(
            cb.VisitResult(
                cb.Outcome(r["outcome"]),
                r["at"],
                r["agent"],
                tuple((a["question"], a["answer"]) for a in r["answers"]),
                r["recording"],
                r["note"],
            )
            for r in sorted(results, key=lambda r: r["n"])
        ),
        row["calling_by"],
        row["calling_since"],
        row["fallback"],
    )


async def _results(conn: asyncpg.Connection, tickets: Sequence[str]) -> dict[str, list[Any]]:
    rows = await conn.fetch(
        "SELECT ticket_id, n, outcome, at, agent, answers, recording, note"
        " FROM return_visit_results WHERE ticket_id = ANY($1)",
        list(tickets),
    )
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row["ticket_id"], []).append(row)
    return out


async def load(conn: asyncpg.Connection, ticket_id: str, *, lock: bool = False) -> cb.Visit | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM return_visits WHERE ticket_id = $1{suffix}", ticket_id
    )
    if row is None:
        return None
    return _visit(row, (await _results(conn, [ticket_id])).get(ticket_id, []))


async def requested_at(conn: asyncpg.Connection, ticket_id: str) -> dt.datetime | None:
    value: dt.datetime | None = await conn.fetchval(
        "SELECT requested_at FROM return_visits WHERE ticket_id = $1", ticket_id
    )
    return value


async def request(conn: asyncpg.Connection, req: cb.VisitRequest) -> tuple[cb.Visit, bool]:
    """Store a request (idempotent on the ticket id); raises :class:`callbacks.Refusal`."""
    async with conn.transaction():
        inserted = await conn.fetchval(
            "INSERT INTO return_visits (ticket_id, number, due_from, due_until, survey,"
            " person_required, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id",
            req.ticket_id,
            req.number,
            req.due_from,
            req.due_until,
            req.survey,
            req.person_required,
            req.summary,
        )
        existing = await load(conn, req.ticket_id, lock=True)
        assert existing is not None
        if inserted is not None:
            return existing, True
        return cb.request(existing, req)


async def _save(conn: asyncpg.Connection, visit: cb.Visit) -> None:
    await conn.execute(
        "UPDATE return_visits SET status = $2, calling_by = $3, calling_since = $4,"
        " fallback = $5, updated_at = now() WHERE ticket_id = $1",
        visit.ticket_id,
        visit.status.value,
        visit.calling_by,
        visit.calling_since,
        visit.fallback,
    )


def _result_payload(
    visit: cb.Visit, result: cb.VisitResult, n: int, call_id: str | None
) -> dict[str, Any]:
    return ReturnVisitResult.model_validate(
        {
            "ticket_id": visit.ticket_id,
            "caller": {"number": visit.request.number},
            "attempt": n,
            "status": visit.status.value,
            "reached": result.outcome is cb.Outcome.REACHED,
            "outcome": result.outcome.value,
            "at": result.at.isoformat(),
            "agent": result.agent,
            "survey": visit.request.survey,
            "answers": [{"question": q, "answer": a} for q, a in result.answers],
            "recording": result.recording,
            "note": result.note,
            "call_id": call_id,
        }
    ).body()


async def record_result(
    conn: asyncpg.Connection,
    ticket_id: str,
    result: cb.VisitResult,
    policy: cb.VisitPolicy,
    quiet: cb.CallbackPolicy,
) -> cb.Visit:
    """Record one attempt's result and hand it to the outbox, in one transaction."""
    async with conn.transaction():
        visit = await load(conn, ticket_id, lock=True)
        if visit is None:
            raise cb.Refusal("unknown", f"ticket_id: no return visit for ticket {ticket_id!r}")
        changed = cb.record_result(visit, result, policy, quiet)
        n = len(changed.results)
        await _save(conn, changed)
        await _insert_result(conn, changed, result, n, None)
        return changed


async def _insert_result(
    conn: asyncpg.Connection, visit: cb.Visit, result: cb.VisitResult, n: int, call_id: str | None
) -> None:
    await conn.execute(
        "INSERT INTO return_visit_results (ticket_id, n, outcome, at, agent, answers,"
        " recording, note, call_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        visit.ticket_id,
        n,
        result.outcome.value,
        result.at,
        result.agent,
        [{"question": q, "answer": a} for q, a in result.answers],
        result.recording,
        result.note,
        call_id,
    )
    await enqueue_return_visit_in(
        conn, visit.ticket_id, n, _result_payload(visit, result, n, call_id)
    )


async def claim_due(
    conn: asyncpg.Connection,
    now: dt.datetime,
    limit: int,
    policy: cb.VisitPolicy,
    quiet: cb.CallbackPolicy,
) -> list[cb.Visit]:
    """Up to ``limit`` automatic visits due at ``now``, each moved to ``calling`` (no agent).

    Rows are taken with ``SKIP LOCKED`` so two engines never call the same
    citizen; the pure :meth:`callbacks.Visit.automatic_due` decides (window,
    quiet hours, spacing), so what the database pre-selects is only a scan.
    """
    if limit <= 0:
        return []
    claimed: list[cb.Visit] = []
    async with conn.transaction():
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM return_visits WHERE status = 'pending'"
            " AND NOT person_required AND fallback IS NULL AND due_from <= $1 AND due_until > $1"
            " ORDER BY due_until, ticket_id LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            max(limit * 4, 20),
        )
        results = await _results(conn, [r["ticket_id"] for r in rows])
        for row in rows:
            visit = _visit(row, results.get(row["ticket_id"], []))
            if not visit.automatic_due(now, policy, quiet):
                continue
            started = cb.start_call(visit, None, now, quiet)
            await _save(conn, started)
            claimed.append(started)
            if len(claimed) >= limit:
                break
    return claimed


async def automatic_result(
    conn: asyncpg.Connection,
    ticket_id: str,
    result: cb.VisitResult,
    *,
    attempts: int,
    fallback: str | None,
    call_id: str,
) -> cb.Visit | None:
    """The result of one automatic call, or its hand-over to the agents, into the outbox.

    Applied once: a visit no longer ``calling`` (the same result written
    again after a retry, or a result an agent recorded meanwhile) is left
    as it is and None returned.
    """
    async with conn.transaction():
        visit = await load(conn, ticket_id, lock=True)
        if visit is None or visit.status is not cb.VisitStatus.CALLING:
            return None
        if fallback is not None:
            changed = cb.fall_back(visit, result, fallback)
        else:
            # Quiet hours guard calls that start; this one is over.
            policy = cb.VisitPolicy(attempts=attempts)
            changed = cb.record_result(visit, result, policy, cb.CallbackPolicy())
        await _save(conn, changed)
        await _insert_result(conn, changed, result, len(changed.results), call_id)
        return changed


async def release_call(conn: asyncpg.Connection, ticket_id: str, agent: str) -> bool:
    """An agent's call for the visit that never rang the citizen: back to ``pending``."""
    changed = await conn.fetchval(
        "UPDATE return_visits SET status = 'pending', calling_by = NULL, calling_since = NULL,"
        " updated_at = now() WHERE ticket_id = $1 AND status = 'calling' AND calling_by = $2"
        " RETURNING ticket_id",
        ticket_id,
        agent,
    )
    return changed is not None


async def start_call(
    conn: asyncpg.Connection, ticket_id: str, agent: str, now: dt.datetime, quiet: cb.CallbackPolicy
) -> cb.Visit:
    """An agent calls the citizen for the visit: ``calling`` (window and quiet hours checked)."""
    async with conn.transaction():
        visit = await load(conn, ticket_id, lock=True)
        if visit is None:
            raise cb.Refusal("unknown", f"ticket_id: no return visit for ticket {ticket_id!r}")
        started = cb.start_call(visit, agent, now, quiet)
        await _save(conn, started)
        return started


async def release_stale(conn: asyncpg.Connection, before: dt.datetime) -> list[str]:
    """Automatic calls started before ``before`` that no engine finished: back to ``pending``.

    An engine that stopped in the middle of a call leaves its visit in
    ``calling``; the attempt never reached a result, so the visit is simply
    due again (no result, nothing told to the backend).
    """
    rows = await conn.fetch(
        "UPDATE return_visits SET status = 'pending', calling_since = NULL, updated_at = now()"
        " WHERE status = 'calling' AND calling_by IS NULL AND calling_since < $1"
        " RETURNING ticket_id",
        before,
    )
    return [r["ticket_id"] for r in rows]


async def listing(
    conn: asyncpg.Connection,
    status: Sequence[str] | None,
    person_required: bool | None,
    limit: int,
) -> list[tuple[cb.Visit, dt.datetime]]:
    clauses: list[str] = []
    args: list[Any] = []
    if status:
        args.append(list(status))
        clauses.append(f"status = ANY(${len(args)})")
    if person_required is not None:
        args.append(person_required)
        # A visit the automatic survey handed over is an agent's visit too.
        clauses.append(f"(person_required OR fallback IS NOT NULL) = ${len(args)}")
    sql = f"SELECT {_COLUMNS} FROM return_visits"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    args.append(limit)
    sql += f" ORDER BY due_from, ticket_id LIMIT ${len(args)}"
    rows = await conn.fetch(sql, *args)
    results = await _results(conn, [r["ticket_id"] for r in rows])
    return [(_visit(r, results.get(r["ticket_id"], [])), r["requested_at"]) for r in rows]


async def expire_due(conn: asyncpg.Connection, now: dt.datetime, limit: int = 100) -> list[str]:
    """Visits whose window closed unfinished become ``expired``; the backend is told, once.

    Rows are taken with ``SKIP LOCKED``, so two engines sweeping at once share
    the work; the notice's key is ``return-visit:<ticket>:expired``.
    """
    expired: list[str] = []
    async with conn.transaction():
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM return_visits WHERE status = 'pending' AND due_until <= $1"
            " ORDER BY due_until LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        results = await _results(conn, [r["ticket_id"] for r in rows])
        for row in rows:
            visit = cb.expire(_visit(row, results.get(row["ticket_id"], [])), now)
            if visit.status is not cb.VisitStatus.EXPIRED:
                continue
            await _save(conn, visit)
            body = ReturnVisitResult.model_validate(
                {
                    "ticket_id": visit.ticket_id,
                    "caller": {"number": visit.request.number},
                    "attempt": len(visit.results) + 1,
                    "status": "expired",
                    "reached": False,
                    "outcome": None,
                    "at": now.isoformat(),
                    "agent": None,
                    "survey": visit.request.survey,
                }
            ).body()
            await enqueue_return_visit_in(conn, visit.ticket_id, "expired", body)
            expired.append(visit.ticket_id)
    return expired
