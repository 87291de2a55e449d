"""Shared pieces of the HTTP API: the principal, JSON errors, typed input.

Contract of every endpoint under ``/api/``:

- the caller is authenticated by the :func:`authenticate` middleware (a
  bearer token, see :mod:`cti.api.auth`); a handler asks for the roles it
  admits with :func:`principal` *before* it reads any input, so a caller
  without the right role learns nothing from validation messages
  (``401`` without a principal, ``403`` with the wrong role);
- input is parsed with pydantic models (:func:`body_of`, :func:`query_of`,
  :func:`path_of`); bad input is a ``400`` whose body names the field, and
  so is text PostgreSQL cannot store (NUL, unpaired surrogates), JSON nested
  deeper than the configured depth, or ``NaN``; a body over the configured
  size is a ``413``;
- a wrong bearer token counts as a failed login of the client address
  (:mod:`cti.api.throttle`); a locked address gets ``429`` with
  ``Retry-After`` whatever role token it sends (a live agent session still
  passes: it cannot be guessed, and seats share addresses);
- every error is JSON ``{"error": code, "message": text, "field"?: name}``;
  a database that cannot be reached is a ``503``; an unexpected exception is
  logged with its traceback and answered ``500`` (a bug, never a design).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from cti.api.audit import AUDITOR, mark_audited, unstorable
from cti.api.auth import Authenticator, Principal, Role
from cti.api.throttle import LoginThrottle, Refusal
from cti.errors import StoreError

log = structlog.get_logger("cti.api")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AUTH = web.AppKey("auth", Authenticator)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)


@dataclass(frozen=True)
class InputLimits:
    """How deep a JSON body may nest (its size is the application's ``client_max_size``)."""

    json_max_depth: int = 32


LIMITS = web.AppKey("input_limits", InputLimits)


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
    if unstorable([request.path, request.query_string]) is not None:
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


def too_many(
    request: web.Request, refusal: Refusal, action: str, *, known_account: bool = False
) -> web.Response:
    """The ``429`` of a throttled login; the first refusal of a lock-out is audited.

    A lock-out of a real account (``known_account``) always gets its row:
    there are only so many accounts.  Lock-outs of addresses and made-up
    accounts are as many as a guesser likes, so their rows share the bound
    of strangers' rows.
    """
    auditor = request.app.get(AUDITOR)
    if auditor is not None and refusal.first_of_lockout:
        auditor.record(
            None,
            action,
            refusal.target,
            allowed=False,
            detail={"reason": "locked_out", "retry_after_s": round(refusal.retry_after_s)},
            rate_limited=not (known_account and refusal.key.startswith("account:")),
        )
    # Later refusals of the same lock-out are counted by the throttle, not written.
    mark_audited(request)
    message = f"too many failed attempts; try again in {refusal.retry_after_header} s"
    response = error(429, "too_many_attempts", message)
    response.headers["Retry-After"] = refusal.retry_after_header
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the caller's :class:`Principal` (or ``None``) under :data:`PRINCIPAL_KEY`.

    A token that matches nothing is a failed login of the client address;
    an address locked out is answered ``429`` before its token is looked at.
    """
    header = request.headers.get("Authorization")
    if not header:
        return await handler(request)
    auth = request.app[AUTH]
    token = auth.bearer(header)
    # A live agent session (a random 192-bit token) passes even from a locked address:
    # the colleagues of a seat behind the same address keep working.
    found = auth.session(token) if token else None
    if found is not None:
        request[PRINCIPAL_KEY] = found
        return await handler(request)
    throttle = request.app.get(THROTTLE)
    attempt = None
    if throttle is not None:
        admitted = throttle.admit(None, request.remote)
        if isinstance(admitted, Refusal):
            return too_many(request, admitted, "token_refused")
        attempt = admitted
    # A session opened before this engine started (a restart, a takeover) is in the store.
    found = (auth.principal(token) or await auth.recall(token)) if token else None
    if attempt is not None:
        if found is None:
            attempt.failed()
        else:
            attempt.succeeded()
    if found is not None:
        request[PRINCIPAL_KEY] = found
    return await handler(request)


def _operation(request: web.Request) -> Any:
    from cti.api.spec import CATALOGUE

    catalogue = request.app.get(CATALOGUE)
    route = request.match_info.route
    resource = route.resource
    if catalogue is None or resource is None:
        return None
    return catalogue.find(request.method, resource.canonical)


def protected(request: web.Request) -> bool:
    """Whether the request is for a resource that needs a token.

    Everything under ``/api/``, ``/ws/`` and ``/metrics`` is, except the
    operations documented as public (the login, the OpenAPI document); so
    is a path there that names no resource (a probe).
    """
    path = request.path
    if path.startswith("/ws/"):
        return True
    if not path.startswith(("/api/", "/metrics")):
        return False
    operation = _operation(request)
    return operation is None or bool(operation.roles)


@web.middleware
async def audit_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One audit row for each ``4xx`` of a protected resource that no handler audited."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            _audit_refusal(request, exc.status, exc.text)
        raise
    if 400 <= response.status < 500:
        text = response.text if isinstance(response, web.Response) else None
        _audit_refusal(request, response.status, text)
    return response


def _audit_refusal(request: web.Request, status: int, text: str | None) -> None:
    from cti.api.audit import AUDITED

    if request.get(AUDITED) or status >= 500 or not protected(request):
        return
    auditor = request.app.get(AUDITOR)
    if auditor is None:
        return
    code = ""
    if text:
        try:
            body = json.loads(text)
            code = str(body.get("error") or body.get("message") or "")[:64]
        except (ValueError, AttributeError):
            code = ""
    operation = _operation(request)
    who = who_is(request)
    auditor.record(
        who,
        operation.operation_id if operation is not None else "request",
        f"{request.method} {request.path}",
        allowed=False,
        detail={"status": status, "error": code, "address": request.remote or ""},
    )
    mark_audited(request)


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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str | bytes, max_depth: int) -> Any:
    """JSON text to Python values; ``ValueError`` for anything a handler must not see.

    Refused: text that is not JSON, ``NaN`` and infinities, integers of more
    than 4300 digits, and nesting deeper than ``max_depth``.  Never raises
    anything else, whatever the input.  (Text PostgreSQL cannot store is
    for the caller to refuse: see :func:`cti.api.audit.unstorable`.)
    """
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return value


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            inner = item.values() if isinstance(item, dict) else item
            stack.extend((v, level + 1) for v in inner if isinstance(v, dict | list))
    return deepest


async def body_of(request: web.Request, model: type[M]) -> M:
    """Parse a JSON body into ``model``; a 400 naming the bad field otherwise."""
    limits = request.app.get(LIMITS) or InputLimits()
    raw: Any = {}
    if request.can_read_body:
        data = await request.read()  # over client_max_size: 413
        if data:
            try:
                raw = parse_json(data, limits.json_max_depth)
            except ValueError as exc:
                raise bad_request("body", f"the body is refused: {exc}") from None
    if raw is None:
        raw = {}
    bad = unstorable(raw)
    if bad is not None:
        raise bad_request(bad, "must not contain NUL characters or unpaired surrogates")
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
        if unstorable(value) is not None or unstorable(key) is not None:
            raise bad_request(key, "must not contain NUL characters")
    return dict(values)


SERVER_NAME = "hotline-cti"
"""The ``Server`` header: no framework, no version."""


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: headers every answer carries.

    No page or answer sends a ``Referer`` onwards; API answers (JSON with
    caller numbers, names, recordings) are never stored by a browser or a
    proxy; the ``Server`` header names no framework or version.
    """
    headers = response.headers
    headers["Server"] = SERVER_NAME
    headers["Referrer-Policy"] = "no-referrer"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(("/api/", "/metrics", "/healthz")):
        cache = headers.get("Cache-Control", "")
        if "no-store" not in cache:
            headers["Cache-Control"] = "no-store"
