"""The durable facts of a call: its record, its rating and its ticket (工单).

These are what the shell writes (``WriteCall`` snapshots while the call
runs, one ``WriteFinal`` at its end).  Times are epoch seconds; the shell
turns them into timestamps.  Field names follow the ``calls`` table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import transfer
from switchboard.ids import CallId, RecordingName

Detail = Mapping[str, str | int | float | bool | None]
"""A timeline row's detail: plain JSON scalars."""


@dataclass(frozen=True, slots=True)
class MenuStep:
    """One step of the caller's walk through the menus (``ivr.PathStep`` as plain data)."""

    menu: str
    node: str
    result: str
    keys: str
    at: str  # ISO 8601, as the IVR stamped it


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The row of the ``calls`` table, as of one moment."""

    call_id: CallId
    caller_number: str
    caller_name: str
    dialled: str
    original_number: str | None
    department: str | None
    line_name: str | None
    route: str | None
    menu_path: tuple[MenuStep, ...]
    tags: Mapping[str, str]
    queue: str | None
    priority: int
    first_agent: str | None
    last_agent: str | None
    arrived_at: float
    routed_at: float | None
    menu_exited_at: float | None
    queued_at: float | None
    first_offered_at: float | None
    answered_at: float | None
    ended_at: float | None
    hangup_by: str | None
    end_reason: str | None
    outcome: str | None
    rating: int | None
    rating_label: str | None
    rated_at: float | None
    recording_ref: RecordingName | None
    config_version: str


@dataclass(frozen=True, slots=True)
class RatingRecord:
    """The ``ratings`` row of an answered call (``label`` is ``not_rated`` without a level)."""

    call_id: CallId
    level: int | None
    label: str
    at: float


@dataclass(frozen=True, slots=True)
class Ticket:
    """The ticket handed to the work-order backend for a finished call."""

    call_id: CallId
    kind: str  # call | voicemail | callback
    caller_number: str
    caller_name: str
    dialled: str
    original_number: str | None
    department: str | None
    line_name: str | None
    menu_path: tuple[MenuStep, ...]
    tags: Mapping[str, str]
    queue: str | None
    first_agent: str | None
    agents: tuple[str, ...]
    arrived_at: float
    answered_at: float | None
    ended_at: float | None
    rating: int | None
    rating_label: str | None
    recording: RecordingName | None
    legs: tuple[transfer.LegRecord, ...] = ()  # the transfers and hand-offs of the call
