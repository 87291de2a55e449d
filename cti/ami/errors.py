"""Errors of the AMI client; every one is a :class:`cti.errors.CtiError`.

panoramisk and socket exceptions are translated here at the boundary and
never escape :mod:`cti.ami`.
"""

from __future__ import annotations

from cti.errors import CtiError


class AmiError(CtiError):
    """Root of the AMI client's errors."""


class AmiProtocolError(AmiError):
    """The peer broke the AMI wire format, or a header would have."""


class AmiUnavailable(AmiError):
    """Asterisk's AMI port could not be reached, or the session is down."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"AMI {host}:{port} unavailable: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


class AmiAuthError(AmiError):
    """``Login`` was refused (wrong user name or secret)."""

    def __init__(self, username: str, message: str) -> None:
        super().__init__(f"AMI login refused for {username!r}: {message}")
        self.username = username
        self.message = message


class AmiActionLost(AmiError):
    """The connection dropped while the action was in flight and the action is
    not safe to send again (``Originate``, ``Redirect``, ``Hangup``,
    ``Setvar``...): whether Asterisk executed it is unknown."""

    def __init__(self, action: str, action_id: str) -> None:
        super().__init__(f"AMI action {action} ({action_id}) lost with the connection")
        self.action = action
        self.action_id = action_id


class AmiActionFailed(AmiError):
    """Asterisk answered the action with ``Response: Error`` (or ``Fail``)."""

    def __init__(self, action: str, action_id: str, message: str) -> None:
        super().__init__(f"AMI action {action} ({action_id}) failed: {message}")
        self.action = action
        self.action_id = action_id
        self.message = message


class AmiTimeout(AmiError):
    """No complete answer to the action within its deadline."""

    def __init__(self, action: str, action_id: str, timeout: float) -> None:
        super().__init__(f"AMI action {action} ({action_id}) unanswered after {timeout:g} s")
        self.action = action
        self.action_id = action_id
        self.timeout = timeout
