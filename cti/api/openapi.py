"""The OpenAPI 3.1 document of the engine's HTTP API, built from the catalogue.

Every operation of :mod:`cti.api.spec`'s catalogue becomes one path item
with its parameters, request body, responses and security; the roles that
may call it are listed under ``x-roles`` and its endpoint class is its tag.
Schemas come from the pydantic models the handlers use, placed under
``components/schemas``.  A route the router serves under ``/api/`` that
nobody described is still listed (``x-undescribed``), with a permissive
schema, so the document never hides an endpoint; the faces tests require
that list to be empty.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from cti.api.schemas import Error
from cti.api.spec import Catalogue, Operation, catalogue

REF = "#/components/schemas/{model}"

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    206: "Partial content",
    400: "Bad input; the body names the field",
    401: "No valid bearer token",
    403: "The caller's role may not do this",
    404: "Unknown call, agent or resource",
    409: "Refused in the current state",
    413: "The body is larger than the engine accepts",
    416: "Range not satisfiable",
    422: "Refused: the request is valid but cannot be applied",
    426: "A WebSocket upgrade is required",
    429: "Too many failed logins from this client or for this account; see Retry-After",
    503: "A dependency (the database) is unavailable; try again",
}


class _Schemas:
    """Collects named schemas; a clash of two different schemas under one name is a bug."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def _merge(self, defs: dict[str, Any]) -> None:
        for name, schema in defs.items():
            known = self.named.get(name)
            if known is not None and known != schema:
                raise ValueError(f"two different schemas are named {name!r}")
            self.named[name] = schema

    def of(self, kind: Any, mode: str = "serialization") -> dict[str, Any]:
        """A schema for ``kind``: a ``$ref`` for a model, an inline schema otherwise."""
        schema = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        self._merge(schema.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            self._merge({kind.__name__: schema})
            return {"$ref": REF.format(model=kind.__name__)}
        return schema

    def raw(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = dict(schema)
        self._merge(schema.pop("$defs", {}))
        return schema


def _parameters(model: type[BaseModel], where: str, schemas: _Schemas) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    schemas._merge(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        params.append(param)
    return params


def _operation(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    item: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "x-roles": [role.value for role in op.roles],
    }
    if op.description:
        item["description"] = op.description
    params: list[dict[str, Any]] = []
    if op.path_params is not None:
        params += _parameters(op.path_params, "path", schemas)
    if op.query is not None:
        params += _parameters(op.query, "query", schemas)
    if params:
        item["parameters"] = params
    body: dict[str, Any] | None = None
    if op.body is not None:
        required = any(f.is_required() for f in op.body.model_fields.values())
        body = {"required": required, "schema": schemas.of(op.body, "validation")}
    elif op.body_schema is not None:
        body = {"required": False, "schema": schemas.raw(op.body_schema)}
    if body is not None:
        item["requestBody"] = {
            "required": body["required"],
            "content": {"application/json": {"schema": body["schema"]}},
        }
    item["security"] = [{"bearer": []}] if op.roles else []
    responses: dict[str, Any] = {}
    for status in op.statuses:
        text = STATUS_TEXT.get(status, "See the description")
        if status == op.status:
            if op.response_schema is not None:
                content = {op.produces: {"schema": schemas.raw(op.response_schema)}}
            elif op.response is not None:
                content = {op.produces: {"schema": schemas.of(op.response)}}
            else:
                content = {op.produces: {"schema": {}}}
            responses[str(status)] = {"description": text, "content": content}
        elif status in op.other:
            content = {"application/json": {"schema": schemas.of(op.other[status])}}
            responses[str(status)] = {"description": text, "content": content}
        else:
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
            }
    item["responses"] = responses
    return item


_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")


def _undescribed(app: web.Application, known: Catalogue) -> list[Operation]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith("/api/") or route.method in ("HEAD", "*"):
            continue
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        if known.find(route.method, path) is None:
            found.append((route.method, path))
    return [
        Operation(
            method=method,
            path=path,
            handler=None,
            operation_id=f"undescribed_{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path)}",
            summary="(not described)",
            tag="undescribed",
            response_schema={},
            errors=(400, 401, 403, 404, 409, 503),
        )
        for method, path in sorted(set(found))
    ]


def document(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    """The whole document for ``app`` as it is wired now."""
    schemas = _Schemas()
    schemas.of(Error)
    paths: dict[str, dict[str, Any]] = {}
    known = catalogue(app)
    extra = _undescribed(app, known)
    for op in [*known.operations, *extra]:
        item = _operation(op, schemas)
        if op.tag == "undescribed":
            item["x-undescribed"] = True
        params = [p for p in item.get("parameters", []) if p["in"] == "path"]
        missing = set(re.findall(r"\{([^}]+)\}", op.path)) - {p["name"] for p in params}
        for name in sorted(missing):
            item.setdefault("parameters", []).append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
        paths.setdefault(op.path, {})[op.method.lower()] = item
    tags = sorted({op.tag for op in [*known.operations, *extra]})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The 12345 hotline engine: agents, supervisors, administrators, the "
                "wallboard and metrics. Authenticate with `Authorization: Bearer <token>`; "
                "`x-roles` lists the roles admitted by each operation."
            ),
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.named.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
