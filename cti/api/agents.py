"""The agent's own endpoints: login, state, pause, wrap-up, current call, directory.

An agent acts only on their own state and calls: every path here is under
``/api/agents/me`` and takes the agent from the session token.  Logging in
again at the seat one already holds (a lost browser tab) opens a new
session and ends the old one; logging in anywhere else while logged in is
refused (``409 already_logged_in``).  Pause reasons marked ``system`` in
``agents.yaml`` (e.g. the ring-no-answer pause) are the engine's alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import acd
from cti.api import schemas as s
from cti.api.auth import Role
from cti.api.http import (
    AUTH,
    ApiError,
    bad_request,
    body_of,
    error,
    principal,
)
from cti.api.logins import check_pin
from cti.api.spec import Operation, register, reply
from cti.api.tracker import TRACKER
from cti.executor import Engine

ENGINE = web.AppKey("engine", Engine)
TAG = "agent"


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(pattern=s.AGENT_NO, description="agent number")
    pin: str = Field(min_length=1, max_length=32)
    seat: str = Field(min_length=1, max_length=32, description="seat id from seats.yaml")


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=32, description="a pause reason code")


def refused(refusal: acd.RequestRefused) -> web.Response:
    status = 404 if refusal.reason == "unknown_agent" else 409
    return error(status, refusal.reason, f"{refusal.request} refused: {refusal.reason}")


def agent_view(engine: Engine, agent: str, since: float | None = None) -> dict[str, Any]:
    """The agent's status and state as a JSON-ready dict (see :class:`schemas.AgentView`)."""
    return agent_model(engine, agent, since).model_dump(mode="json")


def agent_model(engine: Engine, agent: str, since: float | None = None) -> s.AgentView:
    state = engine.agent_states.get(agent)
    config = engine.config.agent(agent)
    logged_in = state is not None and state.status is not acd.AgentStatus.LOGGED_OUT
    return s.AgentView(
        agent=agent,
        name=config.name if config else "",
        status=s.AgentStatus(state.status.value if state else "logged_out"),
        state=s.AgentState(state.state.value if state else "offline"),
        reason=state.reason if state else "",
        seat=(state.seat if state else None) if logged_in else None,
        since=datetime.fromtimestamp(since, UTC) if since else None,
    )


def call_model(engine: Engine, call: Any, agent: str | None) -> s.CallView:
    ringing = agent is not None and call.agent != agent
    answered = call.stamps.get("answered_at")
    return s.CallView(
        call_id=call.call_id,
        state="ringing" if ringing else call.public_state,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        dialled=call.dialled,
        original_number=call.original_number,
        department=call.department,
        line_name=call.line_name,
        queue=call.queue,
        menu_path=list(call.menu_path),
        tags=dict(call.tags),
        arrived_at=call.arrived_at,
        answered_at=answered if not ringing else None,
        agent=call.agent,
    )


def call_view(engine: Engine, agent: str) -> dict[str, Any] | None:
    """The agent's current call (ringing or talking) as a JSON-ready dict, or ``None``."""
    call = engine.current_call_of(agent)
    if call is None:
        return None
    return call_model(engine, call, agent).model_dump(mode="json")


def _since(request: web.Request, agent: str) -> float | None:
    tracker = request.app.get(TRACKER)
    return tracker.since.get(agent) if tracker is not None else None


def _view(request: web.Request, agent: str) -> s.AgentView:
    return agent_model(request.app[ENGINE], agent, _since(request, agent))


async def login(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    body = await body_of(request, LoginRequest)
    agent = engine.config.agent(body.agent)
    known = engine.config.agents.agents
    refused_login = await check_pin(
        request,
        "agent_login",
        f"agent:{body.agent}",
        body.pin,
        agent.pin_hash if agent else None,
        like=known[0].pin_hash if known else None,
        wrong="unknown agent or wrong PIN",
    )
    if refused_login is not None:
        return refused_login
    if body.seat not in engine.seats:
        raise bad_request("seat", f"unknown seat {body.seat!r}")
    refusal = engine.agent_request(acd.AgentLogin(acd.AgentId(body.agent), acd.SeatId(body.seat)))
    if refusal is not None:
        current = engine.agent_states.get(body.agent)
        same_seat = current is not None and current.seat == body.seat
        if not (refusal.reason == "already_logged_in" and same_seat):
            return refused(refusal)
    token, expires = request.app[AUTH].open_session(body.agent, body.seat)
    view = _view(request, body.agent)
    return reply(s.Login(token=token, expires_at=expires, **view.model_dump()))


async def me(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    engine = request.app[ENGINE]
    call = engine.current_call_of(who.id)
    view = _view(request, who.id)
    return reply(s.Me(**view.model_dump(), call=call_model(engine, call, who.id) if call else None))


async def _act(request: web.Request, event: Any) -> web.Response:
    refusal = request.app[ENGINE].agent_request(event)
    if refusal is not None:
        return refused(refusal)
    return reply(_view(request, str(event.agent)))


async def ready(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    return await _act(request, acd.AgentReady(acd.AgentId(who.id)))


def check_pause_reason(
    engine: Engine, reason: str, *, system_allowed: bool, field: str = "reason"
) -> None:
    """A 400 naming ``field`` unless ``reason`` is a configured (for agents, non-system) code."""
    found = engine.config.agents.pause_reasons.get(reason)
    if found is None:
        raise bad_request(field, f"unknown pause reason {reason!r}")
    if found.system and not system_allowed:
        raise bad_request(field, f"{reason!r} is set by the engine only")


async def pause(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    body = await body_of(request, PauseRequest)
    check_pause_reason(request.app[ENGINE], body.reason, system_allowed=False)
    return await _act(request, acd.AgentPause(acd.AgentId(who.id), body.reason))


async def end_wrapup(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    return await _act(request, acd.AgentEndWrapup(acd.AgentId(who.id)))


async def logout(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    response = await _act(request, acd.AgentLogout(acd.AgentId(who.id)))
    if response.status == 200:
        request.app[AUTH].close_sessions(who.id)
    return response


async def current_call(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    engine = request.app[ENGINE]
    call = engine.current_call_of(who.id)
    if call is None:
        raise ApiError(404, "no_call", "no current call")
    return reply(call_model(engine, call, who.id))


async def directory(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    engine = request.app[ENGINE]
    config = engine.config
    colleagues = []
    for view in engine.acd.agent_views():
        if str(view.agent) == who.id or view.status is not acd.AgentStatus.READY:
            continue
        if view.state is not acd.AgentState.IDLE:
            continue
        agent = config.agent(str(view.agent))
        colleagues.append(
            s.Colleague(
                agent=str(view.agent),
                name=agent.name if agent else "",
                state=s.AgentState(view.state.value),
            )
        )
    return reply(
        s.Directory(
            pause_reasons=[
                s.PauseReasonView(id=code, label=r.label, max_minutes=r.max_minutes)
                for code, r in config.agents.pause_reasons.items()
                if not r.system
            ],
            queues=[s.QueueRef(id=qid, name=q.name) for qid, q in config.queues.queues.items()],
            parallel=[
                s.LineRef(id=line.id, name=line.name, department=line.department, number=n)
                for line in config.lines.parallel
                for n in line.numbers[:1]
            ],
            emergency=[
                s.LineRef(id=e.number, name=e.name, department=e.department, number=e.number)
                for e in config.lines.emergency
            ],
            colleagues=colleagues,
        )
    )


def add_routes(app: web.Application) -> None:
    agent = (Role.AGENT,)
    ops = [
        Operation("POST", "/api/agents/login", login, "agent_login",
                  "Log in with agent number, PIN and seat", TAG, (), body=LoginRequest,
                  response=s.Login, errors=(401, 404, 409, 429)),
        Operation("GET", "/api/agents/me", me, "agent_me",
                  "The agent's state and current call", TAG, agent, response=s.Me),
        Operation("POST", "/api/agents/me/ready", ready, "agent_ready",
                  "Become ready for calls", TAG, agent, response=s.AgentView, errors=(409,)),
        Operation("POST", "/api/agents/me/pause", pause, "agent_pause",
                  "Pause with a configured reason", TAG, agent, body=PauseRequest,
                  response=s.AgentView, errors=(409,)),
        Operation("POST", "/api/agents/me/wrapup/end", end_wrapup, "agent_end_wrapup",
                  "End the after-call work", TAG, agent, response=s.AgentView, errors=(409,)),
        Operation("POST", "/api/agents/me/logout", logout, "agent_logout",
                  "Log out (the session ends)", TAG, agent, response=s.AgentView,
                  errors=(409,)),
        Operation("GET", "/api/agents/me/call", current_call, "agent_current_call",
                  "The call ringing at or connected to the agent", TAG, agent,
                  response=s.CallView, errors=(404,)),
        Operation("GET", "/api/agents/me/directory", directory, "agent_directory",
                  "Pause reasons and transfer targets for the toolbar", TAG, agent,
                  response=s.Directory),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
