"""Events: what the shell tells the ACD.

The orchestrator translates ARI/AMI and toolbar requests into these and
calls ``Acd.handle(event, now)``.  Every event may arrive late or twice:
an event about a call or offer the ACD no longer has (a ``OfferTimedOut``
racing a ``CancelOffer``, a ``CallerHungUp`` after the call completed) is
stale and changes nothing, except that a stale ``OfferAnswered`` is answered
with ``CancelOffer`` so that no agent leg is left up.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.config import AcdConfig
from acd.model import (
    AgentId,
    CallId,
    DeviceState,
    QueueId,
    RejectReason,
    SeatId,
    TimerKey,
)


@dataclass(frozen=True, slots=True)
class CallerArrived:
    """A caller enters a queue.

    ``waited_so_far_s`` is time already spent waiting elsewhere (an IVR
    hand-off, a queue of another engine): it counts for FIFO order and skill
    relaxation, not for this queue's statistics or maximum wait.
    ``priority`` overrides the queue's priority rules when given.
    """

    call_id: CallId
    queue: QueueId
    caller_number: str = ""
    tags: frozenset[str] = frozenset()
    waited_so_far_s: float = 0.0
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class CallAdopted:
    """A conversation already in progress when this ACD started (an engine restart).

    The caller has talked to ``agent`` for ``talked_s`` seconds after waiting
    ``waited_s``; the agent must be logged in at a seat.  The call is replayed
    through the legal moves (waiting, offered, connecting, connected) without
    counting it again in today's figures, which the previous process counted.
    A refusal (unknown queue or agent, agent without a seat or busy) answers
    ``CallerLeft(refused)``.
    """

    call_id: CallId
    queue: QueueId
    agent: AgentId
    caller_number: str = ""
    waited_s: float = 0.0
    talked_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller's channel is gone (ARI ``StasisEnd`` / ``ChannelDestroyed``)."""

    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallTransferredToQueue:
    """The agent of a connected call sent the caller to a queue.

    The caller keeps its waiting time (FIFO position, relaxation) and its
    priority class unless ``priority`` is given; the transferring agent
    enters wrap-up and is never offered this call again.
    """

    call_id: CallId
    queue: QueueId
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class AgentLogin:
    """An agent logs in at a seat (binds to that phone) and becomes ready."""

    agent: AgentId
    seat: SeatId


@dataclass(frozen=True, slots=True)
class AgentLogout:
    """An agent logs out; the seat is released once the agent's call is over."""

    agent: AgentId


@dataclass(frozen=True, slots=True)
class AgentReady:
    """An agent sets the status ready."""

    agent: AgentId


@dataclass(frozen=True, slots=True)
class AgentPause:
    """An agent pauses with a configured reason code."""

    agent: AgentId
    reason: str


@dataclass(frozen=True, slots=True)
class AgentEndWrapup:
    """An agent ends wrap-up early."""

    agent: AgentId


@dataclass(frozen=True, slots=True)
class OfferAnswered:
    """The agent's leg answered (ARI ``StasisStart`` of the originated leg)."""

    call_id: CallId
    agent: AgentId


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The shell bridged caller and agent after ``ConnectCall``."""

    call_id: CallId
    agent: AgentId


@dataclass(frozen=True, slots=True)
class OfferRejected:
    """The agent's leg was refused or failed before it was bridged.

    ARI ``Dial`` BUSY (486), a reject from the toolbar, or the leg's
    ``ChannelDestroyed`` after answering but before ``CallConnected``.
    """

    call_id: CallId
    agent: AgentId
    reason: RejectReason = RejectReason.DECLINED


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """The agent's phone rang out (ARI ``Dial`` NOANSWER after the originate timeout)."""

    call_id: CallId
    agent: AgentId


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A connected call is over: caller or agent hung up."""

    call_id: CallId


@dataclass(frozen=True, slots=True)
class SeatDeviceState:
    """A seat's phone changed device state (AMI ``DeviceStateChange``)."""

    seat: SeatId
    state: DeviceState


@dataclass(frozen=True, slots=True)
class SeatReachability:
    """A seat's phone registered or went away (AMI ``ContactStatus``)."""

    seat: SeatId
    reachable: bool


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer the ACD started with ``StartTimer(key, at)`` is due."""

    key: TimerKey
    at: float


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """Apply a new configuration live, keeping waiting callers and calls."""

    config: AcdConfig


@dataclass(frozen=True, slots=True)
class DayRolled:
    """Local midnight: "today" statistics and per-day agent counters restart."""


Event = (
    CallerArrived
    | CallAdopted
    | CallerHungUp
    | CallTransferredToQueue
    | AgentLogin
    | AgentLogout
    | AgentReady
    | AgentPause
    | AgentEndWrapup
    | OfferAnswered
    | CallConnected
    | OfferRejected
    | OfferTimedOut
    | CallEnded
    | SeatDeviceState
    | SeatReachability
    | TimerFired
    | ConfigChanged
    | DayRolled
)
