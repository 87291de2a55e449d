"""The ACD's one exception family.

Requests that people make (an agent logging in at a taken seat, pausing with
an unknown reason) are not exceptions: they are refused with a
:class:`~acd.commands.RequestRefused` command, because the ACD must keep
running whatever a toolbar sends.  Exceptions are for broken contracts: a
configuration that does not hold together, or a state transition the tables
forbid (a bug in the ACD or in the shell's translation of events).
"""

from __future__ import annotations


class AcdError(Exception):
    """Root of every exception raised by :mod:`acd`."""


class ConfigError(AcdError):
    """A configuration is inconsistent.

    ``where`` names the offending item (``queues[2].overflow.target``),
    ``problem`` says what is wrong with it.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class IllegalTransition(AcdError):
    """A state table was asked for a move it does not allow.

    ``machine`` is the table (``agent activity``, ``caller phase`` ...),
    ``subject`` the agent or call id, ``source`` and ``target`` the states.
    """

    def __init__(self, machine: str, subject: str, source: str, target: str) -> None:
        super().__init__(f"{machine} of {subject}: {source} -> {target} is not allowed")
        self.machine = machine
        self.subject = subject
        self.source = source
        self.target = target
