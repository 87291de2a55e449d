"""Load a configuration directory: every file parsed, validated and cross-checked.

:func:`check_config` never stops at the first problem: a file that is not
YAML, a missing file, every pydantic error of every file and every
cross-file problem are collected, each as ``file:line: key.path: message``.
Cross-file checks run for the files that validated on their own (a check
that needs an invalid file is skipped, rather than adding follow-on noise).
:func:`load_config` is the same with an exception instead of a report.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cti.config.config import Config
from cti.config.crossref import Report, cross_check
from cti.config.errors import ConfigDirectoryMissing, ConfigInvalid, ConfigIssue
from cti.config.sections import OPTIONAL, SECTIONS
from cti.config.yamlsrc import Loc, YamlDocument, YamlParseError, locate, parse_yaml

CONFIG_FILES: tuple[str, ...] = tuple(f"{name}.yaml" for name in SECTIONS)
"""The files of a configuration directory (all required but those of ``OPTIONAL``)."""

_SECRET_KEY = re.compile(r"(password|passwd|secret|token|pin)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of checking a directory: issues, and the config when valid."""

    directory: str
    issues: tuple[ConfigIssue, ...]
    config: Config | None
    digest: str
    """sha256 (hex) over the names and bytes of the configuration files."""

    @property
    def ok(self) -> bool:
        return self.config is not None

    @property
    def errors(self) -> tuple[ConfigIssue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[ConfigIssue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")


def read_files(directory: Path) -> dict[str, bytes | None]:
    """The bytes of every configuration file (None when missing)."""
    out: dict[str, bytes | None] = {}
    for name in SECTIONS:
        path = directory / f"{name}.yaml"
        out[name] = path.read_bytes() if path.is_file() else None
    return out


def digest_of(files: dict[str, bytes | None]) -> str:
    """sha256 over ``name NUL length NUL bytes`` of each present file, in name order."""
    sha = hashlib.sha256()
    for name in sorted(files):
        raw = files[name]
        if raw is not None:
            sha.update(f"{name}.yaml\0{len(raw)}\0".encode())
            sha.update(raw)
    return sha.hexdigest()


def check_config(directory: str | Path) -> CheckResult:
    """Check a configuration directory and report every problem found.

    Raises :class:`ConfigDirectoryMissing` when ``directory`` is not a
    directory; every other problem is an issue in the result.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ConfigDirectoryMissing(str(directory))
    files = read_files(root)
    return check_files(str(directory), files)


def check_files(directory: str, files: dict[str, bytes | None]) -> CheckResult:
    """Check already-read files (``name -> bytes``); see :func:`check_config`."""
    root = Path(directory)
    display = {name: str(root / f"{name}.yaml") for name in SECTIONS}
    issues: list[ConfigIssue] = []
    trees: dict[str, Any] = {}
    models: dict[str, BaseModel] = {}
    for name, model in SECTIONS.items():
        raw = files.get(name)
        shown = display[name]
        if raw is None:
            if name in OPTIONAL:
                models[name] = model()
            else:
                issues.append(ConfigIssue(shown, 1, "", "required file is missing"))
            continue
        try:
            doc = parse_yaml(root / f"{name}.yaml", raw)
        except YamlParseError as exc:
            issues.append(ConfigIssue(shown, exc.line, "", exc.message))
            continue
        trees[name] = doc.tree
        if doc.data is None:
            issues.append(ConfigIssue(shown, 1, "", "the file is empty"))
            continue
        try:
            models[name] = model.model_validate(doc.data)
        except ValidationError as exc:
            issues.extend(_pydantic_issues(shown, doc, model, exc))
    if root.is_dir():
        issues.extend(_stray_files(root))
    report = Report(display, trees)
    cross_check(models, report)
    issues.extend(report.issues)
    digest = digest_of(files)
    config = None
    if not any(i.severity == "error" for i in issues):
        config = Config.build(directory, **models)
    return CheckResult(directory, tuple(issues), config, digest)


def load_config(directory: str | Path) -> Config:
    """The valid configuration in ``directory``, or :class:`ConfigInvalid` with every issue."""
    result = check_config(directory)
    if result.config is None:
        raise ConfigInvalid(str(directory), result.issues)
    return result.config


def _stray_files(root: Path) -> Iterator[ConfigIssue]:
    known = set(CONFIG_FILES)
    for path in sorted(root.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.name not in known:
            close = difflib.get_close_matches(path.name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            yield ConfigIssue(
                str(root / path.name), 1, "", f"not a configuration file{hint}", "warning"
            )


def _pydantic_issues(
    shown: str, doc: YamlDocument, model: type[BaseModel], exc: ValidationError
) -> Iterator[ConfigIssue]:
    errors = exc.errors(include_url=False)
    for error in errors:
        loc: Loc = tuple(error["loc"])
        # A sequence whose bad item was dropped is also reported too short: noise.
        if error["type"] == "too_short" and any(
            tuple(other["loc"][: len(loc)]) == loc and len(other["loc"]) > len(loc)
            for other in errors
        ):
            continue
        line, path = locate(doc.tree, loc)
        yield ConfigIssue(shown, line, path, _message(error, model))


def _message(error: Any, model: type[BaseModel]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = sorted(_allowed_keys(model, loc[:-1]))
        text = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            text += f"; did you mean {close[0]!r}?"
        elif allowed:
            text += f" (allowed: {', '.join(allowed)})"
        if _SECRET_KEY.search(key):
            text += "; secrets never go in YAML: name an environment variable in a *_env key"
        return text
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _allowed_keys(model: type[BaseModel], loc: Loc) -> set[str]:
    """The keys the schema allows at ``loc`` (best effort, for 'did you mean')."""
    schema = _schema(model)
    defs: dict[str, Any] = schema.get("$defs", {})

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        options = node.get("anyOf")
        if options:
            real = [o for o in options if o.get("type") != "null"]
            if len(real) == 1:
                return deref(real[0])
        return node

    node = deref(schema)
    for segment in loc:
        mapping = node.get("discriminator", {}).get("mapping", {})
        if isinstance(segment, str) and segment in mapping:
            node = deref({"$ref": mapping[segment]})
            continue
        props = node.get("properties", {})
        if isinstance(segment, str) and segment in props:
            node = deref(props[segment])
        elif isinstance(node.get("additionalProperties"), dict):
            node = deref(node["additionalProperties"])
        elif node.get("patternProperties"):
            node = deref(next(iter(node["patternProperties"].values())))
        elif isinstance(segment, int) and isinstance(node.get("items"), dict):
            node = deref(node["items"])
        else:
            return set()
    return set(node.get("properties", {}))
