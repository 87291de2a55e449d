"""The satisfaction survey (满意度评价) after the agent hangs up, as a sans-IO state machine.

Theory of operation. The caller hears the question (``ASKING``); a key barges
in. When the question ends, the answer timer runs (``WAITING``). A key on the
scale rates the call; a key off the scale plays the invalid prompt and the
question again, until ``max_attempts`` keys were pressed, then the call is not
rated; the timer running out is not rated at once. The outcome is emitted as
soon as it is known, exactly once per session: ``Rated(level, label)`` or
``NotRated(reason)``. The thank-you or goodbye prompt follows (``CLOSING``),
then ``Hangup``. A caller who hangs up before the outcome is ``NotRated``
(``caller_hangup``) and gets no ``Hangup`` command; one who hangs up during the
closing prompt keeps the rating already given.

Like ``IvrSession``: no clock, stale ids ignored, events after the end ignored,
``snapshot``/``restore``/``resume`` for an engine restart.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from ivr.errors import IllegalTransition, SnapshotError
from ivr.ids import LanguageCode, PlaybackId, PromptId, TimerId
from ivr.machine import apply_transition
from ivr.media import Media
from ivr.protocol import (
    CallerHangup,
    Command,
    Digit,
    Event,
    Hangup,
    NotRated,
    NotRatedReason,
    PlaybackFinished,
    Rated,
    Timeout,
)
from ivr.spec import Survey

SNAPSHOT_VERSION = 1


class SurveyState(StrEnum):
    """Internal states of a survey session."""

    IDLE = "idle"
    ASKING = "asking"
    WAITING = "waiting"
    CLOSING = "closing"
    FINISHED = "finished"


_S = SurveyState
SURVEY_TRANSITIONS: dict[SurveyState, frozenset[SurveyState]] = {
    _S.IDLE: frozenset({_S.ASKING, _S.CLOSING, _S.FINISHED}),
    _S.ASKING: frozenset({_S.ASKING, _S.WAITING, _S.CLOSING, _S.FINISHED}),
    _S.WAITING: frozenset({_S.ASKING, _S.CLOSING, _S.FINISHED}),
    _S.CLOSING: frozenset({_S.FINISHED}),
    _S.FINISHED: frozenset(),
}
"""Allowed state changes; CLOSING can only end."""

Result = Rated | NotRated


class SurveySession:
    """One caller rating one call: ``start``, then ``handle`` each event.

    ``handle`` before ``start`` or ``start`` twice raises ``IllegalTransition``;
    nothing else raises.
    """

    def __init__(self, survey: Survey, *, session_id: str, language: LanguageCode) -> None:
        self._survey = survey
        self._session_id = session_id
        self._language = language
        self._state = SurveyState.IDLE
        self._attempts = 0
        self._result: Result | None = None
        self._media = Media(session_id)

    def __repr__(self) -> str:
        return f"<SurveySession {self._session_id} {self._state.value}>"

    @property
    def session_id(self) -> str:
        """The id given at creation; playback and timer ids start with it."""
        return self._session_id

    @property
    def finished(self) -> bool:
        """True once the session needs no more events."""
        return self._state is SurveyState.FINISHED

    @property
    def result(self) -> Result | None:
        """The outcome command, once emitted."""
        return self._result

    @property
    def playback_id(self) -> PlaybackId | None:
        """The playback the session waits for, if any."""
        return self._media.playback

    @property
    def timer_id(self) -> TimerId | None:
        """The timer the session waits for, if any."""
        return self._media.timer

    def start(self, now: dt.datetime) -> list[Command]:
        """Ask the question (or end at once, not rated, when the survey is disabled)."""
        if self._state is not SurveyState.IDLE:
            raise IllegalTransition("survey", self._state.value, "start")
        out: list[Command] = []
        if not self._survey.enabled:
            self._decide(NotRated(NotRatedReason.DISABLED, now), out)
            out.append(Hangup("survey_disabled"))
            self._to(SurveyState.FINISHED)
            return out
        self._ask((), out)
        return out

    def handle(self, event: Event, now: dt.datetime) -> list[Command]:
        """Apply one event; stale ids and events after the end give ``[]``."""
        if self._state is SurveyState.IDLE:
            raise IllegalTransition("survey", self._state.value, "handle")
        out: list[Command] = []
        if self._state is SurveyState.FINISHED:
            return out
        if isinstance(event, PlaybackFinished):
            if self._media.finished(event.playback_id):
                if self._state is SurveyState.ASKING:
                    out.append(self._media.start_timer(self._survey.timeout))
                    self._to(SurveyState.WAITING)
                elif self._state is SurveyState.CLOSING:
                    self._hang_up(out)
        elif isinstance(event, Timeout):
            if self._media.fired(event.timer_id) and self._state is SurveyState.WAITING:
                self._close(NotRated(NotRatedReason.TIMEOUT, now), out)
        elif isinstance(event, Digit):
            if self._state in (SurveyState.ASKING, SurveyState.WAITING):
                out += self._media.quiesce()
                self._on_key(event.digit, now, out)
        elif isinstance(event, CallerHangup):
            out += self._media.quiesce()
            if self._result is None:
                self._decide(NotRated(NotRatedReason.CALLER_HANGUP, now), out)
            self._to(SurveyState.FINISHED)
        return out

    def resume(self, now: dt.datetime) -> list[Command]:
        """Re-issue the prompt or timer of the current state after a restore."""
        if self._state is SurveyState.IDLE:
            return self.start(now)
        if self._state is SurveyState.FINISHED:
            return []
        out = self._media.quiesce()
        if self._state is SurveyState.ASKING:
            out.append(self._play(self._survey.question_prompts, interruptible=True))
        elif self._state is SurveyState.WAITING:
            out.append(self._media.start_timer(self._survey.timeout))
        else:
            out.append(self._play(self._closing_prompts(), interruptible=False))
        return out

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-safe data."""
        result: dict[str, Any] | None = None
        if isinstance(self._result, Rated):
            result = {"rated": self._result.key, "at": self._result.at.isoformat()}
        elif isinstance(self._result, NotRated):
            result = {"not_rated": self._result.reason.value, "at": self._result.at.isoformat()}
        return {
            "kind": "survey",
            "version": SNAPSHOT_VERSION,
            "session_id": self._session_id,
            "language": self._language,
            "state": self._state.value,
            "attempts": self._attempts,
            "result": result,
            "media": self._media.snapshot(),
        }

    @classmethod
    def restore(cls, survey: Survey, snapshot: dict[str, Any]) -> SurveySession:
        """A session in the state ``snapshot`` recorded; ``SnapshotError`` if it does not fit."""
        if snapshot.get("kind") != "survey" or snapshot.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError("not a survey snapshot of version 1")
        try:
            session = cls(
                survey,
                session_id=str(snapshot["session_id"]),
                language=LanguageCode(str(snapshot["language"])),
            )
            session._state = SurveyState(snapshot["state"])
            session._attempts = int(snapshot["attempts"])
            session._media = Media.restore(session._session_id, dict(snapshot["media"]))
            raw = snapshot["result"]
            if raw is not None:
                at = dt.datetime.fromisoformat(str(raw["at"]))
                if "rated" in raw:
                    level = survey.level_for(str(raw["rated"]))
                    if level is None:
                        raise SnapshotError(f"key {raw['rated']!r} is no longer on the scale")
                    session._result = Rated(level.level, level.label, level.key, at)
                else:
                    session._result = NotRated(NotRatedReason(raw["not_rated"]), at)
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"malformed field: {exc}") from exc
        if (session._state is SurveyState.CLOSING) != (session._result is not None) and (
            session._state is not SurveyState.FINISHED
        ):
            raise SnapshotError(f"state {session._state.value} does not fit the result")
        return session

    # ------------------------------------------------------------ internals

    def _to(self, target: SurveyState) -> None:
        self._state = apply_transition("survey", SURVEY_TRANSITIONS, self._state, target)

    def _play(self, prompts: tuple[PromptId, ...], *, interruptible: bool) -> Command:
        return self._media.play(prompts, self._language, interruptible=interruptible)

    def _ask(self, before: tuple[PromptId, ...], out: list[Command]) -> None:
        prompts = (*before, *self._survey.question_prompts)
        out.append(self._play(prompts, interruptible=True))
        self._to(SurveyState.ASKING)

    def _on_key(self, key: str, now: dt.datetime, out: list[Command]) -> None:
        level = self._survey.level_for(key)
        if level is not None:
            self._close(Rated(level.level, level.label, level.key, now), out)
            return
        self._attempts += 1
        if self._attempts >= self._survey.max_attempts:
            self._close(NotRated(NotRatedReason.INVALID, now), out)
            return
        self._ask(self._survey.invalid_prompts, out)

    def _decide(self, result: Result, out: list[Command]) -> None:
        self._result = result
        out.append(result)

    def _closing_prompts(self) -> tuple[PromptId, ...]:
        if isinstance(self._result, Rated):
            return self._survey.thanks_prompts
        return self._survey.not_rated_prompts

    def _close(self, result: Result, out: list[Command]) -> None:
        self._decide(result, out)
        prompts = self._closing_prompts()
        if prompts:
            out.append(self._play(prompts, interruptible=False))
            self._to(SurveyState.CLOSING)
        else:
            self._hang_up(out)

    def _hang_up(self, out: list[Command]) -> None:
        rated = isinstance(self._result, Rated)
        out.append(Hangup("survey_rated" if rated else "survey_not_rated"))
        self._to(SurveyState.FINISHED)
