"""Commands: what the ACD asks the shell to do.

``Acd.handle`` returns them in the order they must be carried out.  Each is
a fact the shell acts on without asking back; none of them needs an answer
other than the events the softswitch produces anyway.

Commands are slotted dataclasses compared by value.  They are not frozen:
a frozen dataclass costs about four times as much to build, and the ACD
builds several per decision.  Nobody changes a command after it is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.model import (
    AgentId,
    AgentState,
    AgentStatus,
    CallId,
    LeaveReason,
    OverflowAction,
    OverflowReason,
    QueueId,
    SeatId,
    TimerKey,
)


@dataclass(slots=True)
class OfferCall:
    """Ring ``agent`` at ``seat`` for ``call_id`` (originate the agent leg).

    The leg may ring ``ring_timeout_s``; the ACD runs the same deadline
    itself (a ``ring`` timer) and sends ``CancelOffer`` when it passes.
    """

    call_id: CallId
    agent: AgentId
    seat: SeatId
    queue: QueueId
    ring_timeout_s: float


@dataclass(slots=True)
class CancelOffer:
    """Hang up the agent leg of this offer (ringing, or answered but not bridged)."""

    call_id: CallId
    agent: AgentId
    seat: SeatId


@dataclass(slots=True)
class ConnectCall:
    """Bridge the caller with the agent leg that answered; report ``CallConnected``."""

    call_id: CallId
    agent: AgentId
    seat: SeatId


@dataclass(slots=True)
class Announce:
    """Tell a waiting caller its position (1 = next) and expected wait.

    ``expected_wait_s`` is ``None`` when no agent who could answer is ready.
    """

    call_id: CallId
    queue: QueueId
    position: int
    expected_wait_s: float | None


@dataclass(slots=True)
class Overflow:
    """The caller left ``queue`` by its overflow rule.

    For ``queue`` the ACD has already placed the caller in ``target``; for the
    other actions the shell carries them out (``target`` is the mailbox or
    prompt) and the ACD is done with the call (a ``CallerLeft`` follows).
    """

    call_id: CallId
    queue: QueueId
    action: OverflowAction
    target: str
    reason: OverflowReason


@dataclass(slots=True)
class AddToCallbackList:
    """Put the caller on the missed-call callback list (漏接回拨)."""

    call_id: CallId
    caller_number: str
    queue: QueueId
    waited_s: float


@dataclass(slots=True)
class CallerLeft:
    """The ACD is done with this call, for ``reason``; it never mentions it again."""

    call_id: CallId
    queue: QueueId
    reason: LeaveReason


@dataclass(slots=True)
class AgentStateChanged:
    """An agent's status, state, pause reason or seat changed (for the wallboard)."""

    agent: AgentId
    status: AgentStatus
    state: AgentState
    reason: str
    seat: SeatId | None


@dataclass(slots=True)
class StartTimer:
    """Deliver ``TimerFired(key, at)`` once the clock reaches ``at``; re-arms ``key``."""

    key: TimerKey
    at: float


@dataclass(slots=True)
class CancelTimer:
    """Forget the timer ``key`` if it is running."""

    key: TimerKey


@dataclass(slots=True)
class RequestRefused:
    """An agent's request was refused; ``request`` is the event name, ``reason`` a code.

    Codes: ``unknown_agent``, ``already_logged_in``, ``seat_taken``,
    ``not_logged_in``, ``unknown_reason``, ``not_in_wrapup``.
    """

    agent: AgentId
    request: str
    reason: str


Command = (
    OfferCall
    | CancelOffer
    | ConnectCall
    | Announce
    | Overflow
    | AddToCallbackList
    | CallerLeft
    | AgentStateChanged
    | StartTimer
    | CancelTimer
    | RequestRefused
)
