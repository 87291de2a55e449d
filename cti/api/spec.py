"""Endpoints as data: each route is registered with what it takes, answers and admits.

An :class:`Operation` names its method and path, its handler, the roles
that may call it (its *endpoint class*, the OpenAPI tag), the pydantic
models of its path parameters, query and body, and the type of its ``200``
body.  :func:`register` adds the route to the aiohttp router and the
operation to the application's :class:`Catalogue`; the OpenAPI document
(:mod:`cti.api.openapi`) is built from that catalogue, so what is described
is what is served.

Error statuses are derived: an operation with roles answers ``401`` and
``403``; one with any input answers ``400``; every other status it may
answer is listed in ``errors`` (with the error body) or in ``other``
(with the type of its body).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from cti.api.auth import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Operation:
    """One documented endpoint (see the module docstring)."""

    method: str
    path: str
    handler: Handler | None
    operation_id: str
    summary: str
    tag: str
    roles: tuple[Role, ...] = ()
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_schema: dict[str, Any] | None = None
    response: Any = None
    response_schema: dict[str, Any] | None = None
    status: int = 200
    produces: str = "application/json"
    errors: tuple[int, ...] = ()
    description: str = ""
    other: dict[int, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Operation {self.method} {self.path} {self.tag}>"

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every status the operation may answer, sorted."""
        found = {self.status, *self.errors, *self.other}
        if self.roles:
            found |= {401, 403, 429}  # 429: the client address is locked out
        if self.path_params or self.query or self.body or self.body_schema:
            found.add(400)
        if self.body or self.body_schema:
            found.add(413)
        return tuple(sorted(found))


class Catalogue:
    """The operations of one application, in registration order."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def __repr__(self) -> str:
        return f"<Catalogue {len(self.operations)} operations>"

    def add(self, operation: Operation) -> None:
        for known in self.operations:
            if (known.method, known.path) == (operation.method, operation.path):
                raise ValueError(f"{operation.method} {operation.path} described twice")
        self.operations.append(operation)

    def find(self, method: str, path: str) -> Operation | None:
        for operation in self.operations:
            if operation.method == method and operation.path == path:
                return operation
        return None


CATALOGUE = web.AppKey("api_catalogue", Catalogue)


def catalogue(app: web.Application) -> Catalogue:
    """The application's catalogue, created on first use."""
    if CATALOGUE not in app:
        app[CATALOGUE] = Catalogue()
    return app[CATALOGUE]


def register(app: web.Application, operation: Operation) -> None:
    """Serve ``operation`` and describe it."""
    if operation.handler is None:
        raise ValueError(f"{operation!r} has no handler")
    app.router.add_route(operation.method, operation.path, operation.handler)
    catalogue(app).add(operation)


def describe(app: web.Application, operation: Operation) -> None:
    """Describe a route that another module serves."""
    catalogue(app).add(operation)


def reply(value: Any, *, status: int = 200, kind: Any = None) -> web.Response:
    """Serialise ``value`` (a model, or anything ``kind`` describes) as JSON."""
    if isinstance(value, BaseModel) and kind is None:
        text = value.model_dump_json()
    else:
        adapter: TypeAdapter[Any] = TypeAdapter(kind if kind is not None else type(value))
        text = adapter.dump_json(value).decode()
    return web.Response(text=text, status=status, content_type="application/json")
