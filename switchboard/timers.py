"""Timer keys: the clocks the switchboard asks the shell to run.

A ``StartTimer(key, at)`` for a running key re-arms it; ``TimerFired(key,
at)`` whose ``at`` is not the armed one is stale and ignored, so a firing
the shell had already queued before a re-arm or cancel does no harm.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import acd
from switchboard.ids import CallId


class CallTimerKind(StrEnum):
    """The clocks of one call."""

    IVR = "ivr"  # a menu's input timer (ref: the IVR's timer id)
    SURVEY = "survey"  # the survey's answer timer (ref: the survey's timer id)
    TRANSFER = "transfer"  # a transfer plan's ring deadline (ref: the consultee leg)
    HANGUP = "hangup"  # a guard: hang up the caller (closing prompt, voicemail, survey)


@dataclass(frozen=True, slots=True)
class CallTimer:
    """A timer of one call; it never outlives the call."""

    call_id: CallId
    kind: CallTimerKind
    ref: str = ""

    def __repr__(self) -> str:
        return f"CallTimer({self.call_id}:{self.kind.value}:{self.ref})"


TimerKey = acd.TimerKey | CallTimer
"""An ACD timer (ring, wrap-up, a caller's next step) or a call's own timer."""


def utc(now: float) -> dt.datetime:
    """``now`` (epoch seconds) as an aware time, as the IVR and the router take it."""
    return dt.datetime.fromtimestamp(now, dt.UTC)
