"""Errors of the ARI client; every one is a :class:`cti.errors.CtiError`.

aiohttp exceptions are translated at the boundary (:mod:`cti.ari.http`) and
never escape :mod:`cti.ari`.  HTTP errors carry the status, the method, the
path and Asterisk's ``message``; a 404 on a channel or bridge names the id.
"""

from __future__ import annotations

from cti.errors import CtiError


class AriError(CtiError):
    """Root of the ARI client's errors."""


class AriUnavailable(AriError):
    """Asterisk's HTTP server could not be reached, or did not answer in time."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        super().__init__(f"ARI {method} {path} unavailable: {reason}")
        self.method = method
        self.path = path
        self.reason = reason


class AriProtocolError(AriError):
    """Asterisk answered with a body the client cannot read as the expected model."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        super().__init__(f"ARI {method} {path}: unexpected answer: {reason}")
        self.method = method
        self.path = path
        self.reason = reason


class AriHttpError(AriError):
    """Asterisk answered with an error status."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"ARI {method} {path} -> {status} {message}")
        self.status = status
        self.method = method
        self.path = path
        self.message = message


class AriNotFound(AriHttpError):
    """404 on a resource that is not a channel or a bridge (a recording, a
    playback, a variable...)."""

    def __init__(self, method: str, path: str, message: str) -> None:
        super().__init__(404, method, path, message)


class ChannelGone(AriNotFound):
    """404: the channel does not exist (any more): the party hung up."""

    def __init__(
        self,
        channel_id: str,
        method: str = "",
        path: str = "",
        message: str = "Channel not found",
    ) -> None:
        super().__init__(method, path, message)
        self.channel_id = channel_id


class BridgeGone(AriNotFound):
    """404: the bridge does not exist (any more)."""

    def __init__(
        self,
        bridge_id: str,
        method: str = "",
        path: str = "",
        message: str = "Bridge not found",
    ) -> None:
        super().__init__(method, path, message)
        self.bridge_id = bridge_id


class AriConflict(AriHttpError):
    """409: the resource is in the wrong state for the request (a bridge id
    already taken, a channel not in Stasis, a recording already running)."""

    def __init__(self, method: str, path: str, message: str) -> None:
        super().__init__(409, method, path, message)


class AriFenced(AriError):
    """A request that changes a call was not sent: the fence refused it (this engine
    is not, or no longer, the active one; see :mod:`cti.availability`)."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"ARI {method} {path} not sent: this engine is not the active one")
        self.method = method
        self.path = path
