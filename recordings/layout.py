"""Where a recording lives: its Asterisk name and its path under the storage root.

A call's recordings are numbered segments (1, 2, ...): a transfer or a
three-way leg that needs a new bridge recording makes a new segment, and the
segments of a call are listed in order.  The Asterisk recording name of a
segment is ``<call id>-<segment>``; the stored file is::

    <root>/YYYY/MM/DD/<call id>-<segment>.<format>

where the date is the recording's start in the deployment's time zone (a
call that starts at 00:30 Beijing time is filed under that day, not the UTC
day before).  A call id is engine-made, but it is still encoded so that no
value can leave its directory (``/``, ``..``, NUL and other bytes outside
``[A-Za-z0-9._~-]`` are percent-encoded, as is a leading dot).
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from pathlib import PurePosixPath
from urllib.parse import quote

from recordings.errors import UnsafePath
from recordings.lifecycle import CallId, RecordingName

_NAME = re.compile(r"(?P<call>.+)-(?P<segment>[1-9][0-9]*)", re.DOTALL)
_FORMAT = re.compile(r"[a-z0-9]{1,10}")


def recording_name(call_id: CallId, segment: int = 1) -> RecordingName:
    """The Asterisk recording name of one segment of a call."""
    if segment < 1:
        raise ValueError(f"segment numbers start at 1, not {segment}")
    return RecordingName(f"{call_id}-{segment}")


def parse_recording_name(name: str) -> tuple[CallId, int] | None:
    """The call id and segment a name made by :func:`recording_name` encodes, else ``None``."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return CallId(match["call"]), int(match["segment"])


def safe_component(value: str) -> str:
    """``value`` encoded as one harmless path component (reversible, never empty)."""
    if not value:
        raise UnsafePath(value)
    encoded = quote(value, safe="")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return encoded


def relative_path(
    call_id: CallId, segment: int, started_at: datetime, zone: tzinfo, fmt: str = "wav"
) -> str:
    """The file's path under the storage root, with ``/`` separators.

    ``started_at`` must be timezone-aware; the date directories are its date
    in ``zone``.
    """
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    if not _FORMAT.fullmatch(fmt):
        raise UnsafePath(fmt)
    local = started_at.astimezone(zone)
    file_name = f"{safe_component(call_id)}-{segment}.{fmt}"
    return f"{local:%Y}/{local:%m}/{local:%d}/{file_name}"


def check_relative(path: str) -> PurePosixPath:
    """``path`` as a relative path that stays under the root, or raise :class:`UnsafePath`."""
    pure = PurePosixPath(path)
    if not path or not pure.parts or pure.is_absolute() or ".." in pure.parts:
        raise UnsafePath(path)
    if "\x00" in path or "\\" in path:
        raise UnsafePath(path)
    return pure
