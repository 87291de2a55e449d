"""A call's playbacks and timers: what it waits for, and nothing left behind.

:class:`CallMedia` hands out playback ids, remembers what each playback is
for, keeps the call's armed timers with the time each was armed for, and on
the call's end cancels every timer still armed and forgets every playback
(the caller's channel is gone, and its playbacks with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from switchboard.callstate import CallFacts
from switchboard.commands import CancelTimer, Play, StartTimer, StopPlayback
from switchboard.ids import PlaybackId
from switchboard.outbox import Outbox
from switchboard.timers import CallTimer, CallTimerKind


class Purpose(StrEnum):
    """What a playback is for, so its end leads to the right decision."""

    ROUTE = "route"  # an announcement or the notice of the route
    IVR = "ivr"  # a prompt of the menu session
    SURVEY = "survey"  # a prompt of the survey session
    ANNOUNCE = "announce"  # a position announcement in the queue
    CLOSING = "closing"  # the last prompt before the hang-up


@dataclass(frozen=True, slots=True)
class Playing:
    """One playback in progress: its purpose and the session's own id for it."""

    purpose: Purpose
    ref: str


class CallMedia:
    """The playbacks and timers of one call."""

    def __init__(self, facts: CallFacts) -> None:
        self._facts = facts
        self._call_id = facts.call_id
        self._channel = facts.caller_channel
        self._seq = 0
        self._playing: dict[PlaybackId, Playing] = {}
        self._timers: dict[CallTimer, float] = {}

    def __repr__(self) -> str:
        return (
            f"<CallMedia {self._call_id} playing={len(self._playing)} timers={len(self._timers)}>"
        )

    @property
    def playbacks(self) -> frozenset[PlaybackId]:
        return frozenset(self._playing)

    @property
    def timers(self) -> frozenset[CallTimer]:
        return frozenset(self._timers)

    def playing(self, purpose: Purpose) -> PlaybackId | None:
        """The playback in progress for ``purpose``, if any."""
        for playback, what in self._playing.items():
            if what.purpose is purpose:
                return playback
        return None

    def play(
        self, purpose: Purpose, ref: str, media: tuple[str, ...], language: str, out: Outbox
    ) -> PlaybackId:
        self._seq += 1
        playback = PlaybackId(self._facts.local_id("p", self._seq))
        self._playing[playback] = Playing(purpose, ref)
        out.emit(Play(self._call_id, self._channel, playback, media, language))
        return playback

    def stop(self, playback: PlaybackId, out: Outbox) -> None:
        if self._playing.pop(playback, None) is not None:
            out.emit(StopPlayback(self._call_id, playback))

    def stop_ref(self, purpose: Purpose, ref: str, out: Outbox) -> None:
        """Stop the playback a session knows by its own id ``ref``."""
        for playback, what in list(self._playing.items()):
            if what.purpose is purpose and what.ref == ref:
                self.stop(playback, out)

    def finished(self, playback: PlaybackId) -> Playing | None:
        """A playback ended: what it was for, or None when stale."""
        return self._playing.pop(playback, None)

    def start_timer(self, kind: CallTimerKind, ref: str, at: float, out: Outbox) -> None:
        key = CallTimer(self._call_id, kind, ref)
        self._timers[key] = at
        out.emit(StartTimer(key, at))

    def cancel_timer(self, kind: CallTimerKind, ref: str, out: Outbox) -> None:
        key = CallTimer(self._call_id, kind, ref)
        if self._timers.pop(key, None) is not None:
            out.emit(CancelTimer(key))

    def fired(self, key: CallTimer, at: float) -> bool:
        """Whether a firing is current (then the timer is no longer armed)."""
        if self._timers.get(key) != at:
            return False
        del self._timers[key]
        return True

    def quiesce(self, out: Outbox) -> None:
        """The call ended: cancel every armed timer, forget every playback."""
        for key in list(self._timers):
            out.emit(CancelTimer(key))
        self._timers.clear()
        self._playing.clear()
