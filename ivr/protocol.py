"""Events the shell feeds into the IVR and commands the IVR hands back.

The shell translates ARI into events (``PlaybackFinished`` from the ARI event of
the same name, ``Digit`` from ``ChannelDtmfReceived``, ``CallerHangup`` from
``StasisEnd``/``ChannelHangupRequest``, ``Timeout`` from its own clock) and
executes commands in list order. Ids in events that no longer match what the
session waits for are ignored, so late deliveries are harmless.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ivr.ids import LanguageCode, MenuId, NodeId, PlaybackId, PromptId, QueueId, TimerId

DTMF_KEYS = frozenset("0123456789*#ABCD")

# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A playback the session started has ended (finished, stopped or failed)."""

    playback_id: PlaybackId


@dataclass(frozen=True, slots=True)
class Digit:
    """The caller pressed one DTMF key (0-9, *, #, A-D)."""

    digit: str

    def __post_init__(self) -> None:
        if self.digit not in DTMF_KEYS:
            raise ValueError(f"{self.digit!r} is not a DTMF key")


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer the session started has run out."""

    timer_id: TimerId


@dataclass(frozen=True, slots=True)
class CallerHangup:
    """The caller's channel is gone; the session ends without a routing decision."""


Event = PlaybackFinished | Digit | Timeout | CallerHangup

# ---------------------------------------------------------------- path


class StepResult(StrEnum):
    """How the caller left a node, as recorded in the menu path."""

    PLAYED = "played"
    SKIPPED = "skipped"
    CHOSEN = "chosen"
    COLLECTED = "collected"
    INVALID = "invalid"
    TIMEOUT = "timeout"
    EXHAUSTED = "exhausted"
    OPERATOR = "operator"
    LANGUAGE = "language"
    SET = "set"
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"
    GOTO = "goto"
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    TRANSFER = "transfer"
    HANGUP = "hangup"
    CALLER_HANGUP = "caller_hangup"


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of the walk: where, what happened, the keys involved, and when.

    ``keys`` holds the keys of a menu choice, an invalid entry or a language
    choice; collected values (a ticket number) go to a variable instead.
    """

    menu: MenuId
    node: NodeId
    result: StepResult
    at: dt.datetime
    keys: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-safe form, for the call record and snapshots."""
        return {
            "menu": self.menu,
            "node": self.node,
            "result": self.result.value,
            "keys": self.keys,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PathStep:
        """Inverse of ``as_dict``."""
        return cls(
            menu=MenuId(str(data["menu"])),
            node=NodeId(str(data["node"])),
            result=StepResult(data["result"]),
            keys=str(data.get("keys", "")),
            at=dt.datetime.fromisoformat(str(data["at"])),
        )


Path = tuple[PathStep, ...]

# ---------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``prompts`` in order, in ``language``, as one playback.

    The shell resolves each (prompt, language) to a sound and reports the end
    with ``PlaybackFinished(playback_id)``. ``interruptible`` tells whether a
    key press will stop it (the session sends ``StopPlayback`` itself).
    """

    playback_id: PlaybackId
    prompts: tuple[PromptId, ...]
    language: LanguageCode
    interruptible: bool


@dataclass(frozen=True, slots=True)
class StopPlayback:
    """Stop a playback; a ``PlaybackFinished`` for it afterwards is ignored."""

    playback_id: PlaybackId


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Deliver ``Timeout(timer_id)`` after ``seconds`` unless cancelled first."""

    timer_id: TimerId
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget a timer; cancelling an unknown or fired timer is a no-op."""

    timer_id: TimerId


@dataclass(frozen=True, slots=True)
class SetTag:
    """Attach a tag to the call (ticket pre-routing, reports)."""

    tag: str


@dataclass(frozen=True, slots=True)
class SetVar:
    """Set a call variable (e.g. ``ticket_number``) for the agent and the ticket."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """The caller chose a prompt set; later prompts of the call use it."""

    language: LanguageCode


@dataclass(frozen=True, slots=True)
class EnterQueue:
    """Hand the caller to the ACD."""

    queue: QueueId
    skills: dict[str, int]
    priority: int
    tags: tuple[str, ...]
    path: Path
    language: LanguageCode


@dataclass(frozen=True, slots=True)
class RecordVoicemail:
    """Record a message (留言) for ``queue``'s callback list, then end the call.

    The beep, if configured, has already been played by the session.
    """

    queue: QueueId
    max_seconds: int
    max_silence_seconds: int | None
    tags: tuple[str, ...]
    path: Path


@dataclass(frozen=True, slots=True)
class TransferToNumber:
    """Send the caller to an outside number through the trunk."""

    number: str
    tags: tuple[str, ...]
    path: Path


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang up the caller's channel."""

    reason: str


class Outcome(StrEnum):
    """How a menu session ended."""

    QUEUED = "queued"
    VOICEMAIL = "voicemail"
    TRANSFERRED = "transferred"
    HUNG_UP = "hung_up"
    CALLER_HANGUP = "caller_hangup"


@dataclass(frozen=True, slots=True)
class Finished:
    """Always the last command of a session: the menu exit, for the call record."""

    outcome: Outcome
    path: Path
    tags: tuple[str, ...]
    vars: dict[str, str]
    language: LanguageCode
    at: dt.datetime


class NotRatedReason(StrEnum):
    """Why a survey ended without a rating."""

    TIMEOUT = "timeout"
    INVALID = "invalid"
    CALLER_HANGUP = "caller_hangup"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Rated:
    """The caller rated the call: ``level`` 1 is the best, ``label`` e.g. 非常满意."""

    level: int
    label: str
    key: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class NotRated:
    """The survey ended without a rating."""

    reason: NotRatedReason
    at: dt.datetime


Command = (
    Play
    | StopPlayback
    | StartTimer
    | CancelTimer
    | SetTag
    | SetVar
    | SetLanguage
    | EnterQueue
    | RecordVoicemail
    | TransferToNumber
    | Hangup
    | Finished
    | Rated
    | NotRated
)
