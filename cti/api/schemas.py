"""The bodies the API answers with, as pydantic models.

Handlers build these and serialise them with :func:`cti.api.spec.reply`, and
the OpenAPI document takes its schemas from the same classes, so a response
cannot drift from its description.  Times are ISO 8601 with a time zone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import acd

AGENT_NO = r"^[0-9]{2,10}$"
CALL_ID = r"^[A-Za-z0-9._-]{1,128}$"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentStatus(StrEnum):
    LOGGED_OUT = acd.AgentStatus.LOGGED_OUT.value
    READY = acd.AgentStatus.READY.value
    PAUSED = acd.AgentStatus.PAUSED.value


class AgentState(StrEnum):
    IDLE = acd.AgentState.IDLE.value
    RINGING = acd.AgentState.RINGING.value
    ON_CALL = acd.AgentState.ON_CALL.value
    WRAPUP = acd.AgentState.WRAPUP.value
    BUSY_OUTSIDE = acd.AgentState.BUSY_OUTSIDE.value
    UNREACHABLE = acd.AgentState.UNREACHABLE.value
    OFFLINE = acd.AgentState.OFFLINE.value


class Level(StrEnum):
    """How a figure stands against its thresholds."""

    OK = "ok"
    AMBER = "amber"
    RED = "red"


class Error(_Out):
    """Every error: a code, a readable message, and the bad field for a 400."""

    model_config = ConfigDict(extra="allow")
    error: str | None = None
    message: str
    field: str | None = None


class AgentView(_Out):
    """An agent's status (what they chose) and state (what the system sees)."""

    agent: str
    name: str
    status: AgentStatus
    state: AgentState
    reason: str = Field(description="the pause reason code while paused, else empty")
    seat: str | None
    since: datetime | None = Field(description="when the current status/state began")


class Login(AgentView):
    token: str = Field(description="the session's bearer token")
    expires_at: float = Field(description="when the token expires, epoch seconds")


class CallView(_Out):
    """A call as its agent sees it (the screen pop)."""

    call_id: str
    state: str = Field(description="ringing, talking, ... (the call's public state)")
    caller_number: str
    caller_name: str
    dialled: str
    original_number: str | None
    department: str | None
    line_name: str | None
    queue: str | None
    menu_path: list[dict[str, Any]]
    tags: dict[str, str]
    arrived_at: datetime
    answered_at: datetime | None
    agent: str | None


class Me(AgentView):
    call: CallView | None


class PastCall(_Out):
    call_id: str
    arrived_at: datetime
    ended_at: datetime | None
    dialled: str
    department: str | None
    queue: str | None
    outcome: str | None
    first_agent: str | None
    rating_label: str | None


class PastTicket(_Out):
    call_id: str
    kind: str
    status: str
    backend_ticket_id: str | None
    created_at: datetime
    delivered_at: datetime | None


class CallerHistory(_Out):
    """The caller's recent contacts: a repeat caller has a call within the window."""

    call_id: str
    caller_number: str
    repeat_caller: bool
    window_hours: int
    calls_in_window: int
    calls: list[PastCall]
    tickets: list[PastTicket]
    complete: bool = Field(description="false when the database could not be read")


class PauseReasonView(_Out):
    id: str
    label: str
    max_minutes: int | None


class QueueRef(_Out):
    id: str
    name: str


class LineRef(_Out):
    id: str
    name: str
    department: str
    number: str


class Colleague(_Out):
    agent: str
    name: str
    state: AgentState


class Directory(_Out):
    """What the toolbar offers: pause reasons and the transfer targets."""

    pause_reasons: list[PauseReasonView]
    queues: list[QueueRef]
    parallel: list[LineRef]
    emergency: list[LineRef]
    colleagues: list[Colleague]


class AgentRow(AgentView):
    """An agent on the supervisor's board."""

    role: str
    call_id: str | None
    calls_today: int
    talk_today_s: float
    misses: int


class LiveCall(_Out):
    call_id: str
    state: str
    queue: str | None
    agent: str | None
    caller_number: str
    dialled: str
    department: str | None
    arrived_at: datetime
    waiting_s: float | None


class Callback(_Out):
    id: int
    call_id: str
    caller_number: str
    queue: str | None
    requested_at: datetime
    status: str
    assigned_to: str | None
    done_at: datetime | None
    note: str | None


class RejectedTicket(_Out):
    id: int
    call_id: str
    kind: str
    status: str
    attempts: int
    caller: str = Field(description="the caller's number, masked")
    response_status: int | None
    response_body: str | None
    last_error: str | None
    created_at: datetime
    rejected_at: datetime | None
    payload: dict[str, Any] = Field(description="the body as sent, caller number masked")


class ConfigVersion(_Out):
    digest: str
    loaded_at: datetime
    requested_by: str
    summary: str


class Validation(_Out):
    valid: bool
    issues: list[str]


class ReloadResult(_Out):
    status: str
    version: ConfigVersion
    issues: list[str]


class Figures(_Out):
    """Counts and rates of one scope over one period (formulas in :mod:`figures.calls`).

    ``in_queue``: offered callers still waiting, counted in no rate yet.
    """

    offered: int
    in_queue: int = 0
    answered: int
    answered_within_sl: int
    abandoned: int
    short_abandoned: int
    overflowed: int
    connection_rate: float | None
    answer_rate_sl: float | None
    avg_wait_s: float | None
    longest_wait_s: float
    avg_handle_s: float | None


class AgentCounts(_Out):
    """Agents by state: ``paused`` split by reason; ``ready`` is ready and idle."""

    total: int
    ready: int
    ringing: int
    on_call: int
    wrapup: int
    paused: int
    paused_by_reason: dict[str, int]
    unreachable: int
    busy_outside: int
    offline: int


class Board(_Out):
    """One scope of the wallboard: a queue, or the whole centre."""

    id: str
    name: str
    waiting: int
    offering: int
    longest_wait_s: float
    agents: AgentCounts
    today: Figures
    satisfaction_rate: float | None
    rated: int
    callbacks_open: int
    levels: dict[str, Level]


class ChartPoint(_Out):
    start: datetime
    offered: int
    answered: int
    abandoned: int
    connection_rate: float | None


class Alarm(_Out):
    """A threshold crossed (风险预警), or a fault that was reported."""

    id: int
    figure: str
    scope: str
    level: Level
    value: float | None
    threshold: float | None
    raised_at: datetime
    cleared_at: datetime | None
    message: str
    acked_by: str | None = None
    acked_at: datetime | None = None


class CallbackBoard(_Out):
    """The callback list's figures (漏接回拨) for the wallboard."""

    pending: int
    overdue: int
    done_today: int
    in_time_share: float | None


class Wallboard(_Out):
    at: datetime
    total: Board
    queues: list[Board]
    chart: list[ChartPoint]
    alarms: list[Alarm]
    thresholds: dict[str, dict[str, float]]
    pause_labels: dict[str, str]
    callbacks: CallbackBoard | None = None
