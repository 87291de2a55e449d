"""Shared pieces of the HTTP API: the principal, JSON errors, typed input.

Contract of every endpoint under ``/api/``:

- the caller is authenticated by the :func:`authenticate` middleware (a
  bearer token, see :mod:`cti.api.auth`); a handler asks for the roles it
  admits with :func:`principal` *before* it reads any input, so a caller
  without the right role learns nothing from validation messages
  (``401`` without a principal, ``403`` with the wrong role);
- input is parsed with pydantic models (:func:`body_of`, :func:`query_of`,
  :func:`path_of`); bad input is a ``400`` whose body names the field;
- every error is JSON ``{"error": code, "message": text, "field"?: name}``;
  a database that cannot be reached is a ``503``; an unexpected exception is
  logged with its traceback and answered ``500`` (a bug, never a design).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from cti.api.auth import Authenticator, Principal, Role
from cti.errors import StoreError

log = structlog.get_logger("cti.api")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AUTH = web.AppKey("auth", Authenticator)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error response: ``{"error": code, "message": message, **extra}``."""
    body = json.dumps({"error": code, "message": message, **extra}, ensure_ascii=False)
    return web.Response(status=status, text=body, content_type="application/json")


class ApiError(web.HTTPException):
    """An HTTP error with a JSON body, raised from anywhere in a handler."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": code, "message": message, **extra}, ensure_ascii=False),
            content_type="application/json",
        )


def bad_request(field: str, message: str) -> ApiError:
    """A ``400`` naming ``field``; the message starts with the field's name."""
    return ApiError(400, "bad_request", f"{field}: {message}", field=field)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON with a message; store outages are 503s."""
    if "\x00" in request.path or "\x00" in request.query_string:
        # No identifier, number or date contains NUL, and PostgreSQL text cannot hold it.
        return error(400, "bad_request", "path: must not contain NUL characters", field="path")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except StoreError as exc:
        log.warning("api_store_unavailable", path=request.path, error=str(exc))
        return error(503, "unavailable", "the database cannot be reached; try again")
    except Exception:
        log.exception("api_internal_error", method=request.method, path=request.path)
        return error(500, "internal_error", "internal error")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the caller's :class:`Principal` (or ``None``) under :data:`PRINCIPAL_KEY`."""
    auth = request.app[AUTH]
    found = auth.from_header(request.headers.get("Authorization"))
    if found is not None:
        request[PRINCIPAL_KEY] = found
    return await handler(request)


def who_is(request: web.Request) -> Principal | None:
    """The authenticated caller, if any (no role check)."""
    return request.get(PRINCIPAL_KEY)


def principal(request: web.Request, *roles: Role) -> Principal:
    """The caller, who must hold one of ``roles``; 401/403 otherwise."""
    who: Principal | None = request.get(PRINCIPAL_KEY)
    if who is None:
        raise ApiError(401, "unauthorized", "a bearer token is required")
    if roles and who.role not in roles:
        raise ApiError(403, "forbidden", f"the {who.role} role may not do this")
    return who


def _validated(model: type[M], raw: Any, where: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or where
        raise bad_request(field, first["msg"]) from exc


async def body_of(request: web.Request, model: type[M]) -> M:
    """Parse a JSON body into ``model``; a 400 naming the bad field otherwise."""
    try:
        raw = await request.json() if request.can_read_body else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("body", f"the body is not JSON: {exc}") from exc
    if raw is None:
        raw = {}
    return _validated(model, raw, "body")


def query_of(request: web.Request, model: type[M]) -> M:
    """Parse the query string into ``model`` (each key once); a 400 naming the field."""
    raw: dict[str, str] = {}
    for key, value in request.query.items():
        if key in raw:
            raise bad_request(key, "given more than once")
        raw[key] = value
    return _validated(model, _clean(raw), "query")


def path_of(request: web.Request, model: type[M]) -> M:
    """Parse the path parameters into ``model``; a 400 naming the field."""
    return _validated(model, _clean(dict(request.match_info)), "path")


def _clean(values: Mapping[str, str]) -> dict[str, str]:
    for key, value in values.items():
        if "\x00" in value:
            raise bad_request(key, "must not contain NUL characters")
    return dict(values)
