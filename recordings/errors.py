"""The exceptions of the ``recordings`` package, under one root.

Adapters that implement this package's protocols (a recording source over
ARI, a metadata store over PostgreSQL) translate their library's exceptions
into these at their boundary, with ``raise ... from exc``, so the lifecycle,
the fetcher and the purge job handle one family.  Each carries the fields a
caller needs (the recording name, the sizes or hashes that disagreed), not
only text.
"""

from __future__ import annotations


class RecordingError(Exception):
    """Base class of every error raised by ``recordings``."""


class IllegalTransition(RecordingError):
    """An event that the lifecycle table does not allow in the current state."""

    def __init__(self, name: str, state: str, event: str) -> None:
        super().__init__(f"recording {name!r}: event {event!r} not allowed in state {state!r}")
        self.name = name
        self.state = state
        self.event = event


class SourceUnavailable(RecordingError):
    """The recording source (Asterisk) could not be reached or answered an error.

    Transient by contract: the same request may succeed later.
    """

    def __init__(self, name: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"recording {name!r}: source unavailable: {detail}")
        self.name = name
        self.detail = detail
        self.status = status


class RecordingMissing(RecordingError):
    """The source does not have the recording (ARI answered 404 ``Recording not found``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"recording {name!r} not found on the source")
        self.name = name


class IntegrityMismatch(RecordingError):
    """The bytes received or written do not check out (size or SHA-256)."""

    def __init__(self, name: str, what: str, expected: object, actual: object) -> None:
        super().__init__(f"recording {name!r}: {what} mismatch: expected {expected}, got {actual}")
        self.name = name
        self.what = what
        self.expected = expected
        self.actual = actual


class MetadataUnavailable(RecordingError):
    """The metadata store (or audit sink) could not be written or read."""


class UnsafePath(RecordingError):
    """A relative storage path that would leave the storage root."""

    def __init__(self, path: str) -> None:
        super().__init__(f"path {path!r} leaves the recordings root")
        self.path = path
