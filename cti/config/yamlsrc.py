"""Reading YAML while keeping line numbers, and finding the line of a key path.

ruamel.yaml's round-trip loader records where every mapping key and sequence
item starts (``node.lc.key(k)``, ``node.lc.item(i)``; 0-based).  The file is
parsed once into that tree; :func:`plain` turns it into ordinary Python values
for pydantic (so strictness is judged on ``str``/``int``/``dict``, never on
ruamel's subclasses), and :func:`locate` walks a pydantic error location back
through the tree to the line the administrator has to fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One parsed file: its bytes (for the version hash), tree and plain data."""

    path: Path
    raw: bytes
    tree: Any
    data: Any


class YamlParseError(Exception):
    """The file is not YAML; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Constructor(RoundTripConstructor):
    """The round-trip constructor, with its bare exceptions given a line.

    ruamel raises a plain ``ValueError`` (no line, no file) for a value its
    tag cannot hold: an impossible date such as ``2015-13-01`` or
    ``2026-04-31``, ``!!int abc``, ``!!bool maybe``.  A timestamp that is no
    real date stays the text as written, so the field's own validator reports
    it at its key path (``platform.yaml:17: transition.go_live: '2015-13-01'
    is not a calendar date``); any other such value becomes a YAML error at
    its line.
    """

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return str(node.value)

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            shown = str(node.tag if tag is None else tag).replace("tag:yaml.org,2002:", "!!")
            raise ConstructorError(
                None, None, f"{node.value!r} cannot be read as {shown}", node.start_mark
            ) from exc


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def parse_yaml(path: Path, raw: bytes) -> YamlDocument:
    """Parse ``raw`` (the bytes of ``path``) or raise :class:`YamlParseError`.

    Duplicate keys are parse errors (ruamel refuses them), as is text that is
    not UTF-8.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlParseError(line, "the file is not UTF-8 text") from exc
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlParseError(line, f"YAML syntax: {what}".rstrip()) from exc
    except YAMLError as exc:
        raise YamlParseError(1, f"YAML syntax: {exc}") from exc
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        # A value the constructor could not hold, found after its node was left.
        raise YamlParseError(1, f"YAML value: {exc}") from exc
    try:
        data = plain(tree)
    except _TooLarge as exc:
        raise YamlParseError(1, str(exc)) from exc
    return YamlDocument(path=path, raw=raw, tree=tree, data=data)


MAX_VALUES = 200_000
"""More values than any real deployment has: a file past it (e.g. YAML aliases
nested to expand into millions of values) is refused, not expanded."""


class _TooLarge(Exception):
    pass


def plain(node: Any, budget: list[int] | None = None) -> Any:
    """The tree as plain ``dict``/``list``/``str``/``int``/``float``/``bool``/dates.

    Aliases are expanded, within :data:`MAX_VALUES` values in all.
    """
    if budget is None:
        budget = [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge(f"the file expands to more than {MAX_VALUES} values (YAML aliases?)")
    if isinstance(node, dict):
        return {plain(k, budget): plain(v, budget) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [plain(v, budget) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime):
        return dt.datetime.fromisoformat(node.isoformat())
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    return node


def _find_key(mapping: dict[Any, Any], segment: str | int) -> tuple[bool, Any]:
    if segment in mapping:
        return True, segment
    text = str(segment)
    for key in mapping:
        if str(key) == text:
            return True, key
    return False, None


def _line_of_key(mapping: Any, key: Any, default: int) -> int:
    lc = getattr(mapping, "lc", None)
    try:
        return int(lc.key(key)[0]) + 1 if lc is not None else default
    except (KeyError, TypeError, AttributeError):
        return default


def _line_of_item(seq: Any, index: int, default: int) -> int:
    lc = getattr(seq, "lc", None)
    try:
        return int(lc.item(index)[0]) + 1 if lc is not None else default
    except (KeyError, TypeError, AttributeError, IndexError):
        return default


def format_path(parts: Sequence[str | int]) -> str:
    """``("queues", "general", "skills", 0)`` -> ``queues.general.skills[0]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate(tree: Any, loc: Loc) -> tuple[int, str]:
    """The 1-based line and the key path of ``loc`` inside ``tree``.

    ``loc`` is a pydantic error location or a cross-check's path.  Segments
    that name nothing in the data (pydantic's union tags, ``[key]``) are
    skipped; a final segment naming a missing key (a required field) is kept
    in the path and reported at the line of the mapping that lacks it.
    """
    node = tree
    line = int(tree.lc.line) + 1 if hasattr(tree, "lc") and tree.lc.line is not None else 1
    parts: list[str | int] = []
    for position, segment in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict):
            found, key = _find_key(node, segment)
            if found:
                line = _line_of_key(node, key, line)
                parts.append(str(segment))
                node = node[key]
            elif last and isinstance(segment, str) and not segment.startswith("["):
                parts.append(segment)
            continue
        if isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            line = _line_of_item(node, segment, line)
            parts.append(segment)
            node = node[segment]
            continue
    return line, format_path(parts)


def find_value(tree: Any, value: str) -> Loc | None:
    """The location of the first scalar equal to ``value`` (depth first), or None.

    Used to place a dangling reference reported without a location.
    """

    def walk(node: Any, here: Loc) -> Loc | None:
        if isinstance(node, dict):
            for key, child in node.items():
                found = walk(child, (*here, str(key)))
                if found is not None:
                    return found
        elif isinstance(node, list):
            for index, child in enumerate(node):
                found = walk(child, (*here, index))
                if found is not None:
                    return found
        elif isinstance(node, str) and str(node) == value:
            return here
        return None

    return walk(tree, ())
