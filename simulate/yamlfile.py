"""Reading a YAML input of the simulation (profile, roster) into its model.

Errors are reported as the configuration's are: ``file:line: key.path: message``
(one line, the first problem; the count of the others after it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from cti.config.yamlsrc import YamlParseError, locate, parse_yaml
from simulate.errors import SimulateError

M = TypeVar("M", bound=BaseModel)


def load_model(path: str | Path, model: type[M]) -> M:
    """The content of ``path`` as ``model``, or :class:`SimulateError` naming the line."""
    where = Path(path)
    try:
        raw = where.read_bytes()
    except OSError as exc:
        raise SimulateError(f"{path}: {(exc.strerror or str(exc)).lower()}") from exc
    try:
        doc = parse_yaml(where, raw)
    except YamlParseError as exc:
        raise SimulateError(f"{path}:{exc.line}: {exc.message}") from exc
    if doc.data is None:
        raise SimulateError(f"{path}:1: the file is empty")
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        line, key = locate(doc.tree, tuple(first["loc"]))
        message = _message(first)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        shown = f"{key}: {message}" if key else message
        raise SimulateError(f"{path}:{line}: {shown}{more}") from exc


def _message(error: object) -> str:
    assert isinstance(error, dict)
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "extra_forbidden":
        return f"unknown key {str(error['loc'][-1])!r}"
    text = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return text
