"""The screen pop's history: the caller's recent calls and tickets, and the repeat flag.

``GET /api/calls/{call_id}/history`` answers for the caller of one call:

- ``calls``: their latest calls (newest first, this call excluded), from the
  ``calls`` table merged with the calls the engine still holds in memory
  (a call that ended a second ago may not be written yet);
- ``tickets``: the tickets created for their calls, with delivery status;
- ``repeat_caller``: another call from the number arrived within the
  queue's ``repeat_window_hours`` (24 h by default) before this one: the
  national guideline wants repeat requests merged into one ticket.

An agent may ask only about a call ringing at or connected to them (or
one they took that has just ended); a supervisor about any call.  When the
database cannot be read in time the answer is built from memory alone and
says so (``complete: false``): the pop must never wait on the database.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.api import schemas as s
from cti.api.agents import ENGINE
from cti.api.auth import Role
from cti.api.http import ApiError, path_of, principal
from cti.api.spec import Operation, register, reply
from cti.appkeys import DATABASE
from cti.errors import StoreError
from cti.executor import Engine

LIMIT = 10
DB_DEADLINE_S = 2.0

_CALLS_SQL = (
    "SELECT call_id, arrived_at, ended_at, dialled, department, queue, outcome,"
    " first_agent, rating_label FROM calls"
    " WHERE caller_number = $1 AND call_id <> $2 ORDER BY arrived_at DESC LIMIT $3"
)
_TICKETS_SQL = (
    "SELECT o.call_id, COALESCE(o.payload->>'kind', 'call') AS kind, o.status,"
    " o.backend_ticket_id, o.created_at, o.delivered_at"
    " FROM ticket_outbox o JOIN calls c ON c.call_id = o.call_id"
    " WHERE c.caller_number = $1 AND o.kind = 'create'"
    " ORDER BY o.created_at DESC LIMIT $2"
)


class CallPath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(pattern=s.CALL_ID, description="the engine's call id")


def find_call(engine: Engine, call_id: str) -> Any:
    """A live or recently ended call of ``engine``, or ``None``."""
    return engine.calls.get(call_id) or engine.recent_ended.get(call_id)  # type: ignore[call-overload]


def _agent_may_see(engine: Engine, call: Any, agent: str) -> bool:
    if call.agent == agent or call.first_agent == agent:
        return True
    offer = call.ringing_offer
    return offer is not None and offer.agent == agent


def _window_hours(engine: Engine, call: Any) -> int:
    queue = engine.config.queues.queues.get(call.queue or "")
    return int(queue.priority.repeat_window_hours) if queue is not None else 24


def _memory_calls(engine: Engine, call: Any) -> list[s.PastCall]:
    found = []
    for other in [*engine.recent_ended.values(), *engine.calls.values()]:
        if other.call_id == call.call_id or other.caller_number != call.caller_number:
            continue
        found.append(
            s.PastCall(
                call_id=other.call_id,
                arrived_at=other.arrived_at,
                ended_at=other.stamps.get("ended_at"),
                dialled=other.dialled,
                department=other.department,
                queue=other.queue,
                outcome=other.outcome,
                first_agent=other.first_agent,
                rating_label=other.rating_label,
            )
        )
    return found


async def _stored(db: Any, call: Any) -> tuple[list[s.PastCall], list[s.PastTicket]]:
    async with asyncio.timeout(DB_DEADLINE_S):
        calls = await db.fetch(_CALLS_SQL, call.caller_number, call.call_id, LIMIT)
        tickets = await db.fetch(_TICKETS_SQL, call.caller_number, LIMIT)
    return [s.PastCall(**row) for row in calls], [s.PastTicket(**row) for row in tickets]


async def caller_history(engine: Engine, db: Any, call: Any) -> s.CallerHistory:
    """The history of ``call``'s caller (see the module docstring)."""
    hours = _window_hours(engine, call)
    calls: dict[str, s.PastCall] = {}
    tickets: list[s.PastTicket] = []
    complete = True
    if call.caller_number:
        try:
            stored, tickets = await _stored(db, call)
        except (StoreError, TimeoutError):
            stored, complete = [], False
        for past in [*stored, *_memory_calls(engine, call)]:
            calls[past.call_id] = past  # memory wins: it is the newer truth
    ordered = sorted(calls.values(), key=lambda c: c.arrived_at, reverse=True)
    since: datetime = call.arrived_at - timedelta(hours=hours)
    in_window = [c for c in ordered if since <= c.arrived_at <= call.arrived_at]
    return s.CallerHistory(
        call_id=call.call_id,
        caller_number=call.caller_number,
        repeat_caller=bool(in_window),
        window_hours=hours,
        calls_in_window=len(in_window),
        calls=ordered[:LIMIT],
        tickets=tickets,
        complete=complete,
    )


async def history(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT, Role.SUPERVISOR)
    params = path_of(request, CallPath)
    engine = request.app[ENGINE]
    call = find_call(engine, params.call_id)
    if call is None:
        raise ApiError(404, "unknown_call", f"call_id: no call {params.call_id!r}")
    if who.role is Role.AGENT and not _agent_may_see(engine, call, who.id):
        raise ApiError(403, "forbidden", "not your call")

    return reply(await caller_history(engine, request.app[DATABASE], call))


def add_routes(app: web.Application) -> None:
    register(
        app,
        Operation(
            "GET",
            "/api/calls/{call_id}/history",
            history,
            "call_caller_history",
            "The caller's recent calls and tickets, and the repeat-caller flag",
            "agent",
            (Role.AGENT, Role.SUPERVISOR),
            path_params=CallPath,
            response=s.CallerHistory,
            errors=(404,),
        ),
    )
