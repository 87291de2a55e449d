"""The agent's own endpoints: login, state, pause, wrap-up, current call."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import acd
from cti.api.auth import Role
from cti.api.http import AUTH, body_of, error, principal
from cti.config import verify_pin
from cti.engine.core import Engine

ENGINE = web.AppKey("engine", Engine)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(min_length=1, max_length=16, description="agent number")
    pin: str = Field(min_length=1, max_length=32)
    seat: str = Field(min_length=1, max_length=32, description="seat id from seats.yaml")


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=32, description="a pause reason code")


def _refused(refusal: acd.RequestRefused) -> web.Response:
    status = 404 if refusal.reason == "unknown_agent" else 409
    return error(status, refusal.reason, f"{refusal.request} refused: {refusal.reason}")


def agent_view(engine: Engine, agent: str) -> dict[str, Any]:
    state = engine.agent_states.get(agent)
    config = engine.config.agent(agent)
    return {
        "agent": agent,
        "name": config.name if config else "",
        "status": state.status.value if state else "logged_out",
        "state": state.state.value if state else "offline",
        "reason": state.reason if state else "",
        "seat": state.seat if state else None,
    }


def call_view(engine: Engine, agent: str) -> dict[str, Any] | None:
    call = engine.current_call_of(agent)
    if call is None:
        return None
    return {
        "call_id": call.call_id,
        "state": "ringing" if call.agent != agent else call.public_state,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "dialled": call.dialled,
        "original_number": call.original_number,
        "department": call.department,
        "line_name": call.line_name,
        "queue": call.queue,
        "menu_path": call.menu_path,
        "tags": call.tags,
        "arrived_at": call.arrived_at.isoformat(),
    }


async def login(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    body = await body_of(request, LoginRequest)
    agent = engine.config.agent(body.agent)
    # PBKDF2 costs ~0.5 s of CPU by design: never on the event loop, where calls run.
    if agent is None or not await asyncio.to_thread(verify_pin, body.pin, agent.pin_hash):
        return error(401, "bad_credentials", "unknown agent or wrong PIN")
    if body.seat not in engine.seats:
        return error(400, "bad_request", f"seat: unknown seat {body.seat!r}", field="seat")
    refusal = engine.agent_request(acd.AgentLogin(acd.AgentId(body.agent), acd.SeatId(body.seat)))
    if refusal is not None:
        return _refused(refusal)
    token, expires = request.app[AUTH].open_session(body.agent, body.seat)
    return web.json_response(
        {"token": token, "expires_at": expires, **agent_view(engine, body.agent)}
    )


async def me(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    engine = request.app[ENGINE]
    return web.json_response({**agent_view(engine, who.id), "call": call_view(engine, who.id)})


async def _act(request: web.Request, event: Any) -> web.Response:
    engine = request.app[ENGINE]
    refusal = engine.agent_request(event)
    if refusal is not None:
        return _refused(refusal)
    return web.json_response(agent_view(engine, event.agent))


async def ready(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    return await _act(request, acd.AgentReady(acd.AgentId(who.id)))


async def pause(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    body = await body_of(request, PauseRequest)
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
    view = call_view(request.app[ENGINE], who.id)
    if view is None:
        return error(404, "no_call", "no current call")
    return web.json_response(view)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/agents/login", login)
    app.router.add_get("/api/agents/me", me)
    app.router.add_post("/api/agents/me/ready", ready)
    app.router.add_post("/api/agents/me/pause", pause)
    app.router.add_post("/api/agents/me/wrapup/end", end_wrapup)
    app.router.add_post("/api/agents/me/logout", logout)
    app.router.add_get("/api/agents/me/call", current_call)
