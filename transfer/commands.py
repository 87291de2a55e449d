"""Commands: what a plan asks the shell to do, in the order given.

Parties (:class:`~transfer.model.Party`) stand for channels the shell knows:
the caller's, the agent's leg and the consultee leg of the plan.  "The
bridge" is the call's mixing bridge.  None of the commands expects an answer
other than the softswitch events that follow anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from transfer.model import LegId, LegRecord, Party, Target


@dataclass(frozen=True, slots=True)
class Originate:
    """Dial the consultee leg ``leg`` to ``target.dial``; it may ring ``timeout_s``."""

    leg: LegId
    target: Target
    timeout_s: float


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Deliver :class:`~transfer.events.RingTimeout` at ``at`` unless cancelled."""

    at: dt.datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the plan's ring deadline."""


@dataclass(frozen=True, slots=True)
class Bridge:
    """Put ``parties`` into the call's bridge (a party already there stays)."""

    parties: tuple[Party, ...]


@dataclass(frozen=True, slots=True)
class Unbridge:
    """Take ``party`` out of the call's bridge; its channel stays up."""

    party: Party


@dataclass(frozen=True, slots=True)
class Hold:
    """Music on hold for ``party`` (out of the bridge)."""

    party: Party


@dataclass(frozen=True, slots=True)
class Unhold:
    """Stop the music on hold of ``party``."""

    party: Party


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang up ``party``'s channel (nothing to do if it is already gone)."""

    party: Party


@dataclass(frozen=True, slots=True)
class SendDigits:
    """Key ``digits`` (DTMF) towards ``party``: the extension of a parallel line."""

    party: Party
    digits: str


@dataclass(frozen=True, slots=True)
class ReleaseAgent:
    """The agent leaves the call now: their leg goes, their handle time ends.

    The shell tells the ACD the conversation is over (``CallEnded``), which
    starts the agent's wrap-up; the call itself goes on without them.
    """


@dataclass(frozen=True, slots=True)
class SendToQueue:
    """Release the agent and put the caller into ``queue`` (``CallTransferredToQueue``):
    the caller keeps its waiting time and priority."""

    queue: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """A blind transfer failed with no agent left on the call: the caller goes
    back to the call's queue, keeping the time already waited."""


@dataclass(frozen=True, slots=True)
class HandOver:
    """Caller and consultee are now the call (the hand-off); no agent of ours is on it."""


@dataclass(frozen=True, slots=True)
class TakeOver:
    """The colleague ``agent`` on the consultee leg becomes the call's agent."""

    agent: str


@dataclass(frozen=True, slots=True)
class AfterHandOver:
    """The consultee left a handed-over call: the caller goes on to the survey."""


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell the agent who started the plan: ``what`` happened, because of ``reason``."""

    what: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Timeline:
    """A row of the call's timeline: ``kind`` with ``detail``."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LegEnded:
    """The plan is over; ``leg`` is its final record (ticket and timeline)."""

    leg: LegRecord


Command = (
    Originate
    | StartTimer
    | CancelTimer
    | Bridge
    | Unbridge
    | Hold
    | Unhold
    | Hangup
    | SendDigits
    | ReleaseAgent
    | SendToQueue
    | Requeue
    | HandOver
    | TakeOver
    | AfterHandOver
    | Notify
    | Timeline
    | LegEnded
)
