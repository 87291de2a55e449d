"""From the engine's ticket record to the outbox, inside the final write of a call.

The engine hands a finished call's ticket to its buffered writer as a flat,
JSON-safe record (``Engine.ticket_for``); the writer's ``call_final`` handler
calls the hook below on the same connection and transaction as the call
record.  The hook turns the record into a :class:`Ticket` and enqueues it.

It must never break that transaction for a data problem: a record that does
not make a valid ticket is kept as a ``rejected`` outbox row, with the reason,
for an administrator to correct and re-send (:meth:`TicketOutbox.resend`).
Database failures are raised as :class:`cti.errors.StoreError`, which the
writer waits out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from cti.tickets.model import NUMBER_PATTERN, Ticket, TransferKind, TransferLeg, recording_url
from cti.tickets.outbox import enqueue_ticket_in, park_invalid_in

log = structlog.get_logger("cti.tickets")

OutboxHook = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[None]]
_TRANSFER_KINDS = {kind.value for kind in TransferKind}


def _number(value: Any) -> str:
    text = str(value or "").strip()
    return text if re.fullmatch(NUMBER_PATTERN, text) else ""


def _legs(call_id: str, legs: list[Any]) -> list[TransferLeg]:
    """The transfer legs; other legs (recording segments) are not part of the ticket."""
    found = []
    for leg in legs:
        if not isinstance(leg, Mapping) or leg.get("kind") not in _TRANSFER_KINDS:
            continue
        try:
            found.append(TransferLeg.model_validate(dict(leg)))
        except ValidationError as exc:
            # A leg the ticket cannot describe must not hold the ticket back.
            log.warning("ticket_leg_skipped", call_id=call_id, error=_summary(exc))
    return found


def ticket_from_engine(
    record: Mapping[str, Any], *, recording_base_url: str | None = None
) -> Ticket:
    """Build the ticket from the engine's flat record; raises ValidationError if it cannot.

    Keys read: call_id, kind, caller_number, caller_name, dialled,
    original_number, department, line_name, menu_path, tags, queue,
    first_agent, agents, arrived_at, queued_at, answered_at, ended_at, rating,
    rating_label, rated_at, recording, legs, callback_number, hangup_by,
    end_reason.  Missing optional keys are fine.
    """
    call_id = str(record.get("call_id") or "")
    agents = [str(a) for a in record.get("agents") or [] if a]
    first = record.get("first_agent") or (agents[0] if agents else None)
    merged = None
    if record.get("original_number") and record.get("department"):
        merged = {
            "original_number": str(record["original_number"]),
            "department": str(record["department"]),
            "line_name": record.get("line_name"),
        }
    rating = None
    if record.get("rating_label") is not None:
        rating = {
            "level": record.get("rating"),
            "label": str(record["rating_label"]),
            "rated_at": record.get("rated_at"),
        }
    url = None
    if recording_base_url and record.get("recording"):
        url = recording_url(recording_base_url, call_id)
    caller_number = _number(record.get("caller_number"))
    kind = record.get("kind") or "call"
    callback_number = record.get("callback_number") or (
        caller_number if kind == "callback" and caller_number else None
    )
    tags = {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in (record.get("tags") or {}).items()
    }
    return Ticket.model_validate(
        {
            "kind": kind,
            "call_id": call_id,
            "caller": {"number": caller_number, "name": str(record.get("caller_name") or "")},
            "dialled": str(record.get("dialled") or ""),
            "merged_line": merged,
            "menu_path": list(record.get("menu_path") or []),
            "tags": tags,
            "queue": record.get("queue"),
            "agents": {"first_contact": first, "others": [a for a in agents if a != first]},
            "times": {
                "arrived_at": record.get("arrived_at"),
                "queued_at": record.get("queued_at"),
                "answered_at": record.get("answered_at"),
                "ended_at": record.get("ended_at"),
            },
            "rating": rating,
            "transfers": _legs(call_id, list(record.get("legs") or [])),
            "recording_url": url,
            "callback_number": callback_number,
            "hangup_by": record.get("hangup_by"),
            "end_reason": record.get("end_reason"),
        }
    )


def _summary(exc: ValidationError) -> str:
    """The errors' places and messages, without the offending values (they may be numbers)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'ticket'}: {err['msg']}" for err in exc.errors()
    )


def make_outbox_hook(*, recording_base_url: str | None = None) -> OutboxHook:
    """The writer hook: ``await hook(conn, record)`` enqueues the call's ticket on ``conn``.

    ``recording_base_url`` (configuration) makes the recording reference the
    backend fetches: ``{recording_base_url}/{call_id}``.  A bad base URL is
    refused here, at start, rather than on every ticket.
    """
    if recording_base_url is not None:
        recording_url(recording_base_url, "check")

    async def outbox_hook(conn: asyncpg.Connection, record: dict[str, Any]) -> None:
        call_id = str(record.get("call_id") or "")
        try:
            ticket = ticket_from_engine(record, recording_base_url=recording_base_url)
        except (ValidationError, ValueError) as exc:
            error = _summary(exc) if isinstance(exc, ValidationError) else str(exc)
            log.error("ticket_invalid", call_id=call_id, error=error)
            if call_id:
                safe = json.loads(json.dumps(record, ensure_ascii=False, default=str))
                await park_invalid_in(conn, call_id, safe, f"invalid ticket: {error}")
            return
        await enqueue_ticket_in(conn, ticket)

    return outbox_hook


outbox_hook: OutboxHook = make_outbox_hook()
"""The hook without a recording base URL (no recording reference in tickets)."""
