"""The callbacks package's one exception family.

What people ask for and cannot have (claiming an entry someone else holds,
recording an outcome nobody dialled) is not an exception: it is a
:class:`Refusal` the shell turns into a clear message.  Exceptions are for
broken contracts: a transition the table forbids, or a naive datetime.
"""

from __future__ import annotations


class CallbacksError(Exception):
    """Root of every exception raised by :mod:`callbacks`."""


class IllegalTransition(CallbacksError):
    """The state table of ``machine`` does not allow ``source -> target`` for ``subject``."""

    def __init__(self, machine: str, subject: str, source: str, target: str) -> None:
        super().__init__(f"{machine} of {subject}: {source} -> {target} is not allowed")
        self.machine = machine
        self.subject = subject
        self.source = source
        self.target = target


class Refusal(CallbacksError):
    """A request that cannot be granted: ``code`` for programs, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
