"""The HTTP server's connections: a cap per client address and an access log that hides.

:class:`ConnectionCap` counts the open connections of each client address
on the aiohttp server and closes a new one beyond the cap at once (a
client holding hundreds of idle or half-sent requests cannot take the
sockets of everyone else); the server's keep-alive timeout, set from
``engine.yaml`` ``security.header_timeout_seconds``, closes a connection
whose request head is not complete in time.  :class:`MaskedAccessLogger`
writes one line per request with secrets dropped from the query, numbers
masked (:func:`cti.logs.mask_target`), and no ``Referer``.
:func:`server_logger` is the server's own logger: a request the HTTP parser
refuses (a request line or header over the limits, bytes that are not HTTP)
is one warning line naming the refusal, without a traceback and without
the bytes sent (they may hold a token or a number).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from cti.logs import mask_target

log = structlog.get_logger("cti.api.connections")


class ConnectionCap:
    """At most ``per_address`` open connections from one client address."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self.open: Counter[str] = Counter()
        self.refused = 0
        self._counted: dict[Any, str] = {}

    def __repr__(self) -> str:
        return f"<ConnectionCap per_address={self.per_address} addresses={len(self.open)}>"

    def install(self, server: web.Server) -> None:
        """Hook the server's connection callbacks (called for every accepted socket)."""
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if address and self.open[address] >= self.per_address:
                self.refused += 1
                if self.refused == 1 or self.refused % 100 == 0:
                    log.warning("connection_refused_over_cap", refused=self.refused)
                transport.abort()
                made(handler, transport)
                return
            if address:
                self.open[address] += 1
                self._counted[handler] = address
            made(handler, transport)

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            address = self._counted.pop(handler, None)
            if address is not None:
                self.open[address] -= 1
                if self.open[address] <= 0:
                    del self.open[address]
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]


class MaskedAccessLogger(AbstractAccessLogger):
    """``address "METHOD target" status bytes seconds user-agent``, with the target masked."""

    def log(self, request: Any, response: Any, time: float) -> None:
        try:
            target = mask_target(request.rel_url.raw_path_qs if request.rel_url else "")
            agent = str(request.headers.get("User-Agent", ""))[:120]
            self.logger.info(
                '%s "%s %s" %s %s %.3f "%s"',
                request.remote or "-",
                request.method,
                target,
                response.status,
                response.body_length,
                time,
                agent,
            )
        except Exception:
            self.logger.exception("access_log_failed")


class _ParseRefusals(logging.Filter):
    """Turns aiohttp's traceback for a request it could not parse into one plain line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "http_request_refused status=%s refusal=%s"
            record.args = (exc.code, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


def server_logger() -> logging.Logger:
    """The logger the HTTP server reports its own errors to (see the module docstring)."""
    logger = logging.getLogger("cti.http.server")
    if not any(isinstance(f, _ParseRefusals) for f in logger.filters):
        logger.addFilter(_ParseRefusals())
    return logger


def hide_server_version(name: str) -> None:
    """Answers the HTTP parser itself makes (a request it cannot read) name ``name`` too.

    Those answers never reach the application's ``on_response_prepare``
    (:func:`cti.api.http.secure_headers`), so aiohttp's default ``Server``
    value, which names Python's and aiohttp's versions, is replaced at its
    source.
    """
    from aiohttp import web_response

    web_response.SERVER_SOFTWARE = name  # type: ignore[attr-defined]
