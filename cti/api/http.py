"""Shared pieces of the HTTP API: typed app keys, JSON errors, auth guard."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from cti.api.auth import Authenticator, Principal, Role

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AUTH = web.AppKey("auth", Authenticator)
PRINCIPAL_KEY = "principal"


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON with a message; nothing answers a bare 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return error(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth = request.app[AUTH]
    request[PRINCIPAL_KEY] = auth.from_header(request.headers.get("Authorization"))
    return await handler(request)


def principal(request: web.Request, *roles: Role) -> Principal:
    """The caller, who must hold one of ``roles``; 401/403 otherwise."""
    who: Principal | None = request.get(PRINCIPAL_KEY)
    if who is None:
        raise web.HTTPUnauthorized(
            text='{"error": "unauthorized", "message": "a bearer token is required"}',
            content_type="application/json",
        )
    if roles and who.role not in roles:
        raise web.HTTPForbidden(
            text=f'{{"error": "forbidden", "message": "the {who.role} role may not do this"}}',
            content_type="application/json",
        )
    return who


async def body_of(request: web.Request, model: type[M]) -> M:
    """Parse a JSON body into ``model``; a 400 naming the bad field otherwise."""
    try:
        raw = await request.json() if request.can_read_body else {}
    except ValueError as exc:
        raise _bad_request("body", f"the body is not JSON: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise _bad_request(field, first["msg"]) from exc


def _bad_request(field: str, message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps(
            {"error": "bad_request", "field": field, "message": f"{field}: {message}"},
            ensure_ascii=False,
        ),
        content_type="application/json",
    )
