"""The exceptions of pbxsim: one root, fields rather than bare text."""

from __future__ import annotations


class SimError(Exception):
    """Root of every exception pbxsim raises."""


class AriError(SimError):
    """An ARI request Asterisk would refuse: ``status`` and the ``message`` of its JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


class ScriptError(SimError, ValueError):
    """A peer script or scenario that cannot be understood (``field`` names the culprit)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class SimTimeout(SimError, TimeoutError):
    """``wait_for`` ran past its deadline; ``what`` describes the awaited condition."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"not reached within {timeout:g} s: {what}")
        self.what = what
        self.timeout = timeout
