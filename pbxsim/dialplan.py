"""extensions.conf as pbxsim reads it: contexts, extensions, priorities, expressions.

pbxsim runs the dialplan it is given (the shipped ``asterisk-conf/extensions.conf``
unless told otherwise), so a change to the dialplan is exercised by the tests.
This module is the pure part: parsing the file (``#include``, ``#tryinclude``,
``[globals]``, ``exten =>``, ``same =>``, ``n`` priorities and ``n(label)``),
finding the extension a dialled number matches (an exact name first, then the
``_`` patterns, the most specific first, as ``pbx.c`` orders them), and
substituting ``${...}`` and evaluating ``$[...]`` as the dialplan does.  Running
the applications is :mod:`pbxsim.pbx`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SimError

SHIPPED_DIALPLAN = (Path(__file__).parent / "asterisk-conf" / "extensions.conf").resolve()
"""The shipped dialplan: ``asterisk-conf/`` at the top of a checkout (this package holds a
symbolic link to it), or the copy a built wheel carries."""


class DialplanError(SimError):
    """extensions.conf cannot be read: the file and line, and why."""


@dataclass(frozen=True)
class Step:
    """One priority: ``app(data)``, with ``data`` still holding its ``${...}``."""

    priority: int
    app: str
    data: str
    label: str | None = None


@dataclass
class Extension:
    name: str
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    def matches(self, exten: str) -> bool:
        if not self.name.startswith("_"):
            return self.name == exten
        return _pattern(self.name).fullmatch(exten) is not None


@dataclass
class Context:
    name: str
    extensions: dict[str, Extension] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """A parsed dialplan."""

    contexts: dict[str, Context] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        plan = cls(source=str(path))
        _Parser(plan).read(Path(path), required=True)
        return plan

    @classmethod
    def parse(cls, text: str, name: str = "<dialplan>") -> Plan:
        plan = cls(source=name)
        _Parser(plan).feed(text, Path(name), Path("."))
        return plan

    def extension(self, context: str, exten: str) -> Extension | None:
        """The extension ``exten`` dials in ``context`` (following ``include =>``)."""
        return self._find(context, exten, set())

    def _find(self, context: str, exten: str, seen: set[str]) -> Extension | None:
        found = self.contexts.get(context)
        if found is None or context in seen:
            return None
        seen.add(context)
        exact = found.extensions.get(exten)
        if exact is not None and not exact.name.startswith("_"):
            return exact
        patterns = [e for e in found.extensions.values() if e.name.startswith("_")]
        for candidate in sorted(patterns, key=_specificity):
            if candidate.matches(exten):
                return candidate
        for included in found.includes:
            match = self._find(included, exten, seen)
            if match is not None:
                return match
        return None

    def step(self, context: str, exten: str, priority: int) -> Step | None:
        extension = self.extension(context, exten)
        return extension.steps.get(priority) if extension is not None else None

    def label(self, context: str, exten: str, label: str) -> int | None:
        extension = self.extension(context, exten)
        return extension.labels.get(label) if extension is not None else None


def ari_channelvars(path: Path) -> tuple[str, ...]:
    """``ari.conf``'s ``[general] channelvars`` (empty when the file or the key is absent)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ()
    section = ""
    for raw in text.splitlines():
        line = _strip_comment(raw).strip()
        if line.startswith("["):
            section = line[1 : line.find("]")].strip()
        elif section == "general" and "=" in line:
            key, _, value = line.partition("=")
            if key.strip() == "channelvars":
                return tuple(v.strip() for v in value.removeprefix(">").split(",") if v.strip())
    return ()


def _specificity(extension: Extension) -> tuple[int, int, str]:
    """Patterns that match fewer numbers first (a rough ``ast_extension_cmp``)."""
    body = extension.name[1:]
    open_ended = sum(body.count(c) for c in ".!")
    literal = sum(1 for c in body if c.isdigit() or c in "*#+")
    return (open_ended, -literal, body)


_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


def _pattern(name: str) -> re.Pattern[str]:
    out: list[str] = []
    body = name[1:]
    index = 0
    while index < len(body):
        char = body[index]
        upper = char.upper()
        if upper in _CLASSES:
            out.append(_CLASSES[upper])
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        elif char == "[":
            end = body.find("]", index)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append("[" + body[index + 1 : end].replace("\\", "") + "]")
                index = end
        elif char not in "-":
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


class _Parser:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.context: str | None = None
        self.last_exten: str | None = None
        self.last_priority = 0

    def read(self, path: Path, *, required: bool) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            if not required:
                return
            raise DialplanError(f"{path}: cannot read the dialplan: {exc.strerror}") from None
        self.feed(text, path, path.parent)

    def feed(self, text: str, path: Path, base: Path) -> None:
        for number, raw in enumerate(text.splitlines(), 1):
            line = _strip_comment(raw).strip()
            if not line:
                continue
            where = f"{path}:{number}"
            if line.startswith("#"):
                self.directive(line, base, where)
            elif line.startswith("["):
                self.section(line, where)
            else:
                self.entry(line, where)

    def directive(self, line: str, base: Path, where: str) -> None:
        word, _, rest = line.partition(" ")
        name = rest.strip().strip('"').strip("<>")
        if word not in ("#include", "#tryinclude") or not name:
            raise DialplanError(f"{where}: unknown directive {line!r}")
        target = Path(name) if Path(name).is_absolute() else base / name
        self.read(target, required=word == "#include")

    def section(self, line: str, where: str) -> None:
        end = line.find("]")
        if end < 0:
            raise DialplanError(f"{where}: a context name needs a closing ]")
        self.context = line[1:end].strip()
        self.last_exten = None
        if self.context not in ("general", "globals"):
            self.plan.contexts.setdefault(self.context, Context(self.context))

    def entry(self, line: str, where: str) -> None:
        if self.context is None:
            raise DialplanError(f"{where}: {line!r} outside any [context]")
        if self.context == "general":
            return
        key, sep, value = line.partition("=")
        if not sep:
            raise DialplanError(f"{where}: expected 'key => value', got {line!r}")
        key = key.strip()
        value = value.removeprefix(">").strip()
        if self.context == "globals":
            self.plan.globals[key] = value
            return
        context = self.plan.contexts[self.context]
        if key == "include":
            context.includes.append(value)
        elif key in ("exten", "same"):
            self.extension_line(context, key, value, where)
        elif key not in ("switch", "ignorepat"):
            raise DialplanError(f"{where}: unknown keyword {key!r}")

    def extension_line(self, context: Context, key: str, value: str, where: str) -> None:
        if key == "exten":
            name, _, value = value.partition(",")
            name = name.strip()
            if not name:
                raise DialplanError(f"{where}: an extension needs a name")
        else:
            if self.last_exten is None:
                raise DialplanError(f"{where}: 'same =>' with no extension before it")
            name = self.last_exten
        priority_text, _, call = value.partition(",")
        priority_text = priority_text.strip()
        label = None
        match = re.fullmatch(r"([^()]+)(?:\((\w+)\))?", priority_text)
        if match is None:
            raise DialplanError(f"{where}: bad priority {priority_text!r}")
        number, label = match.group(1).strip(), match.group(2)
        if number == "hint":
            return
        if number == "n":
            priority = self.last_priority + 1 if name == self.last_exten else 1
        elif number.isdigit():
            priority = int(number)
        else:
            raise DialplanError(f"{where}: bad priority {priority_text!r}")
        app, data = _split_call(call.strip())
        extension = context.extensions.setdefault(name, Extension(name))
        extension.steps[priority] = Step(priority, app, data, label)
        if label:
            extension.labels[label] = priority
        self.last_exten = name
        self.last_priority = priority


def _strip_comment(line: str) -> str:
    out: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
            out.append(char)
        elif char == ";":
            break
        else:
            out.append(char)
    return "".join(out).replace("\\;", ";")


def _split_call(call: str) -> tuple[str, str]:
    """``Set(A=b)`` -> (``Set``, ``A=b``); ``Hangup`` -> (``Hangup``, ``""``)."""
    if "(" not in call:
        return call.strip(), ""
    app, _, data = call.partition("(")
    if data.endswith(")"):
        data = data[:-1]
    return app.strip(), data


# -- substitution and expressions ----------------------------------------------------

Lookup = Callable[[str], str]


def substitute(text: str, lookup: Lookup) -> str:
    """Replace every ``${...}`` and ``$[...]`` in ``text``, innermost first."""
    for _ in range(100):
        start = _innermost(text)
        if start is None:
            return text
        opener = text[start + 1]
        closer = "}" if opener == "{" else "]"
        end = _closing(text, start + 2, opener, closer)
        if end is None:
            return text
        inner = text[start + 2 : end]
        value = _variable(inner, lookup) if opener == "{" else evaluate(inner)
        text = text[:start] + value + text[end + 1 :]
    return text


def _innermost(text: str) -> int | None:
    """The start of the last ``${`` or ``$[`` (so nested ones go first)."""
    found = None
    for match in re.finditer(r"\$[{\[]", text):
        found = match.start()
    return found


def _closing(text: str, index: int, opener: str, closer: str) -> int | None:
    depth = 1
    while index < len(text):
        if text[index] == opener:
            depth += 1
        elif text[index] == closer:
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def _variable(inner: str, lookup: Lookup) -> str:
    """``NAME``, ``FUNC(args)``, or ``NAME:offset[:length]``."""
    name, offset, length = inner, None, None
    if not inner.endswith(")") and ":" in inner:
        name, _, rest = inner.partition(":")
        parts = rest.split(":")
        offset = int(parts[0]) if parts[0].lstrip("-").isdigit() else 0
        if len(parts) > 1 and parts[1].lstrip("-").isdigit():
            length = int(parts[1])
    value = lookup(name)
    if offset is not None:
        value = value[offset:]
        if length is not None:
            value = value[:length]
    return value


_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|!=|<=|>=|=~|[=<>&|()!+\-*/%]|[^\s=<>&|()!+\-*/%"]+)')


def evaluate(expression: str) -> str:
    """``$[...]``: comparisons, ``&``, ``|``, ``!``, parentheses and integer arithmetic."""
    tokens = [m.group(1) for m in _TOKEN.finditer(expression)]
    if not tokens:
        return ""
    parser = _Expression(tokens)
    value = parser.either()
    return value


class _Expression:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def either(self) -> str:
        left = self.both()
        while self.peek() == "|":
            self.take()
            right = self.both()
            left = left if _true(left) else right
        return left

    def both(self) -> str:
        left = self.compare()
        while self.peek() == "&":
            self.take()
            right = self.compare()
            left = left if _true(left) and _true(right) else "0"
        return left

    def compare(self) -> str:
        left = self.sum()
        while self.peek() in ("=", "!=", "<", ">", "<=", ">="):
            op = self.take()
            right = self.sum()
            left = "1" if _compare(left, op, right) else "0"
        return left

    def sum(self) -> str:
        left = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.product()
            left = _arith(left, op, right)
        return left

    def product(self) -> str:
        left = self.unary()
        while self.peek() in ("*", "/", "%"):
            op = self.take()
            right = self.unary()
            left = _arith(left, op, right)
        return left

    def unary(self) -> str:
        token = self.peek()
        if token == "!":
            self.take()
            return "0" if _true(self.unary()) else "1"
        if token == "(":
            self.take()
            value = self.either()
            if self.peek() == ")":
                self.take()
            return value
        if token is None:
            return ""
        self.take()
        if token.startswith('"') and token.endswith('"') and len(token) >= 2:
            return token[1:-1].replace('\\"', '"')
        return token


def _number(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _true(value: str) -> bool:
    number = _number(value)
    return number != 0 if number is not None else value != ""


def _compare(left: str, op: str, right: str) -> bool:
    a, b = _number(left), _number(right)
    pair: tuple[int, int] | tuple[str, str] = (
        (a, b) if a is not None and b is not None else (left, right)
    )
    x, y = pair
    return {
        "=": x == y,
        "!=": x != y,
        "<": x < y,  # type: ignore[operator]
        ">": x > y,  # type: ignore[operator]
        "<=": x <= y,  # type: ignore[operator]
        ">=": x >= y,  # type: ignore[operator]
    }[op]


def _arith(left: str, op: str, right: str) -> str:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return "0"
    if op in "/%" and b == 0:
        return "0"
    result = {
        "+": a + b,
        "-": a - b,
        "*": a * b,
        "/": int(a / b) if b else 0,
        "%": a % b if b else 0,
    }
    return str(result[op])


def split_args(data: str) -> list[str]:
    """An application's arguments: commas split, except inside ``()`` or quotes."""
    args: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in data:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]" and depth:
            depth -= 1
        elif char == "," and depth == 0 and not quoted:
            args.append("".join(current))
            current = []
            continue
        current.append(char)
    args.append("".join(current))
    return args
