"""The callback list in PostgreSQL: entries and attempts as :mod:`callbacks` values.

Every change is made the same way: lock the entry's row (``FOR UPDATE``),
turn it into a :class:`callbacks.Entry`, let the pure package decide, write
the result back, all in one transaction.  Two agents pressing Call on the
same entry therefore never both dial: the second sees it taken.

Missed calls land on the list from the final call records
(:func:`record_final_call`, run by the writer in the transaction that writes
the record), and an answered call from the same number removes its entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

import callbacks as cb
from cti.config import Config
from cti.logs import mask_number
from cti.store.db import Database
from cti.tickets import CallStarted, enqueue_call_started_in

log = structlog.get_logger("cti.store.callbacks")

_ENTRY_COLUMNS = (
    "key, number, day, status, queue, misses, skips, claimed_by, claimed_at, closed_at,"
    " cleared_by, got_through"
)
_NUMBER_CHARS = frozenset("0123456789+")


def _miss_json(miss: cb.Miss) -> dict[str, Any]:
    return {
        "call_id": miss.call_id,
        "at": miss.at.isoformat(),
        "line": miss.line,
        "reason": miss.reason.value,
        "queue": miss.queue,
    }


def _miss(raw: dict[str, Any]) -> cb.Miss:
    return cb.Miss(
        raw["call_id"],
        dt.datetime.fromisoformat(raw["at"]),
        raw["line"],
        cb.Reason(raw["reason"]),
        raw.get("queue"),
    )


def entry_of(row: Any, attempts: Sequence[Any]) -> cb.Entry:
    return cb.Entry(
        number=row["number"],
        day=row["day"],
        status=cb.Status(row["status"]),
        misses=tuple(_miss(m) for m in row["misses"]),
        attempts=tuple(
            cb.Attempt(
                a["at"],
                a["agent"],
                cb.Outcome(a["outcome"]) if a["outcome"] else None,
                a["call_id"],
            )
            for a in sorted(attempts, key=lambda a: a["n"])
        ),
        skips=tuple(
            cb.Skip(dt.datetime.fromisoformat(s["at"]), s["agent"], s["reason"])
            for s in row["skips"]
        ),
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        closed_at=row["closed_at"],
        cleared_by=row["cleared_by"],
        got_through=row["got_through"],
    )


async def _attempts(conn: asyncpg.Connection, keys: Sequence[str]) -> dict[str, list[Any]]:
    rows = await conn.fetch(
        "SELECT key, n, at, agent, outcome, call_id FROM callback_attempts WHERE key = ANY($1)",
        list(keys),
    )
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row["key"], []).append(row)
    return out


async def load(conn: asyncpg.Connection, key: str, *, lock: bool = False) -> cb.Entry | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(
        f"SELECT {_ENTRY_COLUMNS} FROM callback_entries WHERE key = $1{suffix}", key
    )
    if row is None:
        return None
    return entry_of(row, (await _attempts(conn, [key])).get(key, []))


async def open_entry(conn: asyncpg.Connection, number: str) -> cb.Entry | None:
    """The number's open entry, locked for the transaction."""
    row = await conn.fetchrow(
        f"SELECT {_ENTRY_COLUMNS} FROM callback_entries WHERE number = $1"
        " AND status IN ('pending', 'claimed', 'dialling') FOR UPDATE",
        number,
    )
    if row is None:
        return None
    return entry_of(row, (await _attempts(conn, [row["key"]])).get(row["key"], []))


async def save(conn: asyncpg.Connection, entry: cb.Entry, policy: cb.CallbackPolicy) -> None:
    """Write the entry and its attempts (an upsert of both)."""
    await conn.execute(
        "INSERT INTO callback_entries (key, number, day, status, queue, misses, skips,"
        " claimed_by, claimed_at, first_missed_at, last_missed_at, deadline_at, next_try_at,"
        " closed_at, cleared_by, got_through, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, now())"
        " ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, queue = EXCLUDED.queue,"
        " misses = EXCLUDED.misses, skips = EXCLUDED.skips, claimed_by = EXCLUDED.claimed_by,"
        " claimed_at = EXCLUDED.claimed_at, first_missed_at = EXCLUDED.first_missed_at,"
        " last_missed_at = EXCLUDED.last_missed_at, deadline_at = EXCLUDED.deadline_at,"
        " next_try_at = EXCLUDED.next_try_at, closed_at = EXCLUDED.closed_at,"
        " cleared_by = EXCLUDED.cleared_by, got_through = EXCLUDED.got_through,"
        " updated_at = now()",
        entry.key,
        entry.number,
        entry.day,
        entry.status.value,
        entry.misses[-1].queue,
        [_miss_json(m) for m in entry.misses],
        [{"at": s.at.isoformat(), "agent": s.agent, "reason": s.reason} for s in entry.skips],
        entry.claimed_by,
        entry.claimed_at,
        entry.first_missed_at,
        entry.last_missed_at,
        entry.deadline(policy),
        entry.next_try_at(policy),
        entry.closed_at,
        entry.cleared_by,
        entry.got_through,
    )
    # An attempt dropped (the agent never reached the citizen's phone) goes too.
    await conn.execute(
        "DELETE FROM callback_attempts WHERE key = $1 AND n > $2", entry.key, len(entry.attempts)
    )
    for n, attempt in enumerate(entry.attempts, start=1):
        await conn.execute(
            "INSERT INTO callback_attempts (key, n, at, agent, outcome, call_id)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key, n) DO UPDATE SET"
            " outcome = EXCLUDED.outcome, call_id = COALESCE(EXCLUDED.call_id,"
            " callback_attempts.call_id)",
            entry.key,
            n,
            attempt.at,
            attempt.agent,
            attempt.outcome.value if attempt.outcome else None,
            attempt.call_id,
        )


async def act(
    conn: asyncpg.Connection,
    key: str,
    change: Callable[[cb.Entry], cb.Entry],
    policy: cb.CallbackPolicy,
) -> cb.Entry:
    """Apply ``change`` to the locked entry and store the result.

    Raises :class:`callbacks.Refusal` (code ``unknown``) when there is no such
    entry, or whatever refusal ``change`` raises; nothing is written then.
    """
    async with conn.transaction():
        entry = await load(conn, key, lock=True)
        if entry is None:
            raise cb.Refusal("unknown", f"key: no callback {key!r}")
        changed = change(entry)
        if changed != entry:
            await save(conn, changed, policy)
        return changed


# -- from the call records ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingRules:
    """What the hook needs of the configuration when a final call record is written."""

    policy: cb.CallbackPolicy
    closed_routes: frozenset[str]
    call_started_notice: bool = False


def listing_rules(config: Config) -> ListingRules:
    """The rules of ``config``: its callback policy and the routes taken when closed."""
    closed = {r.closed_route for r in config.routing.routes.values() if r.closed_route}
    return ListingRules(
        config.callback_policy(), frozenset(closed), config.outbound.call_started_notice
    )


def _facts(
    call: dict[str, Any], overflow_reason: str | None, closed: frozenset[str]
) -> cb.CallFacts:
    queued, ended = call.get("queued_at"), call.get("ended_at")
    waited = (ended - queued).total_seconds() if queued and ended else None
    return cb.CallFacts(
        outcome=call.get("outcome"),
        answered=call.get("answered_at") is not None,
        waited_s=waited,
        closed=call.get("route") in closed,
        overflow_reason=overflow_reason,
    )


# How a call out that worked a callback entry ended, as the attempt's outcome.
_ATTEMPT_OUTCOMES = {
    "answered": cb.Outcome.REACHED,
    "busy": cb.Outcome.BUSY,
    "no_answer": cb.Outcome.NO_ANSWER,
    "unreachable": cb.Outcome.NO_ANSWER,
    "failed": cb.Outcome.NO_ANSWER,
}


async def callback_call_ended(
    conn: asyncpg.Connection, key: str, call: dict[str, Any], policy: cb.CallbackPolicy
) -> None:
    """A call out that worked the entry ``key`` ended: its attempt's outcome, as detected.

    Reached, busy and no answer come from the dial; a call that never rang
    the citizen (the agent did not answer their seat, or hung up first)
    drops its attempt.  An outcome the agent already recorded stands.
    """
    call_id = str(call["call_id"])
    outcome = _ATTEMPT_OUTCOMES.get(str(call.get("outcome") or ""))
    async with conn.transaction():
        entry = await load(conn, key, lock=True)
        if entry is None or entry.status is not cb.Status.DIALLING:
            return
        if entry.attempts[-1].call_id != call_id:
            return
        now = call.get("ended_at") or call["arrived_at"]
        if outcome is None:
            changed = cb.drop_attempt(entry, call_id)
        else:
            changed = cb.record_outcome(entry, outcome, now, policy)
        await save(conn, changed, policy)
    log.info("callback_attempt", key=key.replace(entry.number, mask_number(entry.number)),
             outcome=outcome.value if outcome else "dropped", call_id=call_id)  # fmt: skip


async def record_final_call(
    conn: asyncpg.Connection, call: dict[str, Any], rules: ListingRules
) -> None:
    """A call's final record was written: list a missed call, or clear a citizen who got through.

    A call out (tag ``direction: outbound``) is neither: one that worked a
    callback entry (tag ``callback``) writes that entry's attempt.
    """
    tags = call.get("tags") or {}
    if isinstance(tags, dict) and tags.get("direction") == "outbound":
        key = tags.get("callback")
        if isinstance(key, str) and key:
            await callback_call_ended(conn, key, call, rules.policy)
        return
    number = str(call.get("caller_number") or "")
    if not number or not set(number) <= _NUMBER_CHARS:
        return  # an anonymous or withheld caller cannot be called back
    reason_row = await conn.fetchval(
        "SELECT detail->>'reason' FROM call_events WHERE call_id = $1 AND kind = 'overflow'"
        " ORDER BY id DESC LIMIT 1",
        call["call_id"],
    )
    facts = _facts(call, reason_row, rules.closed_routes)
    now = call.get("ended_at") or call["arrived_at"]
    if cb.spoke_to_someone(facts):
        current = await open_entry(conn, number)
        if current is not None:
            cleared = cb.got_through(current, call["call_id"], now)
            await save(conn, cleared, rules.policy)
            log.info("callback_cleared", key=cleared.key.replace(number, mask_number(number)))
        return
    reason = cb.missed_reason(facts, rules.policy)
    if reason is None:
        return
    miss = cb.Miss(call["call_id"], call["arrived_at"], call.get("dialled") or "", reason,
                   call.get("queue"))  # fmt: skip
    current = await open_entry(conn, number)
    changed = [e for e in cb.apply_miss(current, number, miss, rules.policy) if e != current]
    if not changed:
        return  # the same record written again
    for item in changed:
        await save(conn, item, rules.policy)
    log.info("callback_listed", caller=mask_number(number), reason=reason.value,
             call_id=call["call_id"])  # fmt: skip


def call_final_follower(
    rules: Callable[[], ListingRules],
) -> Callable[[asyncpg.Connection, dict[str, Any]], Any]:
    """The writer follower for ``call_final`` ops (see :meth:`cti.writer.BufferedWriter.follow`)."""

    async def follow(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
        call = payload.get("call")
        if isinstance(call, dict) and call.get("ended_at") is not None:
            await record_final_call(conn, call, rules())

    return follow


def call_follower(
    rules: Callable[[], ListingRules],
) -> tuple[Callable[[asyncpg.Connection, dict[str, Any]], Any], Callable[[dict[str, Any]], bool]]:
    """The writer follower for ``call`` ops (the optional "call started" notice), and its test.

    When ``outbound.yaml`` ``call_started_notice`` is on, the first snapshot
    of a call with an agent who answered puts a notice in the outbox (once per
    call), so a backend can open the ticket itself while the agent talks.
    """

    def wanted(call: dict[str, Any]) -> bool:
        return (
            call.get("answered_at") is not None
            and call.get("ended_at") is None
            and rules().call_started_notice
        )

    async def follow(conn: asyncpg.Connection, call: dict[str, Any]) -> None:
        await enqueue_call_started_in(
            conn,
            call["call_id"],
            CallStarted.model_validate(
                {
                    "call_id": call["call_id"],
                    "caller": {"number": call.get("caller_number") or ""},
                    "dialled": call.get("dialled") or "",
                    "line": call.get("original_number") or call.get("dialled") or "",
                    "department": call.get("department"),
                    "queue": call.get("queue"),
                    "agent": call.get("first_agent"),
                    "answered_at": call["answered_at"],
                }
            ).body(),
        )

    return follow, wanted


# -- reading ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryFilter:
    status: Sequence[str] | None = None
    queue: str | None = None
    claimed_by: str | None = None
    day: dt.date | None = None
    due_only: bool = False
    limit: int = 100


async def listing(conn: asyncpg.Connection, where: EntryFilter, now: dt.datetime) -> list[cb.Entry]:
    """Entries matching ``where``, the nearest deadline first."""
    clauses: list[str] = []
    args: list[Any] = []
    if where.status:
        args.append(list(where.status))
        clauses.append(f"status = ANY(${len(args)})")
    if where.queue:
        args.append(where.queue)
        clauses.append(f"queue = ${len(args)}")
    if where.claimed_by:
        args.append(where.claimed_by)
        clauses.append(f"claimed_by = ${len(args)}")
    if where.day:
        args.append(where.day)
        clauses.append(f"day = ${len(args)}")
    if where.due_only:
        args.append(now)
        clauses.append(f"status = 'pending' AND next_try_at <= ${len(args)}")
    sql = f"SELECT {_ENTRY_COLUMNS} FROM callback_entries"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    args.append(where.limit)
    sql += f" ORDER BY deadline_at, first_missed_at, key LIMIT ${len(args)}"
    rows = await conn.fetch(sql, *args)
    attempts = await _attempts(conn, [r["key"] for r in rows])
    return [entry_of(r, attempts.get(r["key"], [])) for r in rows]


async def figures(
    conn: asyncpg.Connection, policy: cb.CallbackPolicy, now: dt.datetime
) -> cb.Figures:
    """The day's figures over the open entries and those of today and yesterday."""
    today = policy.local_day(now)
    rows = await conn.fetch(
        f"SELECT {_ENTRY_COLUMNS} FROM callback_entries"
        " WHERE status IN ('pending', 'claimed', 'dialling') OR day >= $1 OR closed_at >= $2",
        today,
        now - dt.timedelta(days=1),
    )
    attempts = await _attempts(conn, [r["key"] for r in rows])
    return cb.figures([entry_of(r, attempts.get(r["key"], [])) for r in rows], policy, now)


async def day_figures(db: Database, config: Config, now: dt.datetime) -> cb.Figures:
    """:func:`figures` on a pooled connection, with the policy of ``config``."""
    async with db.connection() as conn:
        return await figures(conn, config.callback_policy(), now)
