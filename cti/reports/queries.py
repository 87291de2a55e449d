"""The SQL that reads call records and agent state changes back for the figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cti.store.db import Database

_CALL_ROWS = """
SELECT call_id, queue, first_agent, queued_at, answered_at, ended_at, outcome, rating
  FROM calls
 WHERE queued_at >= $1
 ORDER BY queued_at, call_id
"""

_AGENT_CHANGES = """
SELECT agent_id, at, status, state
  FROM agent_state_changes
 WHERE at >= $1
 ORDER BY at, id
"""


async def call_rows_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Calls queued at or after ``since``, oldest first (the fields :mod:`figures` reads)."""
    return await db.fetch(_CALL_ROWS, since)


async def agent_changes_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Agent state changes at or after ``since``, in the order they were written."""
    return await db.fetch(_AGENT_CHANGES, since)


# -- reports ------------------------------------------------------------------------
#
# Each count below is the SQL form of one field of figures.calls.contribution
# (a queued call; answered = answered_at set; in queue = neither answered nor
# ended; wait = answered_at or ended_at minus queued_at, at least 0).  The
# reports test checks the two agree on a generated month.

KEYS: dict[str, str] = {
    "queue": "coalesce(c.queue, '')",
    "hour": "to_char(c.queued_at AT TIME ZONE $3::text, 'YYYY-MM-DD HH24:00')",
    "day": "to_char(c.queued_at AT TIME ZONE $3::text, 'YYYY-MM-DD')",
    "skill": "coalesce(c.queue, '')",
    "agent": "coalesce(c.first_agent, '')",
    "line": "c.dialled",
    "department": "coalesce(c.department, '')",
    "kind": "coalesce(c.tags->>'kind', 'inbound')",
}

_WAIT = "greatest(0, extract(epoch FROM coalesce(c.answered_at, c.ended_at) - c.queued_at))::float8"
_SETTLED = "(c.answered_at IS NOT NULL OR c.ended_at IS NOT NULL)"
_UNANSWERED = "(c.answered_at IS NULL AND c.ended_at IS NOT NULL)"
_RATED = "(c.answered_at IS NOT NULL AND c.ended_at IS NOT NULL AND c.rating IS NOT NULL)"

_FIGURES = f"""
WITH r AS (SELECT * FROM unnest($4::text[], $5::float8[], $6::float8[]) AS r(queue, sl, sa))
SELECT {{key}} AS key,
       count(*) AS offered,
       count(*) FILTER (WHERE NOT {_SETTLED}) AS in_queue,
       count(c.answered_at) AS answered,
       count(*) FILTER (WHERE c.answered_at IS NOT NULL
                          AND {_WAIT} <= coalesce(r.sl, 15)) AS answered_within_sl,
       count(*) FILTER (WHERE {_UNANSWERED} AND c.outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE {_UNANSWERED} AND c.outcome = 'abandoned'
                          AND {_WAIT} < coalesce(r.sa, 5)) AS short_abandoned,
       count(*) FILTER (WHERE {_UNANSWERED} AND c.outcome = 'overflowed') AS overflowed,
       count(*) FILTER (WHERE {_UNANSWERED}
                          AND c.outcome IS DISTINCT FROM 'abandoned'
                          AND c.outcome IS DISTINCT FROM 'overflowed') AS unanswered_other,
       coalesce(sum({_WAIT}) FILTER (WHERE c.answered_at IS NOT NULL), 0) AS wait_answered_s,
       coalesce(sum({_WAIT}) FILTER (WHERE {_SETTLED}), 0) AS wait_all_s,
       coalesce(max({_WAIT}) FILTER (WHERE {_SETTLED}), 0) AS wait_max_s,
       count(*) FILTER (WHERE {_RATED}) AS rated,
       count(*) FILTER (WHERE {_RATED} AND c.rating IN (1, 2)) AS satisfied,
       count(*) FILTER (WHERE {_RATED} AND c.rating = 1) AS level_1,
       count(*) FILTER (WHERE {_RATED} AND c.rating = 2) AS level_2,
       count(*) FILTER (WHERE {_RATED} AND c.rating = 3) AS level_3,
       count(*) FILTER (WHERE {_RATED} AND c.rating = 4) AS level_4,
       count(*) FILTER (WHERE {_RATED} AND c.rating = 5) AS level_5
  FROM calls c LEFT JOIN r ON r.queue = c.queue
 WHERE c.queued_at >= $1 AND c.queued_at < $2 AND $3::text IS NOT NULL
 GROUP BY 1
 ORDER BY 1
"""

_HANDOFFS = """
SELECT e.kind,
       coalesce(e.detail->>'mode', 'blind') AS mode,
       coalesce(e.detail->>'target_kind', 'emergency') AS target_kind,
       coalesce(e.detail->>'target', e.detail->>'number', '') AS target,
       coalesce(e.detail->>'label', e.detail->>'number', '') AS label,
       count(*) AS n
  FROM call_events e
 WHERE e.at >= $1 AND e.at < $2 AND e.kind IN ('transfer_started', 'emergency')
 GROUP BY 1, 2, 3, 4, 5
 ORDER BY 6 DESC, 1, 4
"""

# Time between an agent's consecutive changes, cut to the period; the change in
# force at the period's start is the agent's last one before it ($3: the agents).
_AGENT_TIME = """
WITH base AS (
    SELECT id, agent_id, at, status, state
      FROM agent_state_changes
     WHERE at >= $1 AND at < $2
    UNION ALL
    SELECT l.id, l.agent_id, l.at, l.status, l.state
      FROM unnest($3::text[]) AS a(agent_id),
           LATERAL (SELECT id, agent_id, at, status, state
                      FROM agent_state_changes x
                     WHERE x.agent_id = a.agent_id AND x.at < $1
                     ORDER BY x.at DESC, x.id DESC
                     LIMIT 1) l
), s AS (
    SELECT agent_id, at, status, state,
           lag(state) OVER w AS before,
           lead(at) OVER w AS next_at
      FROM base
    WINDOW w AS (PARTITION BY agent_id ORDER BY at, id)
), d AS (
    SELECT agent_id, status, state, before, at,
           greatest(0, extract(epoch FROM least(coalesce(next_at, $2), $2) - greatest(at, $1)))::float8
               AS span
      FROM s
     WHERE coalesce(next_at, $2) > $1
)
SELECT agent_id,
       coalesce(sum(span) FILTER (WHERE state IN ('on_call', 'wrapup')), 0) AS busy_s,
       coalesce(sum(span) FILTER (WHERE state = 'wrapup'), 0) AS wrapup_s,
       coalesce(sum(span) FILTER (WHERE state NOT IN ('on_call', 'wrapup')
                                    AND status = 'ready' AND state IN ('idle', 'ringing')), 0)
           AS available_s,
       coalesce(sum(span) FILTER (WHERE state NOT IN ('on_call', 'wrapup')
                                    AND status = 'paused'), 0) AS paused_s,
       coalesce(sum(span) FILTER (WHERE status <> 'logged_out'), 0) AS logged_in_s,
       count(*) FILTER (WHERE state = 'on_call' AND at >= $1
                          AND before IS DISTINCT FROM 'on_call'
                          AND before IS DISTINCT FROM 'wrapup') AS handled
  FROM d
 GROUP BY agent_id
 ORDER BY agent_id
"""

# The callback list (漏接回拨, migration 0006): one entry per citizen number per
# local day, in the period of its first miss.  An entry the citizen cleared by
# getting through on their own needed no callback and is left out; done is
# reached, refused or wrong number; in time is done within $3 hours of the
# first miss (engine.yaml assessment.callback_deadline_hours).
_CALLBACKS = """
SELECT coalesce(queue, '') AS queue,
       count(*) AS requested,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'done'
                          AND closed_at <= first_missed_at + make_interval(hours => $3))
           AS done_in_time
  FROM callback_entries
 WHERE first_missed_at >= $1 AND first_missed_at < $2 AND status <> 'cleared'
 GROUP BY 1
"""


async def call_figures(
    db: Database,
    start: datetime,
    end: datetime,
    by: str,
    zone: str,
    rules: dict[str, tuple[float, float]],
) -> list[dict[str, Any]]:
    """Counts and sums of the calls queued in ``[start, end)``, grouped ``by`` (see KEYS).

    ``rules``: per queue, ``(service_level_s, short_abandon_s)``.
    """
    names = sorted(rules)
    return await db.fetch(
        _FIGURES.format(key=KEYS[by]),
        start,
        end,
        zone,
        names,
        [rules[n][0] for n in names],
        [rules[n][1] for n in names],
    )


async def handoffs(db: Database, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Transfers and three-way calls started, and emergency hand-offs, by target."""
    return await db.fetch(_HANDOFFS, start, end)


async def agent_time(
    db: Database, start: datetime, end: datetime, agents: list[str]
) -> list[dict[str, Any]]:
    """Per agent: busy, wrap-up, available, paused, logged-in seconds and calls handled.

    ``agents``: whose state before ``start`` carries into the period (the configured ones).
    """
    return await db.fetch(_AGENT_TIME, start, end, agents)


async def callbacks(
    db: Database, start: datetime, end: datetime, deadline_h: int
) -> list[dict[str, Any]]:
    """Per queue (of the latest miss): numbers on the callback list that needed a callback,
    those called back, and those called back within ``deadline_h`` hours of the first miss."""
    return await db.fetch(_CALLBACKS, start, end, deadline_h)
