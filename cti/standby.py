"""The HTTP face of an engine that is one of several (:mod:`cti.availability`).

Every engine serves HTTP, but only the active one serves the pages and the
API: a standby (or a deposed engine on its way back to standby) answers
``/healthz`` and ``/metrics``, and ``503`` with ``Retry-After`` and the active
engine's address to everything else (:func:`gate`).  ``/healthz/active``
answers ``200`` on the engine that drives calls and ``503`` elsewhere: what a
front proxy checks to send browsers to the active engine
(``deploy/haproxy/haproxy.cfg``).

:func:`install` puts the engine's :class:`~cti.availability.Availability` in
the application and ties it to the parts it fences: the ARI client asks it
before every request that changes a call and gives the engine up when the
application is replaced; the buffered writer drops what a deposed engine would
still record.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from cti.appkeys import ARI, AVAILABILITY, NODES, WRITER
from cti.availability import Availability, Role
from cti.errors import StoreError
from cti.lease import Lease

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = ("/healthz", "/metrics")
SINGLE = "single"


def role_of(app: web.Application) -> str:
    """``single`` (no ``availability:``), or the engine's :class:`Role`."""
    availability = app.get(AVAILABILITY)
    return SINGLE if availability is None else str(availability.role)


async def healthz_active(request: web.Request) -> web.Response:
    """``200`` on the engine that drives calls, ``503`` on a standby."""
    role = role_of(request.app)
    if role in (SINGLE, str(Role.ACTIVE)):
        return web.json_response({"role": role})
    body = {"role": role, "error": role, "message": f"this engine is {role}"}
    return web.json_response(body, status=503)


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only the active engine serves the pages and the API (see the module)."""
    availability = request.app.get(AVAILABILITY)
    if (
        availability is None
        or availability.role is Role.ACTIVE
        or request.path.startswith(OPEN_PATHS)
    ):
        return await handler(request)
    body = {
        "error": "standby",
        "message": "this engine is standing by; the active engine serves this",
        "active": await active_address(availability),
    }
    return web.json_response(body, status=503, headers={"Retry-After": "1"})


async def active_address(availability: Availability) -> str:
    """The active engine's address; asked of the database when not yet known (a
    standby that has just started has not read the lease yet)."""
    if not availability.holder_address and availability.role is Role.STANDBY:
        with contextlib.suppress(StoreError):
            await availability.lease.look()
    return availability.holder_address


def holder_name(node: str | None) -> str:
    """This process's name in the lease row: the node, the process, a random part."""
    return f"{node or 'engine'}/{os.getpid()}-{secrets.token_hex(3)}"


def install(
    app: web.Application,
    lease: Lease,
    *,
    renew_seconds: float,
    activate: Callable[[], Awaitable[None]],
) -> Availability:
    """Make the engine of ``app`` one of several, competing for ``lease``."""
    availability = Availability(lease, renew_seconds=renew_seconds, activate=activate)
    app[AVAILABILITY] = availability
    nodes = app.get(NODES)
    clients = [node.ari for node in nodes.nodes] if nodes is not None else [app[ARI]]
    for ari in clients:
        ari.http.set_fence(availability.fence)
        ari.on_replaced(lambda reason: availability.depose(f"ARI application lost: {reason}"))
    app[WRITER].admit = availability.may_write
    return availability
