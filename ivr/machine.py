"""The one function every IVR state machine applies its transitions with."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from ivr.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


def apply_transition(machine: str, table: Mapping[S, frozenset[S]], current: S, target: S) -> S:
    """Return ``target`` if the table allows ``current -> target``, else raise.

    Raises ``IllegalTransition`` naming the machine and both states.
    """
    if target not in table[current]:
        raise IllegalTransition(machine, current.value, target.value)
    return target
