"""Constrained value types shared by every configuration file.

The YAML is written by administrators, so each type rejects the mistakes they
make and says why: a phone number written without quotes (YAML reads
``0513`` as a number and drops the leading zero), a date written as
``20150101``, a level of 11.  Every model derives from :class:`Section`:
``extra="forbid"`` (an unknown key is an error, which catches typos), frozen
(a running call keeps the configuration object it started with, so nothing
in it may change), mappings are :class:`FrozenDict` and sequences tuples.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)


class Section(BaseModel):
    """Base of every configuration model: strict keys, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A ``dict`` that refuses every mutation after construction.

    A subclass of ``dict`` (not a mapping proxy) so pydantic serialises it and
    ``json.dumps`` accepts it.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("configuration mappings are read-only")

    __setitem__ = _read_only
    __delitem__ = _read_only
    clear = _read_only
    pop = _read_only
    popitem = _read_only
    setdefault = _read_only
    update = _read_only
    __ior__ = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict[K, V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict[K, V]:
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


def _freeze(value: dict[Any, Any]) -> FrozenDict[Any, Any]:
    return FrozenDict(value)


FrozenMap = Annotated[dict[K, V], AfterValidator(_freeze)]
"""``dict[K, V]`` validated, then frozen: use as ``FrozenMap[str, Queue]``."""


def _reject_non_string(kind: str, example: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool | int | float):
            raise ValueError(f"{kind} must be a quoted string, e.g. '{example}' (got {value!r})")
        return value

    return check


Text = Annotated[str, Strict(), StringConstraints(min_length=1)]
"""A non-empty string (names, labels, departments)."""

Int = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]
Seconds = Annotated[int, Strict(), Field(ge=0, le=86_400)]
"""A duration in whole seconds, 0..86400."""

PositiveSeconds = Annotated[int, Strict(), Field(ge=1, le=86_400)]
Ratio = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
Level = Annotated[int, Strict(), Field(ge=1, le=10)]
"""A skill level: 1 (beginner) .. 10 (expert)."""

Priority = Annotated[int, Strict(), Field(ge=0, le=9)]
"""A caller priority class: 0 is ordinary, higher is served first."""

_ID = r"^[a-z][a-z0-9_]{0,47}$"
Ident = Annotated[str, Strict(), StringConstraints(pattern=_ID)]
"""An identifier written by the administrator: lower-case letters, digits, ``_``."""

_DIGITS = r"^[0-9]{3,20}$"
Digits = Annotated[
    str,
    BeforeValidator(_reject_non_string("a phone number", "85098110")),
    Strict(),
    StringConstraints(pattern=_DIGITS),
    WithJsonSchema({"type": "string", "pattern": _DIGITS}),
]
"""A dialled number: 3 to 20 digits, written as a quoted string."""

_AGENT_NO = r"^[0-9]{2,10}$"
AgentNo = Annotated[
    str,
    BeforeValidator(_reject_non_string("an agent number", "1001")),
    Strict(),
    StringConstraints(pattern=_AGENT_NO),
    WithJsonSchema({"type": "string", "pattern": _AGENT_NO}),
]
"""An agent's login number: 2 to 10 digits, written as a quoted string."""

EnvVarName = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")]
"""The NAME of an environment variable holding a secret (never the secret)."""

SoundName = Annotated[
    str, Strict(), StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$")
]
"""An Asterisk sound name as used in ``sound:NAME`` (no extension, no ``..``)."""

Endpoint = Annotated[
    str, Strict(), StringConstraints(pattern=r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.@+-]{1,80}$")
]
"""A dial target understood by Asterisk, e.g. ``PJSIP/8001`` or ``PJSIP/12319@hotline-12319``."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _as_date(value: Any) -> Any:
    # YAML gives a date for an unquoted 2015-01-01; a quoted one is also accepted.
    # Integers are refused: pydantic would read 20150101 as a Unix timestamp.
    if isinstance(value, dt.datetime):
        raise ValueError("a date has no time of day: write YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a calendar date") from exc
    raise ValueError(f"a date must be written YYYY-MM-DD (got {value!r})")


Date = Annotated[
    dt.date,
    BeforeValidator(_as_date),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def _check_pattern(pattern: str) -> str:
    if pattern.count("{number}") != 1:
        raise ValueError("a dial pattern must contain {number} exactly once")
    if not re.match(r"^(PJSIP|SIP|IAX2|Local)/", pattern):
        raise ValueError("a dial pattern starts with a channel technology, e.g. PJSIP/")
    return pattern


DialPattern = Annotated[str, Strict(), AfterValidator(_check_pattern)]
"""An outbound dial string with ``{number}``, e.g. ``PJSIP/{number}@carrier``."""
