"""What a session has asked the shell to do with the caller's channel and clock.

A session has at most one playback and at most one timer outstanding. Ids are
``<session id>-p<n>`` and ``<session id>-t<n>`` with one counter, carried in
snapshots, so an id is never reused within a call, even across a restart.
"""

from __future__ import annotations

from typing import Any

from ivr.errors import SnapshotError
from ivr.ids import LanguageCode, PlaybackId, PromptId, TimerId
from ivr.protocol import CancelTimer, Command, Play, StartTimer, StopPlayback


class Media:
    """The outstanding playback and timer of one session, and the id counter."""

    __slots__ = ("_seq", "playback", "session_id", "timer")

    def __init__(
        self,
        session_id: str,
        *,
        seq: int = 0,
        playback: PlaybackId | None = None,
        timer: TimerId | None = None,
    ) -> None:
        self.session_id = session_id
        self._seq = seq
        self.playback = playback
        self.timer = timer

    def __repr__(self) -> str:
        return f"<Media {self.session_id} playback={self.playback} timer={self.timer}>"

    def _next(self, kind: str) -> str:
        self._seq += 1
        return f"{self.session_id}-{kind}{self._seq}"

    def play(
        self, prompts: tuple[PromptId, ...], language: LanguageCode, *, interruptible: bool
    ) -> Play:
        """Start a playback; the caller must have quiesced any earlier one."""
        assert self.playback is None, "a playback is already outstanding"
        self.playback = PlaybackId(self._next("p"))
        return Play(self.playback, prompts, language, interruptible)

    def start_timer(self, seconds: float) -> StartTimer:
        """Start a timer; the caller must have quiesced any earlier one."""
        assert self.timer is None, "a timer is already outstanding"
        self.timer = TimerId(self._next("t"))
        return StartTimer(self.timer, seconds)

    def finished(self, playback_id: PlaybackId) -> bool:
        """Consume a ``PlaybackFinished``: True if it is the outstanding playback."""
        if self.playback is None or playback_id != self.playback:
            return False
        self.playback = None
        return True

    def fired(self, timer_id: TimerId) -> bool:
        """Consume a ``Timeout``: True if it is the outstanding timer."""
        if self.timer is None or timer_id != self.timer:
            return False
        self.timer = None
        return True

    def quiesce(self) -> list[Command]:
        """Stop the outstanding playback and cancel the outstanding timer, if any."""
        out: list[Command] = []
        if self.playback is not None:
            out.append(StopPlayback(self.playback))
            self.playback = None
        if self.timer is not None:
            out.append(CancelTimer(self.timer))
            self.timer = None
        return out

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state."""
        return {"seq": self._seq, "playback": self.playback, "timer": self.timer}

    @classmethod
    def restore(cls, session_id: str, data: dict[str, Any]) -> Media:
        """Inverse of ``snapshot``."""
        try:
            seq = int(data["seq"])
            playback = data["playback"]
            timer = data["timer"]
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"media state {data!r}") from exc
        return cls(
            session_id,
            seq=seq,
            playback=None if playback is None else PlaybackId(str(playback)),
            timer=None if timer is None else TimerId(str(timer)),
        )
