"""The exception root of the IVR package and its subclasses.

Configuration errors are not here: ``ivr.spec`` raises pydantic's
``ValidationError`` so the config loader can map each error to a YAML line.
"""

from __future__ import annotations


class IvrError(Exception):
    """Root of every error the ``ivr`` package raises at run time."""


class IllegalTransition(IvrError):
    """A session was asked to move between two states the table does not allow.

    Raised for API misuse: ``handle`` before ``start``, ``start`` twice, or a
    state change the interpreter itself should never make.
    """

    def __init__(self, machine: str, current: str, target: str) -> None:
        super().__init__(f"{machine}: illegal transition {current} -> {target}")
        self.machine = machine
        self.current = current
        self.target = target


class SnapshotError(IvrError):
    """A snapshot cannot be restored against the given menu set or survey."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot restore snapshot: {reason}")
        self.reason = reason


class MenuLoopError(IvrError):
    """A menu walked too many nodes without waiting for the caller.

    ``MenuSet`` validation rejects such cycles; this guards data that skipped it
    (``model_construct``).
    """

    def __init__(self, menu: str, node: str, steps: int) -> None:
        super().__init__(f"menu {menu!r} node {node!r}: {steps} steps without waiting")
        self.menu = menu
        self.node = node
        self.steps = steps


class CalendarError(IvrError):
    """A calendar was asked about a moment it cannot place (a naive datetime)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownMenu(IvrError):
    """A session was started on a menu id that the menu set does not define."""

    def __init__(self, menu: str) -> None:
        super().__init__(f"unknown menu {menu!r}")
        self.menu = menu
