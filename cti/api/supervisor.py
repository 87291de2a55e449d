"""Supervisor endpoints: every agent's state, forced state changes, live calls, callbacks.

A forced change (ready, pause, logout) names the reason it is made; the
reason, the supervisor and the outcome go to the audit log (writer kind
``audit``, action ``agent_force_<what>``), refused attempts included.  A
reason PostgreSQL could not store (a NUL character) is refused with ``400``
before anything changes, so no forced change happens without its row; any
other refusal (unknown agent, bad pause reason) is audited by
:func:`cti.api.http.audit_refusals`.  A
forced logout also ends the agent's sessions, so their toolbar returns to
the login form.  Listening, whispering and barging are in
:mod:`cti.api.transfers` with the other call operations.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import acd
from cti.api import schemas as s
from cti.api.agents import ENGINE, agent_model, check_pause_reason, refused
from cti.api.audit import mark_audited
from cti.api.auth import Role
from cti.api.http import AUTH, ApiError, body_of, path_of, principal, query_of
from cti.api.spec import Operation, register, reply
from cti.api.tracker import TRACKER
from cti.appkeys import DATABASE

log = structlog.get_logger("cti.api.supervisor")
TAG = "supervisor"
SUPERVISOR = (Role.SUPERVISOR,)


class AgentPath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(pattern=s.AGENT_NO, description="agent number")


class ForceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200, description="why (written to the audit log)")


class ForcePause(ForceRequest):
    pause_reason: str = Field(min_length=1, max_length=32, description="a pause reason code")


class CallbackStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    DONE = "done"
    FAILED = "failed"
    ALL = "all"


class CallbackQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: CallbackStatus = Field(default=CallbackStatus.OPEN, description="which callbacks")
    limit: int = Field(default=100, ge=1, le=1000)


async def agents(request: web.Request) -> web.Response:
    principal(request, *SUPERVISOR)
    engine = request.app[ENGINE]
    tracker = request.app.get(TRACKER)
    views = {str(v.agent): v for v in engine.acd.agent_views()}
    rows = []
    for config in engine.config.agents.agents:
        since = tracker.since.get(config.number) if tracker else None
        view = agent_model(engine, config.number, since)
        live = views.get(config.number)
        rows.append(
            s.AgentRow(
                **view.model_dump(),
                role=config.role,
                call_id=str(live.call_id) if live and live.call_id else None,
                calls_today=live.calls_today if live else 0,
                talk_today_s=round(live.talk_today_s, 1) if live else 0.0,
                misses=live.misses if live else 0,
            )
        )
    return reply(rows, kind=list[s.AgentRow])


async def _force(request: web.Request, what: str, body: ForceRequest, event: Any) -> web.Response:
    who = principal(request, *SUPERVISOR)
    engine = request.app[ENGINE]
    agent = str(event.agent)
    refusal = engine.agent_request(event)
    detail: dict[str, Any] = {"reason": body.reason}
    if isinstance(body, ForcePause):
        detail["pause_reason"] = body.pause_reason
    if refusal is not None:
        detail["refused"] = refusal.reason
    engine.writer.submit(
        "audit",
        {
            "at": engine.now_dt(),
            "actor": who.id,
            "role": who.role.value,
            "action": f"agent_force_{what}",
            "target": f"agent:{agent}",
            "allowed": refusal is None,
            "detail": detail,
        },
    )
    mark_audited(request)
    log.info("agent_forced", what=what, agent=agent, by=who.id, refused=detail.get("refused"))
    if refusal is not None:
        return refused(refusal)
    if what == "logout":
        request.app[AUTH].close_sessions(agent)
    tracker = request.app.get(TRACKER)
    return reply(agent_model(engine, agent, tracker.since.get(agent) if tracker else None))


def _known_agent(request: web.Request) -> str:
    params = path_of(request, AgentPath)
    if request.app[ENGINE].config.agent(params.agent) is None:
        raise ApiError(404, "unknown_agent", f"agent: no agent {params.agent!r}")
    return params.agent


async def force_ready(request: web.Request) -> web.Response:
    principal(request, *SUPERVISOR)
    agent = _known_agent(request)
    body = await body_of(request, ForceRequest)
    return await _force(request, "ready", body, acd.AgentReady(acd.AgentId(agent)))


async def force_pause(request: web.Request) -> web.Response:
    principal(request, *SUPERVISOR)
    agent = _known_agent(request)
    body = await body_of(request, ForcePause)
    engine = request.app[ENGINE]
    check_pause_reason(engine, body.pause_reason, system_allowed=False, field="pause_reason")
    return await _force(
        request, "pause", body, acd.AgentPause(acd.AgentId(agent), body.pause_reason)
    )


async def force_logout(request: web.Request) -> web.Response:
    principal(request, *SUPERVISOR)
    agent = _known_agent(request)
    body = await body_of(request, ForceRequest)
    return await _force(request, "logout", body, acd.AgentLogout(acd.AgentId(agent)))


async def calls(request: web.Request) -> web.Response:
    principal(request, *SUPERVISOR)
    engine = request.app[ENGINE]
    now = engine.now_dt()
    rows = []
    for call in sorted(engine.calls.values(), key=lambda c: c.arrived_at):
        queued = call.stamps.get("queued_at")
        waiting = (
            (now - queued).total_seconds() if queued and call.public_state == "waiting" else None
        )
        rows.append(
            s.LiveCall(
                call_id=call.call_id,
                state=call.public_state,
                queue=call.queue,
                agent=call.agent,
                caller_number=call.caller_number,
                dialled=call.dialled,
                department=call.department,
                arrived_at=call.arrived_at,
                waiting_s=round(waiting, 1) if waiting is not None else None,
            )
        )
    return reply(rows, kind=list[s.LiveCall])


async def callbacks(request: web.Request) -> web.Response:
    principal(request, *SUPERVISOR)
    query = query_of(request, CallbackQuery)

    sql = (
        "SELECT id, call_id, caller_number, queue, requested_at, status, assigned_to,"
        " done_at, note FROM callbacks"
    )
    args: list[Any] = []
    if query.status is not CallbackStatus.ALL:
        sql += " WHERE status = $1"
        args.append(query.status.value)
    sql += f" ORDER BY requested_at, id LIMIT ${len(args) + 1}"
    rows = await request.app[DATABASE].fetch(sql, *args, query.limit)
    return reply([s.Callback(**row) for row in rows], kind=list[s.Callback])


def add_routes(app: web.Application) -> None:
    force = "Force an agent {}; the reason is audited"
    ops = [
        Operation("GET", "/api/supervisor/agents", agents, "supervisor_agents",
                  "Every configured agent's status and state", TAG, SUPERVISOR,
                  response=list[s.AgentRow]),
        Operation("POST", "/api/supervisor/agents/{agent}/ready", force_ready,
                  "supervisor_force_ready", force.format("ready"), TAG, SUPERVISOR,
                  path_params=AgentPath, body=ForceRequest, response=s.AgentView,
                  errors=(404, 409)),
        Operation("POST", "/api/supervisor/agents/{agent}/pause", force_pause,
                  "supervisor_force_pause", force.format("to pause"), TAG, SUPERVISOR,
                  path_params=AgentPath, body=ForcePause, response=s.AgentView,
                  errors=(404, 409)),
        Operation("POST", "/api/supervisor/agents/{agent}/logout", force_logout,
                  "supervisor_force_logout", force.format("out"), TAG, SUPERVISOR,
                  path_params=AgentPath, body=ForceRequest, response=s.AgentView,
                  errors=(404, 409)),
        Operation("GET", "/api/supervisor/calls", calls, "supervisor_calls",
                  "The calls in the engine now", TAG, SUPERVISOR, response=list[s.LiveCall]),
        Operation("GET", "/api/supervisor/callbacks", callbacks, "supervisor_callbacks",
                  "The missed-call callback list (漏接回拨)", TAG, SUPERVISOR,
                  query=CallbackQuery, response=list[s.Callback], errors=(503,)),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
