"""The one exception family of :mod:`transfer`.

Two kinds of failure exist.  :class:`RequestRefused` is a request a person
made that the plan cannot carry out in its current state (joining a
conference whose consultee still rings, completing a transfer that already
ended): the shell answers it with a refusal and the call goes on.
:class:`IllegalTransition` is a broken contract: a state table asked for a
move it does not allow, which is a bug in the plan or in the shell's
translation of softswitch events.
"""

from __future__ import annotations


class TransferError(Exception):
    """Root of every exception raised by :mod:`transfer`."""


class RequestRefused(TransferError):
    """A request the plan cannot carry out now.

    ``code`` is stable for programs (``not_answered``, ``agent_gone``,
    ``finished``, ``bad_target`` ...), ``state`` the plan's state at the time.
    """

    def __init__(self, code: str, message: str, state: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.state = state


class IllegalTransition(TransferError):
    """A state table was asked for a move it does not allow.

    ``machine`` names the table, ``subject`` the leg or session id,
    ``source`` and ``target`` the states.
    """

    def __init__(self, machine: str, subject: str, source: str, target: str) -> None:
        super().__init__(f"{machine} of {subject}: {source} -> {target} is not allowed")
        self.machine = machine
        self.subject = subject
        self.source = source
        self.target = target
