"""The SQL behind each kind of durable write the call flows make.

Each handler takes a connection inside a transaction and a JSON-safe payload
(see :mod:`cti.writer`).  ``call`` upserts the whole row of ``calls``, so the
last snapshot written is the record; ``call_final`` writes that last snapshot
and, in the same transaction, whatever must not exist without it (the rating
row, the ticket in the outbox).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from cti.store.calls import CALL_COLUMNS
from cti.writer import BufferedWriter

_UPSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}, updated_at) VALUES ("
    + ", ".join(f"${i + 1}" for i in range(len(CALL_COLUMNS)))
    + ", now()) ON CONFLICT (call_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in CALL_COLUMNS[1:])
    + ", updated_at = now()"
)

TicketHook = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[None]]


async def upsert_call(conn: asyncpg.Connection, row: dict[str, Any]) -> None:
    await conn.execute(_UPSERT_CALL, *(row.get(c) for c in CALL_COLUMNS))


async def insert_call_event(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO call_events (call_id, at, kind, agent, detail) VALUES ($1, $2, $3, $4, $5)",
        payload["call_id"],
        payload["at"],
        payload["kind"],
        payload.get("agent"),
        payload.get("detail") or {},
    )


async def insert_agent_state(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO agent_state_changes (agent_id, at, status, state, reason)"
        " VALUES ($1, $2, $3, $4, $5)",
        payload["agent"],
        payload["at"],
        payload["status"],
        payload["state"],
        payload.get("reason"),
    )


async def agent_session(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    if payload["event"] == "login":
        await conn.execute(
            "UPDATE agent_sessions SET logout_at = $2, logout_reason = 'superseded'"
            " WHERE agent_id = $1 AND logout_at IS NULL",
            payload["agent"],
            payload["at"],
        )
        await conn.execute(
            "INSERT INTO agent_sessions (agent_id, seat, login_at) VALUES ($1, $2, $3)",
            payload["agent"],
            payload["seat"],
            payload["at"],
        )
    else:
        await conn.execute(
            "UPDATE agent_sessions SET logout_at = $2, logout_reason = $3"
            " WHERE agent_id = $1 AND logout_at IS NULL",
            payload["agent"],
            payload["at"],
            payload.get("reason"),
        )


async def upsert_rating(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO ratings (call_id, level, label, at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (call_id) DO UPDATE SET level = EXCLUDED.level, label = EXCLUDED.label,"
        " at = EXCLUDED.at",
        payload["call_id"],
        payload.get("level"),
        payload["label"],
        payload["at"],
    )


async def insert_callback(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO callbacks (call_id, caller_number, queue, requested_at, note)"
        " VALUES ($1, $2, $3, $4, $5)",
        payload["call_id"],
        payload["caller_number"],
        payload.get("queue"),
        payload["at"],
        payload.get("note"),
    )


async def insert_config_version(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO config_versions (sha256, loaded_at, requested_by, summary)"
        " VALUES ($1, $2, $3, $4)",
        payload["sha256"],
        payload["loaded_at"],
        payload["requested_by"],
        payload.get("summary", ""),
    )


async def insert_audit(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, role, action, target, allowed, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        payload["at"],
        payload["actor"],
        payload["role"],
        payload["action"],
        payload.get("target"),
        payload.get("allowed", True),
        payload.get("detail") or {},
    )


def register(writer: BufferedWriter, ticket_hook: TicketHook | None = None) -> None:
    """Register every write kind of the call flows on ``writer``.

    ``ticket_hook`` writes the ticket of a finished call into the outbox in
    the same transaction as the final record.
    """

    async def call_final(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
        await upsert_call(conn, payload["call"])
        if payload.get("rating") is not None:
            await upsert_rating(conn, payload["rating"])
        if payload.get("ticket") is not None and ticket_hook is not None:
            await ticket_hook(conn, payload["ticket"])

    writer.register("call", upsert_call)
    writer.register("call_final", call_final)
    writer.register("call_event", insert_call_event)
    writer.register("agent_state", insert_agent_state)
    writer.register("agent_session", agent_session)
    writer.register("rating", upsert_rating)
    writer.register("callback", insert_callback)
    writer.register("config_version", insert_config_version)
    writer.register("audit", insert_audit)
