"""The ACD's vocabulary: identifiers, enumerations and timer keys.

Identifiers are ``NewType`` strings so a queue id cannot be passed where an
agent id is expected.  The enumerations are ``StrEnum`` so they serialise as
their plain value (``"longest_idle"``, ``"on_call"``) in YAML, JSON and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

CallId = NewType("CallId", str)
AgentId = NewType("AgentId", str)
QueueId = NewType("QueueId", str)
SeatId = NewType("SeatId", str)
Skill = NewType("Skill", str)

MIN_LEVEL = 1
MAX_LEVEL = 10


class Strategy(StrEnum):
    """How a queue picks among the agents who can take its next caller.

    Each is an ordering of the available agents; the first in the order is
    offered the call:

    - ``longest_idle``: the earliest ``idle_since`` (end of the agent's last
      ACD call, or login), then configuration order.  The default.
    - ``fewest_calls``: the fewest calls answered today, then longest idle.
    - ``least_talk_time``: the least talk time today, then longest idle.
    - ``round_robin``: configuration order, starting after the agent this
      queue offered last (the memory), wrapping around.
    - ``ordered``: top-down: the highest sum of levels in the queue's
      required skills, then configuration order.
    - ``random``: uniform among the available agents (seeded, reproducible).
    - ``ring_all``: every available agent at once; the first to answer wins.
    """

    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK_TIME = "least_talk_time"
    ROUND_ROBIN = "round_robin"
    ORDERED = "ordered"
    RANDOM = "random"
    RING_ALL = "ring_all"


class OverflowAction(StrEnum):
    """What happens to a caller a queue cannot keep (full, or waited too long)."""

    QUEUE = "queue"  # into another queue, keeping waiting time and priority
    CALLBACK = "callback"  # onto the missed-call callback list (漏接回拨), then released
    VOICEMAIL = "voicemail"  # to a voice mailbox (留言)
    PROMPT_HANGUP = "prompt_hangup"  # a prompt, then hang up


class OverflowReason(StrEnum):
    """Why a caller overflowed."""

    FULL = "full"  # the queue was at its maximum length on arrival
    MAX_WAIT = "max_wait"  # the caller waited the queue's maximum wait


class LeaveReason(StrEnum):
    """Why a call left the ACD (the ``reason`` of :class:`~acd.commands.CallerLeft`)."""

    COMPLETED = "completed"  # answered, then the conversation ended
    ABANDONED = "abandoned"  # the caller hung up before being connected
    OVERFLOWED = "overflowed"  # released by an overflow action other than ``queue``
    REFUSED = "refused"  # the queue does not exist (or no longer accepts callers)


class RejectReason(StrEnum):
    """Why an offered agent leg did not become a conversation."""

    BUSY = "busy"  # the phone answered 486 Busy Here (ARI ``Dial`` BUSY)
    DECLINED = "declined"  # the agent pressed reject on the toolbar or phone
    FAILED = "failed"  # the leg failed or hung up before it was bridged


class AgentStatus(StrEnum):
    """What the agent chose: the status set from the toolbar."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"


class AgentState(StrEnum):
    """What the system sees: the state computed from calls and the phone.

    ``idle`` is the only state in which a ``ready`` agent is offered calls.
    Precedence when several facts hold: ``ringing``, ``on_call``, ``wrapup``
    (the ACD's own call), then ``offline`` (logged out), ``unreachable`` (the
    phone is not registered: AMI ``ContactStatus``, or device ``UNAVAILABLE``),
    ``busy_outside`` (the phone is in use on a call the ACD did not place:
    AMI ``DeviceStateChange``), then ``idle``.
    """

    IDLE = "idle"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    BUSY_OUTSIDE = "busy_outside"
    UNREACHABLE = "unreachable"
    OFFLINE = "offline"


class DeviceState(StrEnum):
    """A seat's device state, reduced from AMI ``DeviceStateChange``."""

    NOT_IN_USE = "not_in_use"
    IN_USE = "in_use"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"

    @classmethod
    def from_ami(cls, state: str) -> DeviceState:
        """Map an AMI ``State:`` value (``NOT_INUSE``, ``INUSE``, ``RINGING`` ...)."""
        return _AMI_DEVICE_STATES.get(state.strip().upper(), cls.UNKNOWN)


_AMI_DEVICE_STATES = {
    "NOT_INUSE": DeviceState.NOT_IN_USE,
    "INUSE": DeviceState.IN_USE,
    "BUSY": DeviceState.IN_USE,
    "RINGING": DeviceState.IN_USE,
    "RINGINUSE": DeviceState.IN_USE,
    "ONHOLD": DeviceState.IN_USE,
    "UNAVAILABLE": DeviceState.UNAVAILABLE,
    "INVALID": DeviceState.UNAVAILABLE,
    "UNKNOWN": DeviceState.UNKNOWN,
}


class TimerKind(StrEnum):
    """The three clocks the ACD asks the shell to run."""

    RING = "ring"  # an agent's offer: ring-no-answer when it fires (subject: agent)
    WRAPUP = "wrapup"  # an agent's wrap-up ends when it fires (subject: agent)
    CALLER = "caller"  # a caller's next relaxation, maximum wait or announcement (subject: call)


@dataclass(frozen=True, slots=True)
class TimerKey:
    """Names one timer.  At most one timer runs per key.

    A ``StartTimer`` for a key that is already running re-arms it.  The shell
    echoes the ``at`` it was armed with in ``TimerFired``; a firing whose
    ``at`` is no longer current is stale and ignored, so a timer the shell had
    already queued before a re-arm or cancel does no harm.
    """

    kind: TimerKind
    subject: str

    def __repr__(self) -> str:
        return f"TimerKey({self.kind.value}:{self.subject})"
