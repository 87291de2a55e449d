"""The outbox writer: tickets into ``ticket_outbox``, and the administrator's view of it.

The ticket is written in the same transaction as the call's final record, so
a call is never recorded without its ticket, nor a ticket sent for a call
that was not recorded.  Either call :meth:`TicketOutbox.finalize_call`, or
write the call record yourself and enqueue in the same transaction::

    async with db.connection() as conn:
        async with conn.transaction():
            await conn.execute("UPDATE calls SET ... WHERE call_id = $1", call_id)
            await outbox.enqueue_in(conn, ticket)

Each write also sends a PostgreSQL ``NOTIFY`` on :data:`NOTIFY_CHANNEL`;
PostgreSQL delivers it at commit only, which wakes every listening sender
at once, and never for a row that was rolled back.

There is one create per call id: enqueueing the same call again returns the
existing row's id and changes nothing, so an engine that repeats its last
step after a restart cannot make a second ticket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from cti.errors import StoreError
from cti.store import Database
from cti.store.calls import CALL_COLUMNS as ALL_CALL_COLUMNS
from cti.tickets import rows
from cti.tickets.errors import TicketError, TicketNotFound, TicketStateError
from cti.tickets.model import Rating, RatingUpdate, Ticket
from cti.tickets.policy import RowStatus, Verdict, next_status

log = structlog.get_logger("cti.tickets")


# The columns of ``calls`` that finalize_call may write.
CALL_COLUMNS = frozenset(ALL_CALL_COLUMNS)


@asynccontextmanager
async def _translated(what: str) -> AsyncIterator[None]:
    try:
        yield
    except rows.DB_ERRORS as exc:
        raise StoreError(f"{what}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Figures for the wallboard and ``/metrics``."""

    pending: int
    rejected: int
    oldest_pending_age_s: float | None


def call_record_from_ticket(ticket: Ticket) -> dict[str, Any]:
    """The ``calls`` columns a ticket already knows."""
    merged = ticket.merged_line
    agents = ticket.agents
    record: dict[str, Any] = {
        "call_id": ticket.call_id,
        "caller_number": ticket.caller.number,
        "caller_name": ticket.caller.name,
        "dialled": ticket.dialled,
        "original_number": merged.original_number if merged else None,
        "department": merged.department if merged else None,
        "line_name": merged.line_name if merged else None,
        "menu_path": [step.model_dump(mode="json") for step in ticket.menu_path],
        "tags": dict(ticket.tags),
        "queue": ticket.queue,
        "first_agent": agents.first_contact,
        "last_agent": agents.others[-1] if agents.others else agents.first_contact,
        "arrived_at": ticket.times.arrived_at,
        "queued_at": ticket.times.queued_at,
        "answered_at": ticket.times.answered_at,
        "ended_at": ticket.times.ended_at,
        "hangup_by": ticket.hangup_by,
        "end_reason": ticket.end_reason,
        "recording_ref": ticket.recording_url,
    }
    if ticket.rating is not None:
        record["rating"] = ticket.rating.level
        record["rating_label"] = ticket.rating.label
        record["rated_at"] = ticket.rating.rated_at
    return record


async def enqueue_ticket_in(conn: asyncpg.Connection, ticket: Ticket) -> int:
    """Write ``ticket`` to the outbox on ``conn``, inside the caller's transaction.

    Returns the row id; a call that already has its create row keeps it, and
    its id is returned.
    """
    async with _translated("cannot enqueue the ticket"):
        outbox_id = await conn.fetchval(
            "INSERT INTO ticket_outbox (call_id, kind, payload, idempotency_key)"
            " VALUES ($1, 'create', $2, $1)"
            " ON CONFLICT (call_id) WHERE kind = 'create' DO NOTHING RETURNING id",
            ticket.call_id,
            ticket.body(),
        )
        if outbox_id is None:
            existing: int = await conn.fetchval(
                "SELECT id FROM ticket_outbox WHERE call_id = $1 AND kind = 'create'",
                ticket.call_id,
            )
            log.info("ticket_already_enqueued", call_id=ticket.call_id, outbox_id=existing)
            return existing
        await conn.execute("SELECT pg_notify($1, $2)", rows.NOTIFY_CHANNEL, str(outbox_id))
    return int(outbox_id)


async def enqueue_return_visit_in(
    conn: asyncpg.Connection, ticket_id: str, attempt: int | str, payload: dict[str, Any]
) -> int:
    """A return visit's result into the outbox, in the caller's transaction; exactly once.

    The row's call id is ``return-visit:<ticket id>`` (so a visit's results
    reach the backend in order) and its key ``return-visit:<ticket id>:<attempt>``
    (``expired`` for the notice that the window closed): recording the same
    attempt again returns the existing row's id.
    """
    key = f"return-visit:{ticket_id}:{attempt}"
    async with _translated("cannot enqueue the return visit result"):
        outbox_id = await conn.fetchval(
            "INSERT INTO ticket_outbox (call_id, kind, payload, idempotency_key)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            f"return-visit:{ticket_id}",
            rows.RETURN_VISIT,
            payload,
            key,
        )
        if outbox_id is None:
            existing: int = await conn.fetchval(
                "SELECT id FROM ticket_outbox WHERE idempotency_key = $1", key
            )
            return existing
        await conn.execute("SELECT pg_notify($1, $2)", rows.NOTIFY_CHANNEL, str(outbox_id))
    return int(outbox_id)


async def enqueue_call_started_in(
    conn: asyncpg.Connection, call_id: str, payload: dict[str, Any]
) -> int | None:
    """The "call started" notice of ``call_id``, once (None when it was enqueued before).

    Its row's call id is ``call-started:<call id>``, apart from the call's
    ticket, so a backend that refuses notices never holds up the tickets.
    """
    async with _translated("cannot enqueue the call-started notice"):
        outbox_id: int | None = await conn.fetchval(
            "INSERT INTO ticket_outbox (call_id, kind, payload, idempotency_key)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            f"call-started:{call_id}",
            rows.CALL_STARTED,
            payload,
            f"{call_id}:started",
        )
        if outbox_id is not None:
            await conn.execute("SELECT pg_notify($1, $2)", rows.NOTIFY_CHANNEL, str(outbox_id))
    return outbox_id


async def park_invalid_in(
    conn: asyncpg.Connection, call_id: str, record: dict[str, Any], error: str
) -> int | None:
    """Keep a ticket that did not validate as a ``rejected`` create row, for an administrator.

    ``record`` is stored as it came; :meth:`TicketOutbox.resend` with a
    corrected :class:`Ticket` sends it.  Returns the row id, or None if the call
    already has a create row.
    """
    async with _translated("cannot park the invalid ticket"):
        outbox_id: int | None = await conn.fetchval(
            "INSERT INTO ticket_outbox (call_id, kind, payload, idempotency_key, status,"
            " rejected_at, last_error) VALUES ($1, 'create', $2, $1, 'rejected', now(), $3)"
            " ON CONFLICT (call_id) WHERE kind = 'create' DO NOTHING RETURNING id",
            call_id,
            record,
            error,
        )
    return outbox_id


class TicketOutbox:
    """Writes tickets and rating updates to the outbox; lists, re-sends and counts rows.

    Every method raises :class:`cti.errors.StoreError` when the database
    cannot be reached.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"<TicketOutbox {self._db!r}>"

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with rows.connection(self._db) as conn:
            result: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return result

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with rows.connection(self._db) as conn:
            return await conn.fetchrow(sql, *args)

    # -- writing ---------------------------------------------------------------

    async def enqueue_in(self, conn: asyncpg.Connection, ticket: Ticket) -> int:
        """Write ``ticket`` on ``conn``, inside the caller's transaction; return the row id.

        The caller commits; until then nothing is visible or sent.
        """
        return await enqueue_ticket_in(conn, ticket)

    async def enqueue(self, ticket: Ticket) -> int:
        """Write ``ticket`` in a transaction of its own; return the row id."""
        async with rows.connection(self._db) as conn, conn.transaction():
            return await self.enqueue_in(conn, ticket)

    async def finalize_call(self, ticket: Ticket, call: Mapping[str, Any] | None = None) -> int:
        """Write the call's final record and its ticket in one transaction; return the row id.

        The ``calls`` row is inserted or updated from what the ticket knows
        (:func:`call_record_from_ticket`), overridden by ``call`` (column ->
        value, e.g. ``{"outcome": "answered", "route": "queue"}``).
        """
        record = call_record_from_ticket(ticket)
        record.update(call or {})
        unknown = set(record) - CALL_COLUMNS
        if unknown:
            raise TicketError(f"not columns of calls: {sorted(unknown)}")
        if record["call_id"] != ticket.call_id:
            raise TicketError("the call record and the ticket name different calls")
        # Identifiers come from CALL_COLUMNS only, never from input.
        names = sorted(record)
        placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
        updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n != "call_id")
        sql = (
            f"INSERT INTO calls ({', '.join(names)}) VALUES ({placeholders})"
            f" ON CONFLICT (call_id) DO UPDATE SET {updates}, updated_at = now()"
        )
        async with rows.connection(self._db) as conn, conn.transaction():
            async with _translated("cannot write the call record"):
                await conn.execute(sql, *(record[n] for n in names))
            return await self.enqueue_in(conn, ticket)

    async def enqueue_rating_update_in(
        self, conn: asyncpg.Connection, call_id: str, rating: Rating
    ) -> int:
        """Queue ``rating`` as an update of the call's ticket, in the caller's transaction.

        The update is posted after the create, to the backend ticket the create
        produced, with ``Idempotency-Key: <call id>:rating``.  A call has one
        rating: a second update for the same call returns the first row's id.
        Raises :class:`TicketNotFound` if the call has no ticket in the outbox.
        """
        update = RatingUpdate(call_id=call_id, rating=rating)
        key = f"{call_id}:rating"
        async with _translated("cannot enqueue the rating update"):
            has_create = await conn.fetchval(
                "SELECT 1 FROM ticket_outbox WHERE call_id = $1 AND kind = 'create'", call_id
            )
            if has_create is None:
                raise TicketNotFound(call_id=call_id)
            outbox_id = await conn.fetchval(
                "INSERT INTO ticket_outbox (call_id, kind, payload, idempotency_key)"
                " VALUES ($1, 'update', $2, $3)"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                call_id,
                update.body(),
                key,
            )
            if outbox_id is None:
                existing: int = await conn.fetchval(
                    "SELECT id FROM ticket_outbox WHERE idempotency_key = $1", key
                )
                log.info("ticket_rating_already_enqueued", call_id=call_id, outbox_id=existing)
                return existing
            await conn.execute("SELECT pg_notify($1, $2)", rows.NOTIFY_CHANNEL, str(outbox_id))
        return int(outbox_id)

    async def enqueue_rating_update(self, call_id: str, rating: Rating) -> int:
        """:meth:`enqueue_rating_update_in` in a transaction of its own."""
        async with rows.connection(self._db) as conn, conn.transaction():
            return await self.enqueue_rating_update_in(conn, call_id, rating)

    # -- reading ---------------------------------------------------------------

    async def get(self, outbox_id: int) -> rows.OutboxRow:
        record = await self._fetchrow(f"{rows.SELECT_ROWS} WHERE id = $1", outbox_id)
        if record is None:
            raise TicketNotFound(outbox_id=outbox_id)
        return rows.row_from_record(record)

    async def rows_for_call(self, call_id: str) -> list[rows.OutboxRow]:
        """The call's rows in the order they are delivered."""
        records = await self._fetch(f"{rows.SELECT_ROWS} WHERE call_id = $1 ORDER BY id", call_id)
        return [rows.row_from_record(r) for r in records]

    async def list_rejected(self, limit: int = 100) -> list[rows.OutboxRow]:
        """Rows the backend refused (4xx), oldest first, with its status and body."""
        records = await self._fetch(
            f"{rows.SELECT_ROWS} WHERE status = 'rejected' ORDER BY rejected_at, id LIMIT $1",
            limit,
        )
        return [rows.row_from_record(r) for r in records]

    async def depth(self) -> int:
        """Rows not yet delivered nor rejected."""
        return (await self.stats()).pending

    async def oldest_age_s(self) -> float | None:
        """Age in seconds of the oldest row not yet delivered nor rejected; None if none."""
        return (await self.stats()).oldest_pending_age_s

    async def stats(self) -> OutboxStats:
        """Pending and rejected counts and the oldest pending age, in one indexed query."""
        record = await self._fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,"
            " count(*) FILTER (WHERE status = 'rejected') AS rejected,"
            " extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))"
            "::float8 AS oldest"
            " FROM ticket_outbox WHERE status IN ('pending', 'rejected')"
        )
        assert record is not None
        oldest = record["oldest"]
        return OutboxStats(
            pending=record["pending"],
            rejected=record["rejected"],
            oldest_pending_age_s=None if oldest is None else max(0.0, float(oldest)),
        )

    # -- administration --------------------------------------------------------

    async def resend(
        self,
        outbox_id: int,
        *,
        by: str,
        role: str = "admin",
        payload: Ticket | RatingUpdate | None = None,
    ) -> rows.OutboxRow:
        """Make a rejected row pending again, optionally with a corrected payload.

        The row keeps its Idempotency-Key.  The action is written to the audit
        log (``ticket_resend``).  Raises :class:`TicketNotFound` or
        :class:`TicketStateError` (the row is not rejected).
        """
        async with (
            rows.connection(self._db) as conn,
            conn.transaction(),
            _translated("cannot re-send the ticket"),
        ):
            record = await conn.fetchrow(
                "SELECT call_id, kind, status, response_status FROM ticket_outbox"
                " WHERE id = $1 FOR UPDATE",
                outbox_id,
            )
            if record is None:
                raise TicketNotFound(outbox_id=outbox_id)
            next_status(outbox_id, RowStatus(record["status"]), Verdict.RESEND)
            body = None
            if payload is not None:
                expected = Ticket if record["kind"] == rows.CREATE else RatingUpdate
                if not isinstance(payload, expected) or payload.call_id != record["call_id"]:
                    raise TicketStateError(
                        outbox_id, record["status"], "the new payload does not fit the row"
                    )
                body = payload.body()
            await conn.execute(
                "UPDATE ticket_outbox SET status = 'pending', attempts = 0,"
                " next_attempt_at = now(), rejected_at = NULL, last_error = NULL,"
                " response_status = NULL, response_body = NULL,"
                " payload = COALESCE($2, payload), updated_at = now() WHERE id = $1",
                outbox_id,
                body,
            )
            await conn.execute("SELECT pg_notify($1, $2)", rows.NOTIFY_CHANNEL, str(outbox_id))
        async with _translated("cannot write the audit row"):
            await self._db.audit(
                by,
                role,
                "ticket_resend",
                f"ticket_outbox:{outbox_id}",
                detail={
                    "call_id": record["call_id"],
                    "kind": record["kind"],
                    "rejected_with": record["response_status"],
                    "payload_replaced": payload is not None,
                },
            )
        log.info(
            "ticket_resend",
            outbox_id=outbox_id,
            call_id=record["call_id"],
            by=by,
            payload_replaced=payload is not None,
        )
        return await self.get(outbox_id)
