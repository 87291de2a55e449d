"""The ARI contract, read from the Swagger 1.2 resource files of Asterisk 22.

Two checks, both returning a list of human-readable problems (empty means the
value honours the contract):

- ``check_request(method, path, params, body=None)``: a REST request the
  engine would send.  The path (with or without the ``/ari`` prefix) must match
  a path template, the method must exist on it, every parameter name must be
  declared for that operation, every value must have the declared type
  (``string``, ``int``/``long``, ``boolean``, ``containers``/``object``), be
  one of ``allowableValues`` (a ``LIST`` or a ``RANGE``) and, for
  ``allowMultiple`` parameters, every comma-separated item must.  Required
  query parameters must be present.  Asterisk accepts a JSON body whose keys
  are parameters, so ``body`` keys are checked like ``params``.
- ``validate_model(model_name, value)``: a JSON value against a model of the
  ``models`` sections of every file (they share one namespace: ``events.json``
  refers to ``Channel`` of ``channels.json``).  ``List[X]``, primitives,
  ``Date`` (Asterisk's ``2026-11-21T23:13:07.662+0000``), ``object``, enums,
  required properties and unknown properties are checked.  Events use the
  ``Message`` -> ``Event`` -> ``StasisStart`` hierarchy of ``events.json``
  (``subTypes``, discriminator ``type``): a value validated as ``Message`` or
  ``Event`` is validated as the concrete model its ``type`` names, with every
  inherited property.

Unknown properties are reported because Asterisk never sends them: a typo in
a simulated event (``cause_text`` for ``cause_txt``) must fail a test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ARI_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk" / "ari"

_DATE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{4}|[+-]\d{2}:\d{2}|Z)$"
)
_INT_RE = re.compile(r"^-?\d+$")
_TRUE_FALSE = {"true", "false", "yes", "no", "1", "0", "on", "off"}
_LIST_RE = re.compile(r"^List\[(.+)\]$")
_PRIMITIVES = {"string", "int", "long", "double", "float", "boolean", "Date", "object", "binary"}


@dataclass(frozen=True)
class Param:
    """One declared parameter of an operation."""

    name: str
    kind: str  # "query", "path" or "body"
    data_type: str
    required: bool
    allow_multiple: bool
    values: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Operation:
    """One (path template, HTTP method) pair."""

    method: str
    template: str
    nickname: str
    response_class: str
    params: Mapping[str, Param]
    error_codes: frozenset[int]


@dataclass
class Spec:
    """Every operation and model of the resource files."""

    operations: dict[tuple[str, str], Operation] = field(default_factory=dict)
    templates: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    def ancestors(self, name: str) -> list[str]:
        """``name``'s ancestors, nearest first."""
        chain: list[str] = []
        while name in self.parent:
            name = self.parent[name]
            chain.append(name)
        return chain

    def descendants(self, name: str) -> set[str]:
        found: set[str] = set()
        stack = list(self.children.get(name, ()))
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(self.children.get(child, ()))
        return found

    def properties(self, name: str) -> dict[str, dict[str, Any]]:
        """Own and inherited properties of a model (the nearest definition wins)."""
        props: dict[str, dict[str, Any]] = {}
        for model in [*reversed(self.ancestors(name)), name]:
            props.update(self.models[model].get("properties", {}))
        return props

    def discriminator(self, name: str) -> str | None:
        for model in [name, *self.ancestors(name)]:
            disc = self.models[model].get("discriminator")
            if disc:
                return str(disc)
        return None


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


@cache
def load_spec(directory: str = str(ARI_DIR)) -> Spec:
    """Read every ``*.json`` resource file of ``directory`` (cached)."""
    spec = Spec()
    for path in sorted(Path(directory).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for api in doc.get("apis", []):
            template = api["path"]
            if template not in {t for t, _ in spec.templates}:
                spec.templates.append((template, _template_regex(template)))
            for op in api.get("operations", []):
                params: dict[str, Param] = {}
                for p in op.get("parameters", []):
                    allowable = p.get("allowableValues") or {}
                    values = None
                    if allowable.get("valueType") == "LIST":
                        values = tuple(str(v) for v in allowable.get("values", []))
                    params[p["name"]] = Param(
                        name=p["name"],
                        kind=p["paramType"],
                        data_type=p["dataType"],
                        required=bool(p.get("required")),
                        allow_multiple=bool(p.get("allowMultiple")),
                        values=values,
                        minimum=allowable.get("min")
                        if allowable.get("valueType") == "RANGE"
                        else None,
                        maximum=allowable.get("max")
                        if allowable.get("valueType") == "RANGE"
                        else None,
                    )
                method = op["httpMethod"].upper()
                spec.operations[(template, method)] = Operation(
                    method=method,
                    template=template,
                    nickname=op.get("nickname", ""),
                    response_class=op.get("responseClass", "void"),
                    params=params,
                    error_codes=frozenset(int(e["code"]) for e in op.get("errorResponses", [])),
                )
        for name, model in doc.get("models", {}).items():
            spec.models[name] = model
            for sub in model.get("subTypes", []):
                spec.parent[sub] = name
                spec.children.setdefault(name, []).append(sub)
    _as_asterisk_answers(spec)
    return spec


def _as_asterisk_answers(spec: Spec) -> None:
    """Where Asterisk 22.10.1 answers outside its own Swagger, the recording wins.

    ``Playback.state`` omits ``paused``, which ``GET /playbacks/{id}`` returns for a
    paused playback (``state_to_string`` in ``res_stasis_playback.c``; transcript
    ``playback_list_pause_unpause``).
    """
    state = spec.models.get("Playback", {}).get("properties", {}).get("state")
    if state is not None:
        values = state.setdefault("allowableValues", {}).setdefault("values", [])
        if "paused" not in values:
            values.append("paused")


def _strip_prefix(path: str) -> str:
    path = path.split("?", 1)[0]
    if path.startswith("/ari/"):
        path = path[4:]
    return path.rstrip("/") or "/"


def find_operation(method: str, path: str) -> tuple[Operation | None, dict[str, str], list[str]]:
    """The operation serving ``method path``, its path parameters, and problems."""
    spec = load_spec()
    path = _strip_prefix(path)
    matches: list[tuple[int, str, dict[str, str]]] = []
    for template, regex in spec.templates:
        m = regex.match(path)
        if m:
            matches.append((template.count("{"), template, m.groupdict()))
    if not matches:
        return None, {}, [f"{method} {path}: no such path template"]
    matches.sort(key=lambda item: item[0])
    for _, template, path_params in matches:
        op = spec.operations.get((template, method.upper()))
        if op is not None:
            return op, path_params, []
    templates = ", ".join(t for _, t, _ in matches)
    return None, {}, [f"{method} {path}: method not allowed on {templates}"]


def _check_scalar(where: str, value: Any, param: Param) -> list[str]:
    kind = param.data_type
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected string, got {type(value).__name__}"]
        if param.values is not None and value not in param.values:
            return [f"{where}: {value!r} not one of {list(param.values)}"]
        return []
    if kind in ("int", "long"):
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and _INT_RE.match(value))
        ):
            return [f"{where}: expected {kind}, got {value!r}"]
        number = int(value)
        if param.minimum is not None and number < param.minimum:
            return [f"{where}: {number} below minimum {param.minimum}"]
        if param.maximum is not None and number > param.maximum:
            return [f"{where}: {number} above maximum {param.maximum}"]
        return []
    if kind == "boolean":
        if isinstance(value, bool) or (isinstance(value, str) and value.lower() in _TRUE_FALSE):
            return []
        return [f"{where}: expected boolean, got {value!r}"]
    if kind in ("containers", "object"):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        return []
    return [f"{where}: unsupported parameter type {kind}"]


def _check_param(where: str, value: Any, param: Param) -> list[str]:
    if param.allow_multiple and param.data_type not in ("containers", "object"):
        items: list[Any]
        if isinstance(value, list | tuple):
            items = list(value)
        elif isinstance(value, str):
            items = value.split(",")
        else:
            items = [value]
        if not items:
            return [f"{where}: empty list"]
        problems: list[str] = []
        for item in items:
            problems.extend(_check_scalar(where, item, param))
        return problems
    if isinstance(value, list | tuple):
        return [f"{where}: one value expected, got a list"]
    return _check_scalar(where, value, param)


def check_request(
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
) -> list[str]:
    """Problems with an ARI request (empty list: the request honours the contract)."""
    op, path_params, problems = find_operation(method, path)
    if op is None:
        return problems
    where = f"{method.upper()} {op.template}"
    given: dict[str, Any] = dict(params or {})
    for key, value in (body or {}).items():
        declared = op.params.get(key)
        if declared is not None and declared.kind == "body":
            given[key] = value
        elif key in given:
            problems.append(f"{where}: parameter {key!r} given twice (query and body)")
        else:
            given[key] = value
    for name, value in given.items():
        param = op.params.get(name)
        if param is None:
            problems.append(f"{where}: unknown parameter {name!r}")
            continue
        if param.kind == "path":
            problems.append(f"{where}: {name!r} belongs in the path")
            continue
        problems.extend(_check_param(f"{where} {name}", value, param))
    for name, value in path_params.items():
        param = op.params.get(name)
        if param is not None and value:
            problems.extend(_check_param(f"{where} {name}", value, param))
    for param in op.params.values():
        if param.required and param.kind != "path" and param.name not in given:
            problems.append(f"{where}: missing required parameter {param.name!r}")
    return problems


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _validate(spec: Spec, type_name: str, value: Any, where: str) -> list[str]:
    list_match = _LIST_RE.match(type_name)
    if list_match:
        if not isinstance(value, list):
            return [f"{where}: expected {type_name}, got {_type_name(value)}"]
        problems: list[str] = []
        for index, item in enumerate(value):
            problems.extend(_validate(spec, list_match.group(1), item, f"{where}[{index}]"))
        return problems
    if type_name in _PRIMITIVES:
        return _validate_primitive(type_name, value, where)
    if type_name not in spec.models:
        return [f"{where}: unknown model {type_name}"]
    if not isinstance(value, dict):
        return [f"{where}: expected {type_name} object, got {_type_name(value)}"]
    concrete = type_name
    disc = spec.discriminator(type_name)
    family = spec.descendants(type_name)
    if disc is not None and family:
        named = value.get(disc)
        if not isinstance(named, str):
            return [f"{where}: {type_name} without a string {disc!r}"]
        if named != type_name:
            if named not in family:
                return [f"{where}: {disc} {named!r} is not a kind of {type_name}"]
            concrete = named
    elif disc is not None and value.get(disc) not in (None, type_name):
        return [f"{where}: {disc} is {value.get(disc)!r}, expected {type_name!r}"]
    props = spec.properties(concrete)
    problems = []
    for name, prop in props.items():
        if name not in value:
            if prop.get("required"):
                problems.append(f"{where}: missing required property {name!r} of {concrete}")
            continue
        problems.extend(_validate_property(spec, prop, value[name], f"{where}.{name}"))
    for name in value:
        if name not in props:
            problems.append(f"{where}: unknown property {name!r} for {concrete}")
    return problems


def _validate_property(spec: Spec, prop: Mapping[str, Any], value: Any, where: str) -> list[str]:
    problems = _validate(spec, str(prop["type"]), value, where)
    allowable = prop.get("allowableValues") or {}
    if not problems and allowable.get("valueType") == "LIST" and value not in allowable["values"]:
        problems.append(f"{where}: {value!r} not one of {allowable['values']}")
    return problems


def _validate_primitive(type_name: str, value: Any, where: str) -> list[str]:
    ok: bool
    if type_name == "string":
        ok = isinstance(value, str)
    elif type_name in ("int", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name in ("double", "float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name == "boolean":
        ok = isinstance(value, bool)
    elif type_name == "Date":
        ok = isinstance(value, str) and bool(_DATE_RE.match(value))
    elif type_name == "object":
        ok = isinstance(value, dict)
    else:  # binary
        ok = True
    return [] if ok else [f"{where}: expected {type_name}, got {value!r}"]


def validate_model(model_name: str, value: Any) -> list[str]:
    """Problems with ``value`` as an instance of ``model_name`` (or ``List[...]``)."""
    return _validate(load_spec(), model_name, value, model_name)


def response_model(method: str, path: str) -> str | None:
    """The ``responseClass`` of the operation serving ``method path`` (None if unknown)."""
    op, _, _ = find_operation(method, path)
    return None if op is None else op.response_class


def model_names() -> set[str]:
    """Every model name across the resource files."""
    return set(load_spec().models)
