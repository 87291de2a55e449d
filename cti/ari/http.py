"""One ARI REST request over aiohttp, with errors translated at the boundary.

Requests name the Swagger path template (``/channels/{channelId}/answer``)
and its path parameters separately, so that a 404 can say *which* resource is
gone: on ``/channels/{channelId}...`` it is :class:`ChannelGone`, on
``/bridges/{bridgeId}...`` :class:`BridgeGone` (except a missing *variable*,
``Provided variable was not found``, which is :class:`AriNotFound`).  A 409 is
:class:`AriConflict`; any other error status :class:`AriHttpError`; a refused
connection, a reset or a timeout :class:`AriUnavailable`.  No aiohttp
exception leaves this module.

Every request that changes something (``POST``, ``PUT``, ``DELETE``) first asks
the *fence*, when one is set (:meth:`AriHttp.set_fence`): a callable that
answers the fencing token of the engine's leadership lease, or ``None`` when
this engine may not change calls (it is not the active one, see
:mod:`cti.availability`).  Refused, the request is never sent
(:class:`AriFenced`); allowed, it carries the token in ``X-Hotline-Fence``, so
that a log of what reached Asterisk can tell the engines apart.  The check sits
here, below every caller, so that it holds whatever the engine above does, and
it is made twice: before the request waits for a connection, and again once it
has one, just before its first byte is written (an aiohttp trace hook), so that
an engine frozen in between finds out when it resumes.

Query values are encoded as Asterisk reads them: booleans ``true``/``false``,
numbers in decimal, lists comma-separated (``channel=a,b`` for
``addChannel``), ``None`` left out.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError
from yarl import URL

from cti.ari.errors import (
    AriConflict,
    AriFenced,
    AriHttpError,
    AriNotFound,
    AriProtocolError,
    AriUnavailable,
    BridgeGone,
    ChannelGone,
)

M = TypeVar("M", bound=BaseModel)

Query = Mapping[str, object]

Fence = Callable[[], int | None]
"""The fencing token when this engine may change calls, else ``None``."""

MUTATING = frozenset({"POST", "PUT", "DELETE"})
FENCE_HEADER = "X-Hotline-Fence"


def encode_query(params: Query) -> dict[str, str]:
    """Query parameters as strings, ``None`` values left out."""
    encoded: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            encoded[key] = str(value)
        elif isinstance(value, Sequence):
            encoded[key] = ",".join(str(item) for item in value)
        else:
            raise TypeError(f"cannot send {key}={value!r} as an ARI query parameter")
    return encoded


def expand(template: str, path_params: Mapping[str, str]) -> str:
    """The concrete path of ``template``, each parameter percent-encoded whole."""
    path = template
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return path


def translate_error(
    status: int, method: str, template: str, path_params: Mapping[str, str], message: str
) -> AriHttpError:
    """The exception for an error status (see the module docstring)."""
    path = expand(template, path_params)
    if status == 404:
        missing_variable = "variable" in message.lower() and "channel" not in message.lower()
        on_channel = "channelId" in path_params and template.startswith("/channels/{channelId}")
        on_bridge = "bridgeId" in path_params and template.startswith("/bridges/{bridgeId}")
        if on_channel and not missing_variable:
            return ChannelGone(path_params["channelId"], method, path, message)
        if on_bridge and not missing_variable:
            return BridgeGone(path_params["bridgeId"], method, path, message)
        return AriNotFound(method, path, message)
    if status == 409:
        return AriConflict(method, path, message)
    return AriHttpError(status, method, path, message)


class AriHttp:
    """The REST half of the ARI connection: one aiohttp session, basic auth.

    ``base_url`` is the ARI root, e.g. ``http://127.0.0.1:8088/ari``.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        user_agent: str | None = None,
    ) -> None:
        self.base_url = URL(base_url.rstrip("/"))
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self.headers = {"Authorization": f"Basic {token}"}
        if user_agent:
            self.headers["User-Agent"] = user_agent
        self.fence: Fence | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            trace = aiohttp.TraceConfig()
            trace.on_connection_create_end.append(self._fence_again)
            trace.on_connection_reuseconn.append(self._fence_again)
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=self._timeout, trace_configs=[trace]
            )
        return self._session

    async def _fence_again(self, _: aiohttp.ClientSession, context: Any, __: object) -> None:
        fenced = context.trace_request_ctx
        if isinstance(fenced, tuple):
            self.fenced(*fenced)

    def set_fence(self, fence: Fence | None) -> None:
        """Ask ``fence`` before every request that changes something (see the module)."""
        self.fence = fence

    def fenced(self, method: str, path: str) -> dict[str, str] | None:
        """The headers a request of ``method`` carries; raises :class:`AriFenced` when
        the fence refuses it."""
        if self.fence is None or method not in MUTATING:
            return None
        token = self.fence()
        if token is None:
            raise AriFenced(method, path)
        return {FENCE_HEADER: str(token)}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> URL:
        return URL(str(self.base_url) + path, encoded=True)

    async def request(
        self,
        method: str,
        template: str,
        path_params: Mapping[str, str] | None = None,
        *,
        params: Query | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body (``None`` for 204)."""
        path_params = path_params or {}
        async with self._response(method, template, path_params, params, body) as response:
            data = await response.read()
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            path = expand(template, path_params)
            raise AriProtocolError(method, path, f"body is not JSON: {exc}") from exc

    async def request_bytes(
        self, method: str, template: str, path_params: Mapping[str, str] | None = None
    ) -> bytes:
        """Send one request and return the raw body (a stored recording's file)."""
        async with self._response(method, template, path_params or {}, None, None) as response:
            return await response.read()

    async def download(
        self, template: str, path_params: Mapping[str, str], destination: Path
    ) -> int:
        """Stream a GET body into ``destination``; return the bytes written."""
        size = 0
        async with self._response("GET", template, path_params, None, None) as response:
            with destination.open("wb") as sink:
                async for chunk in response.content.iter_chunked(1 << 16):
                    sink.write(chunk)
                    size += len(chunk)
        return size

    @contextlib.asynccontextmanager
    async def _response(
        self,
        method: str,
        template: str,
        path_params: Mapping[str, str],
        params: Query | None,
        body: Mapping[str, Any] | None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to a successful request; errors translated, also
        those raised while the caller reads the body."""
        path = expand(template, path_params)
        query = encode_query(params or {})
        headers = self.fenced(method, path)
        again = (method, path) if headers is not None else None
        try:
            async with self.session.request(
                method,
                self.url(path),
                params=query,
                json=body,
                headers=headers,
                trace_request_ctx=again,
            ) as response:
                if response.status >= 400:
                    text = await response.text(errors="replace")
                    message = _message(text, response)
                    raise translate_error(response.status, method, template, path_params, message)
                yield response
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise AriUnavailable(method, path, str(exc) or type(exc).__name__) from exc


def parse_model(model: type[M], data: Any, method: str, path: str) -> M:
    """Validate an answer against its model; :class:`AriProtocolError` if it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AriProtocolError(method, path, f"not a {model.__name__}: {exc}") from exc


def parse_models(model: type[M], data: Any, method: str, path: str) -> list[M]:
    if not isinstance(data, list):
        raise AriProtocolError(method, path, f"expected a list of {model.__name__}")
    return [parse_model(model, item, method, path) for item in data]


def _message(text: str, response: aiohttp.ClientResponse) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip() or response.reason or ""
    if isinstance(data, dict):
        for key in ("message", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return text.strip()
