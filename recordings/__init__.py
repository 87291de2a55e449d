"""Call recordings: lifecycle, file storage, integrity, retention, access policy.

Imports nothing of the engine.  The engine supplies adapters for the
protocols in :mod:`recordings.protocols` (the source of finished recordings,
the metadata store, the audit sink) and drives :class:`RecordingFetcher` and
:func:`purge_expired`.
"""

from recordings.errors import (
    IllegalTransition,
    IntegrityMismatch,
    MetadataUnavailable,
    RecordingError,
    RecordingMissing,
    SourceUnavailable,
    UnsafePath,
)
from recordings.fetcher import AlarmCallback, Backoff, RecordingFetcher
from recordings.integrity import AudioInfo, inspect_recording, make_wav, sha256_hex
from recordings.layout import parse_recording_name, recording_name, relative_path
from recordings.lifecycle import (
    EXPIRABLE_STATES,
    PENDING_STATES,
    TRANSITIONS,
    CallId,
    PublicStatus,
    Recording,
    RecordingEvent,
    RecordingName,
    RecordingState,
    next_state,
)
from recordings.policy import (
    AccessPolicy,
    CallFacts,
    Decision,
    Principal,
    Reason,
    Role,
    mask_number,
)
from recordings.protocols import AuditEntry, AuditSink, RecordingSource, RecordingStore
from recordings.retention import PURGE_ACTION, PurgeReport, months_before, purge_expired
from recordings.storage import FileStore

__all__ = [
    "EXPIRABLE_STATES",
    "PENDING_STATES",
    "PURGE_ACTION",
    "TRANSITIONS",
    "AccessPolicy",
    "AlarmCallback",
    "AudioInfo",
    "AuditEntry",
    "AuditSink",
    "Backoff",
    "CallFacts",
    "CallId",
    "Decision",
    "FileStore",
    "IllegalTransition",
    "IntegrityMismatch",
    "MetadataUnavailable",
    "Principal",
    "PublicStatus",
    "PurgeReport",
    "Reason",
    "Recording",
    "RecordingError",
    "RecordingEvent",
    "RecordingFetcher",
    "RecordingMissing",
    "RecordingName",
    "RecordingSource",
    "RecordingState",
    "RecordingStore",
    "Role",
    "SourceUnavailable",
    "UnsafePath",
    "inspect_recording",
    "make_wav",
    "mask_number",
    "months_before",
    "next_state",
    "parse_recording_name",
    "purge_expired",
    "recording_name",
    "relative_path",
    "sha256_hex",
]
