"""The switchboard's durable facts as the writer's rows (:mod:`cti.engine.records`).

Times are epoch seconds in the switchboard and timestamps in PostgreSQL;
the ticket carries ISO 8601 texts, as the work-order backend reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchboard import CallRecord, MenuStep, RatingRecord, Ticket
from switchboard import commands as c


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _maybe(ts: float | None) -> datetime | None:
    return utc(ts) if ts is not None else None


def _iso(ts: float | None) -> str | None:
    return utc(ts).isoformat() if ts is not None else None


def _path(steps: tuple[MenuStep, ...]) -> list[dict[str, str]]:
    return [
        {"menu": s.menu, "node": s.node, "result": s.result, "keys": s.keys, "at": s.at}
        for s in steps
    ]


def call_row(r: CallRecord) -> dict[str, Any]:
    """The row of the ``calls`` table."""
    return {
        "call_id": r.call_id,
        "caller_number": r.caller_number,
        "caller_name": r.caller_name,
        "dialled": r.dialled,
        "original_number": r.original_number,
        "department": r.department,
        "line_name": r.line_name,
        "route": r.route,
        "menu_path": _path(r.menu_path),
        "tags": dict(r.tags),
        "queue": r.queue,
        "priority": r.priority,
        "first_agent": r.first_agent,
        "last_agent": r.last_agent,
        "arrived_at": utc(r.arrived_at),
        "routed_at": _maybe(r.routed_at),
        "menu_exited_at": _maybe(r.menu_exited_at),
        "queued_at": _maybe(r.queued_at),
        "first_offered_at": _maybe(r.first_offered_at),
        "answered_at": _maybe(r.answered_at),
        "ended_at": _maybe(r.ended_at),
        "hangup_by": r.hangup_by,
        "end_reason": r.end_reason,
        "outcome": r.outcome,
        "rating": r.rating,
        "rating_label": r.rating_label,
        "rated_at": _maybe(r.rated_at),
        "recording_ref": r.recording_ref,
        "config_version": r.config_version,
    }


def rating_row(r: RatingRecord) -> dict[str, Any]:
    return {"call_id": r.call_id, "level": r.level, "label": r.label, "at": utc(r.at)}


def ticket_doc(t: Ticket) -> dict[str, Any]:
    """The ticket (工单) handed to the work-order backend."""
    return {
        "call_id": t.call_id,
        "kind": t.kind,
        "caller_number": t.caller_number,
        "caller_name": t.caller_name,
        "dialled": t.dialled,
        "original_number": t.original_number,
        "department": t.department,
        "line_name": t.line_name,
        "menu_path": _path(t.menu_path),
        "tags": dict(t.tags),
        "queue": t.queue,
        "first_agent": t.first_agent,
        "agents": list(t.agents),
        "arrived_at": utc(t.arrived_at).isoformat(),
        "answered_at": _iso(t.answered_at),
        "ended_at": _iso(t.ended_at),
        "rating": t.rating,
        "rating_label": t.rating_label,
        "recording": t.recording,
        "legs": [leg.as_dict() for leg in t.legs],
    }


def final(command: c.WriteFinal) -> dict[str, Any]:
    """The ``call_final`` write: the last record, its rating and its ticket, in one go."""
    return {
        "call": call_row(command.record),
        "rating": rating_row(command.rating) if command.rating is not None else None,
        "ticket": ticket_doc(command.ticket) if command.ticket is not None else None,
    }


def timeline(command: c.WriteTimeline) -> dict[str, Any]:
    return {
        "call_id": command.call_id,
        "at": utc(command.at),
        "kind": command.kind,
        "agent": command.agent,
        "detail": dict(command.detail),
    }


def audit(command: c.WriteAudit) -> dict[str, Any]:
    return {
        "at": utc(command.at),
        "actor": command.actor,
        "role": command.role,
        "action": command.action,
        "target": command.target,
        "allowed": command.allowed,
        "detail": dict(command.detail),
    }


def callback(command: c.AddCallback) -> dict[str, Any]:
    return {
        "call_id": command.call_id,
        "caller_number": command.caller_number,
        "queue": command.queue,
        "at": utc(command.at),
        "note": f"waited {command.waited_s:.0f}s",
    }


def agent_state(command: c.PublishAgentState) -> dict[str, Any]:
    change = command.change
    return {
        "agent": change.agent,
        "at": utc(command.at),
        "status": change.status.value,
        "state": change.state.value,
        "reason": change.reason or None,
    }
