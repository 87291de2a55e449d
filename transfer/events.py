"""Events: what the shell tells a transfer plan.

Softswitch facts (translated from ARI) and the agent's requests.  A
softswitch fact that no longer matters in the plan's state (a second hang-up
report, an answer after the plan gave up) is stale and changes nothing, except
that a late answer is hung up.  An agent's request the state does not allow is
refused with :class:`~transfer.errors.RequestRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass

from transfer.model import FailReason

# ---------------------------------------------------------------- softswitch facts


@dataclass(frozen=True, slots=True)
class ConsulteeAnswered:
    """The consultee leg answered (ARI ``StasisStart`` with args ``consultee,<call>,<leg>``)."""


@dataclass(frozen=True, slots=True)
class ConsulteeFailed:
    """The consultee leg never answered: ``Dial`` BUSY/NOANSWER/CHANUNAVAIL, its
    ``ChannelDestroyed`` before any answer, or a failed originate."""

    reason: FailReason


@dataclass(frozen=True, slots=True)
class ConsulteeGone:
    """The answered consultee leg hung up (``StasisEnd`` / ``ChannelDestroyed``)."""


@dataclass(frozen=True, slots=True)
class AgentGone:
    """The agent's leg hung up while the plan needed the agent."""


@dataclass(frozen=True, slots=True)
class CallerGone:
    """The caller hung up, or the call ended for another reason."""


@dataclass(frozen=True, slots=True)
class QueueAnswered:
    """After a blind transfer to a queue, an agent of that queue answered."""


@dataclass(frozen=True, slots=True)
class RingTimeout:
    """The plan's own deadline for the consultee to answer passed (``StartTimer``)."""


# ---------------------------------------------------------------- the agent's requests


@dataclass(frozen=True, slots=True)
class Join:
    """Consult -> conference: bring the caller back so that all three talk."""


@dataclass(frozen=True, slots=True)
class Complete:
    """The agent leaves: caller and consultee stay together (the hand-off).

    In a conference this is "drop out"; while consulting it completes the
    attended transfer.
    """


@dataclass(frozen=True, slots=True)
class Cancel:
    """Drop the consultee: stop its ringing, or hang it up and take the caller back.

    The shell also sends it when an emergency hand-off pre-empts the plan.
    """


Event = (
    ConsulteeAnswered
    | ConsulteeFailed
    | ConsulteeGone
    | AgentGone
    | CallerGone
    | QueueAnswered
    | RingTimeout
    | Join
    | Complete
    | Cancel
)
REQUESTS = (Join, Complete, Cancel)
