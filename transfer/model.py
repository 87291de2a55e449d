"""The vocabulary of transfers: ids, targets, parties, outcomes and the leg record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NewType

from transfer.errors import RequestRefused

LegId = NewType("LegId", str)
"""The id of a consultee leg, chosen by the shell (it becomes the ARI ``channelId``)."""

SessionId = NewType("SessionId", str)
"""The id of one supervisor's monitoring of one call."""


class Mode(StrEnum):
    """How the agent hands the call on."""

    BLIND = "blind"  # the agent leaves at once; the caller is put through to the target
    ATTENDED = "attended"  # caller on hold while the agent consults the target first
    THREE_WAY = "three_way"  # the target joins caller and agent (三方通话)


class TargetKind(StrEnum):
    NUMBER = "number"  # any number, dialled through the carrier trunk
    LINE = "line"  # a retained parallel hotline of lines.yaml (并联整合)
    EMERGENCY = "emergency"  # 110 / 119 / 120 / 12395 (互联互通)
    AGENT = "agent"  # a named colleague, rung at their seat
    QUEUE = "queue"  # another queue of the ACD (blind only)


class LegKind(StrEnum):
    """How a leg moved the call, as the ticket's ``transfers`` list names it."""

    BLIND = "blind"
    ATTENDED = "attended"
    THREE_WAY = "three_way"
    EMERGENCY = "emergency"


class Outcome(StrEnum):
    """How a leg ended (the ticket's ``LegOutcome``)."""

    COMPLETED = "completed"  # the call moved to the target
    STAYED = "stayed"  # the target joined and left; the agent kept the call
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the agent took the call back, or the caller left first


class FailReason(StrEnum):
    """Why a consultee leg never answered (ARI ``Dial`` status or hang-up cause)."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.value)


class Party(StrEnum):
    """The parties a plan moves about; the shell knows their channels."""

    CALLER = "caller"
    AGENT = "agent"
    CONSULTEE = "consultee"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a call goes.

    ``ref`` is the number, line id, agent number or queue id; ``dial`` the
    dial string for targets reached by a leg (empty for a queue); ``label``
    a human name for the toolbar and the timeline; ``extension`` DTMF digits
    to key once the target answers (a parallel line's menu choice, e.g. 2 for
    12366-2); ``caller_id`` what the target's phone shows as the caller
    (``"name" <number>`` or a number): the citizen's number for 110/119/120,
    who call the person in danger back, the hotline's for most others.
    """

    kind: TargetKind
    ref: str
    dial: str = ""
    label: str = ""
    extension: str = ""
    caller_id: str = ""

    @property
    def presented(self) -> str:
        """The number in :attr:`caller_id`, without a display name."""
        text = self.caller_id
        if "<" in text and text.endswith(">"):
            return text[text.rindex("<") + 1 : -1]
        return text

    def __post_init__(self) -> None:
        if not self.ref:
            raise RequestRefused("bad_target", "a target needs a number, line, agent or queue")
        if self.kind is not TargetKind.QUEUE and not self.dial:
            raise RequestRefused("bad_target", f"target {self.ref} has no dial string")

    @property
    def by_leg(self) -> bool:
        """Reached by originating a consultee leg (everything but a queue)."""
        return self.kind is not TargetKind.QUEUE


@dataclass(frozen=True, slots=True)
class LegRecord:
    """One leg of the call's timeline, in the shape the ticket carries."""

    kind: LegKind
    target: str
    started_by: str
    started_at: dt.datetime
    outcome: Outcome
    duration_s: float
    presented: str = ""
    """The number the target was shown as the caller ("" when none was set)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "target": self.target,
            "started_by": self.started_by,
            "started_at": self.started_at.isoformat(),
            "outcome": self.outcome.value,
            "duration_s": round(self.duration_s, 3),
            "presented": self.presented,
        }
