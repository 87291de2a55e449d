"""The Asterisk nodes: their state, and draining one for maintenance.

``GET /api/nodes`` lists the nodes (``engine.yaml`` ``nodes:``; an empty list
with one implicit node).  ``POST /api/nodes/{name}/drain`` with
``{"drain": true}`` drains a node: it takes no new call (a caller arriving
there is refused with SIP 503, and Kamailio's dispatcher tries the next node)
and finishes the calls it holds; ``{"drain": false}`` takes it back.  Every
drain request is audited (action ``node_drain`` / ``node_undrain``).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from cti.api.agents import ENGINE
from cti.api.audit import mark_audited
from cti.api.auth import Role
from cti.api.http import ApiError, body_of, path_of, principal
from cti.api.spec import Operation, register, reply
from cti.appkeys import NODES
from cti.executor.nodes import UnknownNode

log = structlog.get_logger("cti.api")

TAG = "nodes"
OPERATORS = (Role.SUPERVISOR, Role.ADMIN)


class NodeView(BaseModel):
    name: str
    state: str = Field(description="up, draining or down")
    ari: str = Field(description="the ARI link's state")
    ami: str = Field(description="the AMI link's state (absent without AMI)")
    calls: int = Field(description="calls in progress on the node")
    refused: int = Field(description="callers refused since start while drained or down")
    lost: int = Field(description="times the node was marked down since start")


class NodePath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$", description="the node's name")


class DrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drain: StrictBool = Field(description="true: no new calls on the node; false: take it back")


def views(app: web.Application) -> list[dict[str, Any]]:
    nodes = app.get(NODES)
    return nodes.view() if nodes is not None else []


async def list_nodes(request: web.Request) -> web.Response:
    principal(request, *OPERATORS)
    return reply([NodeView(**v) for v in views(request.app)], kind=list[NodeView])


async def drain(request: web.Request) -> web.Response:
    who = principal(request, *OPERATORS)
    name = path_of(request, NodePath).name
    wanted = (await body_of(request, DrainRequest)).drain
    nodes = request.app.get(NODES)
    engine = request.app[ENGINE]
    try:
        if nodes is None:
            raise UnknownNode(name)
        node = nodes.drain(name, wanted)
    except UnknownNode:
        raise ApiError(404, "no_node", f"no Asterisk node {name!r}") from None
    engine.writer.submit(
        "audit",
        {
            "at": engine.now_dt(),
            "actor": who.id,
            "role": who.role.value,
            "action": "node_drain" if wanted else "node_undrain",
            "target": f"node:{name}",
            "allowed": True,
            "detail": {},
        },
    )
    mark_audited(request)
    log.warning("node_drain_requested", node=name, drain=wanted, by=who.id)
    found = next(v for v in nodes.view() if v["name"] == node.name)
    return reply(NodeView(**found))


def add_routes(app: web.Application) -> None:
    ops = [
        Operation("GET", "/api/nodes", list_nodes, "nodes_list",
                  "The Asterisk nodes and their state (empty with one node)", TAG, OPERATORS,
                  response=list[NodeView]),
        Operation("POST", "/api/nodes/{name}/drain", drain, "node_drain",
                  "Drain a node (no new calls, those in progress finish) or take it back",
                  TAG, OPERATORS, path_params=NodePath, body=DrainRequest, response=NodeView,
                  errors=(404,)),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
