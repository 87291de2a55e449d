"""The ``ticket_outbox`` rows as Python values, and the SQL the sender runs on them.

Claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED`` in a short transaction
that also moves ``next_attempt_at`` past a lease: the row lock keeps two
senders from claiming the same row at the same instant, and the lease keeps
them apart while the HTTP request is in flight (no transaction stays open
across network I/O).  A sender that dies leaves its rows to come due again
when the lease runs out.

A row is only claimable when every earlier row of the same call is
delivered, so a call's rows reach the backend in order: an update never
overtakes its create, and it is sent only once the backend's ticket id is
known.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cti.errors import StoreError
from cti.logs import mask_number
from cti.store import Database
from cti.tickets.policy import RowStatus

NOTIFY_CHANNEL = "hotline_ticket_outbox"
CREATE = "create"
UPDATE = "update"
RETURN_VISIT = "return_visit"
"""A return visit's result: ``POST {backend}/tickets/{ticket_id}/return-visits``."""
CALL_STARTED = "call_started"
"""An agent answered a call: ``POST {backend}/calls/{call_id}/started`` (optional)."""
RESPONSE_BODY_LIMIT = 4000

# What asyncpg raises when the server goes away.  InternalClientError is among
# them: a connection whose server shut down while it sat idle in the pool
# fails its next query (or the pool's reset) with "cannot switch to state".
DB_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


@asynccontextmanager
async def connection(db: Database) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; every failure of the database arrives as StoreError."""
    try:
        async with db.connection() as conn:
            yield conn
    except DB_ERRORS as exc:
        raise StoreError(f"database unavailable: {exc}") from exc


_COLUMNS = (
    "id, call_id, kind, idempotency_key, payload, status, attempts, next_attempt_at,"
    " last_error, response_status, response_body, backend_ticket_id, created_at,"
    " delivered_at, rejected_at, claimed_by"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as an administrator sees it.

    ``payload`` is the body as sent, with the caller's number in full: mask it
    before showing it to a role that may not see numbers.
    """

    id: int
    call_id: str
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    status: RowStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None
    response_body: str | None
    backend_ticket_id: str | None
    created_at: datetime
    delivered_at: datetime | None
    rejected_at: datetime | None
    claimed_by: str | None

    def __repr__(self) -> str:
        return f"<OutboxRow {self.id} {self.kind} call={self.call_id} {self.status}>"

    @property
    def caller_masked(self) -> str:
        caller = self.payload.get("caller")
        number = caller.get("number") if isinstance(caller, dict) else None
        return mask_number(number if isinstance(number, str) else None)


def row_from_record(record: asyncpg.Record | dict[str, Any]) -> OutboxRow:
    values = dict(record)
    values["status"] = RowStatus(values["status"])
    return OutboxRow(**values)


SELECT_ROWS = f"SELECT {_COLUMNS} FROM ticket_outbox"


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this sender holds a lease on, with what it needs to post it."""

    outbox_id: int
    call_id: str
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    attempts: int
    token: uuid.UUID
    ticket_id: str | None  # the backend ticket of the call's create, once delivered

    def __repr__(self) -> str:
        return f"<Claim {self.outbox_id} {self.kind} call={self.call_id} try={self.attempts}>"

    @property
    def caller_masked(self) -> str:
        caller = self.payload.get("caller")
        number = caller.get("number") if isinstance(caller, dict) else None
        return mask_number(number if isinstance(number, str) else None)


# A row is eligible when it is pending, due, and no earlier row of its call
# is still undelivered (order per call).
_ELIGIBLE = """
    o.status = 'pending'
    AND NOT EXISTS (SELECT 1 FROM ticket_outbox e
                    WHERE e.call_id = o.call_id AND e.id < o.id AND e.status <> 'delivered')
"""

_CLAIM = f"""
WITH due AS (
    SELECT o.id FROM ticket_outbox o
    WHERE o.next_attempt_at <= now() AND {_ELIGIBLE} AND o.id <> ALL($5::bigint[])
    ORDER BY o.next_attempt_at, o.id
    LIMIT $1
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE ticket_outbox t
   SET attempts = t.attempts + 1,
       next_attempt_at = now() + make_interval(secs => $2),
       claimed_by = $3, claim_token = $4, claimed_at = now(), updated_at = now()
  FROM due
 WHERE t.id = due.id
RETURNING t.id, t.call_id, t.kind, t.idempotency_key, t.payload, t.attempts,
          (SELECT c.backend_ticket_id FROM ticket_outbox c
            WHERE c.call_id = t.call_id AND c.kind = 'create') AS ticket_id
"""

# Walks the partial index on next_attempt_at and stops at the first eligible row.
_NEXT_DUE = f"""
SELECT extract(epoch FROM o.next_attempt_at - clock_timestamp())::float8 AS due_in
  FROM ticket_outbox o
 WHERE {_ELIGIBLE} AND o.id <> ALL($1::bigint[])
 ORDER BY o.next_attempt_at
 LIMIT 1
"""


async def claim(
    conn: asyncpg.Connection,
    limit: int,
    lease_s: float,
    engine_id: str,
    held: Collection[int] = (),
) -> list[Claim]:
    """Lease up to ``limit`` due rows to ``engine_id``; the oldest due first.

    ``held``: rows the caller still works on.  A lease of its own that ran out
    (a stalled loop, a database that was away while the result waited to be
    written) is not taken again, so the caller never posts a row it is still
    settling."""
    token = uuid.uuid4()
    async with conn.transaction():
        records = await conn.fetch(_CLAIM, limit, lease_s, engine_id, token, list(held))
    claims = [
        Claim(
            outbox_id=r["id"],
            call_id=r["call_id"],
            kind=r["kind"],
            idempotency_key=r["idempotency_key"],
            payload=r["payload"],
            attempts=r["attempts"],
            token=token,
            ticket_id=r["ticket_id"],
        )
        for r in records
    ]
    claims.sort(key=lambda c: c.outbox_id)
    return claims


async def next_due_in(conn: asyncpg.Connection, held: Collection[int] = ()) -> float | None:
    """Seconds until the next eligible row not in ``held`` is due (<= 0: due now);
    None if none is pending."""
    value = await conn.fetchval(_NEXT_DUE, list(held))
    return None if value is None else float(value)


async def release_lapsed_claims(conn: asyncpg.Connection, engine_id: str) -> int:
    """Make rows leased by an earlier run of ``engine_id`` due now; return how many."""
    result: str = await conn.execute(
        "UPDATE ticket_outbox SET next_attempt_at = now(), claimed_by = NULL,"
        " claim_token = NULL, updated_at = now()"
        " WHERE status = 'pending' AND claimed_by = $1",
        engine_id,
    )
    return int(result.rsplit(" ", 1)[-1])


async def mark_delivered(
    conn: asyncpg.Connection,
    claim_: Claim,
    http_status: int,
    body: str,
    backend_ticket_id: str | None,
) -> bool:
    """Record a 2xx; for a create, store the backend ticket id on ``calls`` too.

    Returns False when the row was no longer pending (an administrator or
    another sender got there first); the delivery itself still happened.
    """
    async with conn.transaction():
        result: str = await conn.execute(
            "UPDATE ticket_outbox SET status = 'delivered', delivered_at = now(),"
            " response_status = $2, response_body = $3, backend_ticket_id = $4,"
            " last_error = NULL, claimed_by = NULL, claim_token = NULL, updated_at = now()"
            " WHERE id = $1 AND status = 'pending'",
            claim_.outbox_id,
            http_status,
            body[:RESPONSE_BODY_LIMIT],
            backend_ticket_id if claim_.kind == CREATE else claim_.ticket_id,
        )
        if claim_.kind == CREATE and backend_ticket_id is not None:
            await conn.execute(
                "UPDATE calls SET ticket_id = $2, updated_at = now() WHERE call_id = $1",
                claim_.call_id,
                backend_ticket_id,
            )
    return result.endswith(" 1")


async def mark_retry(
    conn: asyncpg.Connection,
    claim_: Claim,
    delay_s: float,
    error: str,
    http_status: int | None,
    body: str | None,
) -> bool:
    """Keep the row pending, due again in ``delay_s``; False if the lease was lost."""
    result: str = await conn.execute(
        "UPDATE ticket_outbox SET next_attempt_at = now() + make_interval(secs => $3),"
        " last_error = $4, response_status = $5, response_body = $6,"
        " claimed_by = NULL, claim_token = NULL, updated_at = now()"
        " WHERE id = $1 AND claim_token = $2 AND status = 'pending'",
        claim_.outbox_id,
        claim_.token,
        delay_s,
        error,
        http_status,
        None if body is None else body[:RESPONSE_BODY_LIMIT],
    )
    return result.endswith(" 1")


async def mark_rejected(
    conn: asyncpg.Connection, claim_: Claim, http_status: int | None, body: str, error: str
) -> bool:
    """Park the row for an administrator; False if the lease was lost."""
    result: str = await conn.execute(
        "UPDATE ticket_outbox SET status = 'rejected', rejected_at = now(),"
        " response_status = $3, response_body = $4, last_error = $5,"
        " claimed_by = NULL, claim_token = NULL, updated_at = now()"
        " WHERE id = $1 AND claim_token = $2 AND status = 'pending'",
        claim_.outbox_id,
        claim_.token,
        http_status,
        body[:RESPONSE_BODY_LIMIT],
        error,
    )
    return result.endswith(" 1")


async def release(conn: asyncpg.Connection, claim_: Claim) -> None:
    """Give a lease back unfinished: the row is due at once (for another sender)."""
    await conn.execute(
        "UPDATE ticket_outbox SET next_attempt_at = now(), claimed_by = NULL,"
        " claim_token = NULL, updated_at = now()"
        " WHERE id = $1 AND claim_token = $2 AND status = 'pending'",
        claim_.outbox_id,
        claim_.token,
    )
