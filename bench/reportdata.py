"""Generated call records for the reports: a seeded month in Python, or millions in SQL.

:func:`month` draws a month of calls (queues, lines, departments, agents,
outcomes, waits, ratings), the matching agent state changes, the callback
list (漏接回拨: one entry per number per local day, listed by the engine's own
rules and worked to an outcome by the pure :mod:`callbacks` package) and
transfer / emergency events from ``random.Random(seed)``: the same seed gives
the same records.  :func:`store` writes them through the engine's own tables
(the callback list through :mod:`cti.store.callbacks`).  :func:`fill_sql` makes ``n`` calls spread over a year
with ``generate_series`` inside PostgreSQL (seconds for millions), for
``hotline bench report``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import callbacks as cb
from cti.store import callbacks as callback_store
from cti.store.db import Database

QUEUES = ("general", "desk_12315", "desk_12333", "english")
LINES = (
    ("12345", None),
    ("12345", None),
    ("12345", None),
    ("85098110", "市文化广电和旅游局"),
    ("12315", "市市场监督管理局"),
)
AGENTS = tuple(f"10{n:02d}" for n in range(3, 13))
OUTCOMES = ("answered",) * 14 + ("abandoned",) * 3 + ("overflowed", "voicemail", "callback")
# What became of a listed number: still open, called back after so many hours,
# three unanswered attempts, or the citizen got through on their own.
FATES: tuple[float | str | None, ...] = (None, 2.0, 20.0, 20.0, 30.0, "failed", "cleared")


@dataclass
class Month:
    calls: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[cb.Entry] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    policy: cb.CallbackPolicy = field(default_factory=cb.CallbackPolicy)


def month(seed: int, first: dt.date, days: int, per_day: int, zone: dt.tzinfo) -> Month:
    """``days`` days from ``first`` of ``per_day`` calls each, 08:00-20:00 local time."""
    rnd = random.Random(seed)
    out = Month(policy=cb.CallbackPolicy(timezone=str(zone)))
    listed: dict[str, cb.Entry] = {}
    n = 0
    for d in range(days):
        day = first + dt.timedelta(days=d)
        opening = dt.datetime.combine(day, dt.time(8), tzinfo=zone)
        free_at = {a: opening for a in AGENTS}
        for a in AGENTS:
            out.changes.append(_change(a, opening, "ready", "idle"))
        starts = sorted(rnd.uniform(0, 12 * 3600) for _ in range(per_day))
        for index, offset in enumerate(starts):
            n += 1
            arrived = opening + dt.timedelta(seconds=offset)
            dialled, department = rnd.choice(LINES)
            queued = arrived + dt.timedelta(seconds=rnd.choice((0, 0, 3, 8)))
            row: dict[str, Any] = {
                "call_id": f"g-{seed}-{n:06d}",
                "caller_number": f"139{rnd.randrange(10**8):08d}",
                "dialled": dialled,
                "department": department,
                "original_number": dialled if department else None,
                "line_name": department,
                "queue": rnd.choice(QUEUES),
                "arrived_at": arrived,
                "queued_at": None if rnd.random() < 0.05 else queued,
                "answered_at": None,
                "ended_at": None,
                "outcome": None,
                "first_agent": None,
                "rating": None,
                "hangup_by": "caller",
                "tags": {"kind": "inbound"},
            }
            if row["queued_at"] is None:  # left in the menu, or a withdrawn line
                row.update(ended_at=arrived + dt.timedelta(seconds=20), outcome="withdrawn")
                out.calls.append(row)
                continue
            outcome = rnd.choice(OUTCOMES)
            wait = rnd.choice((1.0, 2.5, 4.0, 9.0, 14.0, 15.0, 16.0, 30.0, 75.0))
            if d == days - 1 and index >= per_day - 3:
                outcome = "waiting"  # still in the queue when the records were read
            if outcome == "answered":
                free = [a for a in AGENTS if free_at[a] <= queued + dt.timedelta(seconds=wait)]
                if not free:
                    outcome = "abandoned"
                else:
                    agent = rnd.choice(free)
                    answered = queued + dt.timedelta(seconds=wait)
                    talk = rnd.uniform(40, 400)
                    wrap = rnd.choice((0.0, 10.0, 15.0))
                    hung = answered + dt.timedelta(seconds=talk)
                    rating = rnd.choice((1, 1, 1, 2, 2, 3, 4, 5, None))
                    ended = hung + dt.timedelta(seconds=8 if rating else 12)
                    row.update(
                        answered_at=answered,
                        ended_at=ended,
                        outcome="answered",
                        first_agent=agent,
                        rating=rating,
                    )
                    out.changes += [
                        _change(agent, answered - dt.timedelta(seconds=1), "ready", "ringing"),
                        _change(agent, answered, "ready", "on_call"),
                        _change(agent, hung, "ready", "wrapup"),
                        _change(agent, hung + dt.timedelta(seconds=wrap), "ready", "idle"),
                    ]
                    free_at[agent] = hung + dt.timedelta(seconds=wrap + 1)
                    if rnd.random() < 0.08:
                        out.events.append(_transfer(rnd, row["call_id"], answered))
                    if rnd.random() < 0.01:
                        out.events.append(_emergency(row["call_id"], answered))
            if outcome == "waiting":
                row["outcome"] = None
            elif outcome != "answered":
                row.update(ended_at=queued + dt.timedelta(seconds=wait), outcome=outcome)
                facts = cb.CallFacts(outcome, answered=False, waited_s=wait)
                reason = cb.missed_reason(facts, out.policy)
                if reason is not None:
                    miss = cb.Miss(row["call_id"], arrived, dialled, reason, row["queue"])
                    number = row["caller_number"]
                    key = cb.entry_key(number, out.policy.local_day(arrived))
                    known = listed.get(key)
                    listed[key] = (
                        cb.opened(number, miss, out.policy)
                        if known is None
                        else cb.add_miss(known, miss)
                    )
            out.calls.append(row)
        closing = opening + dt.timedelta(hours=12, minutes=30)
        for a in AGENTS:
            out.changes.append(_change(a, max(closing, free_at[a]), "logged_out", "offline"))
    out.changes.sort(key=lambda c: (c["at"], c["agent_id"]))
    out.callbacks = [_worked(rnd, entry, out.policy) for entry in listed.values()]
    return out


def _worked(rnd: random.Random, entry: cb.Entry, policy: cb.CallbackPolicy) -> cb.Entry:
    """The entry after what :data:`FATES` draws for it, through the pure package's moves."""
    fate = rnd.choice(FATES)
    agent = rnd.choice(AGENTS)
    start = entry.first_missed_at
    if fate is None:
        return entry
    if fate == "cleared":
        return cb.got_through(
            entry, f"{entry.misses[-1].call_id}-again", start + dt.timedelta(hours=1)
        )
    if fate == "failed":
        for hour in range(1, policy.attempts + 1):
            at = start + dt.timedelta(hours=hour)
            entry = cb.record_outcome(cb.claim(entry, agent, at), cb.Outcome.NO_ANSWER, at, policy)
        return entry
    assert isinstance(fate, float)
    at = start + dt.timedelta(hours=fate)
    return cb.record_outcome(cb.claim(entry, agent, at), cb.Outcome.REACHED, at, policy)


def _change(agent: str, at: dt.datetime, status: str, state: str) -> dict[str, Any]:
    return {"agent_id": agent, "at": at, "status": status, "state": state}


def _transfer(rnd: random.Random, call_id: str, at: dt.datetime) -> dict[str, Any]:
    target, label, kind = rnd.choice(
        (("12319", "城建热线", "parallel"), ("desk_12315", "12315专席", "queue"))
    )
    mode = rnd.choice(("blind", "attended", "three_way"))
    detail = {"target": target, "label": label, "target_kind": kind, "mode": mode, "leg": 1}
    return {"call_id": call_id, "at": at + dt.timedelta(seconds=30), "kind": "transfer_started",
            "detail": detail}  # fmt: skip


def _emergency(call_id: str, at: dt.datetime) -> dict[str, Any]:
    detail = {"number": "110", "mode": "blind"}
    return {"call_id": call_id, "at": at + dt.timedelta(seconds=20), "kind": "emergency",
            "detail": detail}  # fmt: skip


async def store(db: Database, data: Month) -> None:
    """Write the generated records into the engine's tables."""
    cols = ("call_id", "caller_number", "dialled", "department", "original_number", "line_name",
            "queue", "arrived_at", "queued_at", "answered_at", "ended_at", "outcome",
            "first_agent", "rating", "hangup_by", "tags")  # fmt: skip
    await db.executemany(
        f"INSERT INTO calls ({', '.join(cols)}) VALUES "
        f"({', '.join(f'${i + 1}' for i in range(len(cols)))})",
        [[row[c] for c in cols] for row in data.calls],
    )
    await db.executemany(
        "INSERT INTO agent_state_changes (agent_id, at, status, state) VALUES ($1, $2, $3, $4)",
        [[c["agent_id"], c["at"], c["status"], c["state"]] for c in data.changes],
    )
    async with db.connection() as conn, conn.transaction():
        for entry in data.callbacks:
            await callback_store.save(conn, entry, data.policy)
    await db.executemany(
        "INSERT INTO call_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
        [[e["call_id"], e["at"], e["kind"], e["detail"]] for e in data.events],
    )


_FILL = """
INSERT INTO calls (call_id, caller_number, dialled, department, queue, first_agent,
                   arrived_at, queued_at, answered_at, ended_at, outcome, rating, tags)
SELECT 'b-' || i,
       '139' || lpad((i % 100000000)::text, 8, '0'),
       CASE WHEN i % 10 = 0 THEN '85098110' ELSE '12345' END,
       CASE WHEN i % 10 = 0 THEN '市文化广电和旅游局' END,
       (ARRAY['general', 'general', 'desk_12315', 'desk_12333', 'english'])[1 + i % 5],
       CASE WHEN i % 7 <> 0 THEN (1003 + i % 40)::text END,
       t, t,
       CASE WHEN i % 7 <> 0 THEN t + make_interval(secs => i % 40) END,
       t + make_interval(secs => 60 + i % 400),
       CASE WHEN i % 7 <> 0 THEN 'answered' WHEN i % 14 = 0 THEN 'abandoned' ELSE 'callback' END,
       CASE WHEN i % 7 <> 0 AND i % 3 <> 0 THEN 1 + i % 5 END,
       '{"kind": "inbound"}'::jsonb
  FROM (SELECT i, $2::timestamptz + ((i - 1)::float8 / $1 * 365 * 86400) * interval '1 second' AS t
          FROM generate_series($3::bigint, $4::bigint) AS i) s
"""


async def fill_sql(dsn: str, n: int, year: int, zone: str, chunk: int = 500_000) -> None:
    """``n`` calls spread evenly over ``year`` (local time of ``zone``), made in SQL.

    Runs on its own connection, without the engine's statement deadline, in
    chunks of ``chunk`` calls; then vacuums so the reports can read the index alone.
    """
    import asyncpg

    start = dt.datetime(year, 1, 1, tzinfo=ZoneInfo(zone))
    conn = await asyncpg.connect(dsn)
    try:
        for first in range(1, n + 1, chunk):
            await conn.execute(_FILL, n, start, first, min(n, first + chunk - 1), timeout=None)
        await conn.execute("VACUUM ANALYZE calls", timeout=None)
    finally:
        await conn.close()
