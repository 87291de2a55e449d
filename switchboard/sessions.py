"""A call's menu and survey sessions (:mod:`ivr`) and the execution of their commands.

:class:`Sessions` belongs to one :class:`~switchboard.inbound.InboundCall`:
it starts the menu of the route and the survey after the agent hangs up,
feeds them keys, playback ends, timeouts and the caller's hang-up, and turns
their commands into the call's decisions (play, timers, tags, queue,
voicemail, rating).
"""

from __future__ import annotations

import json

import ivr
from switchboard.host import CallHost
from switchboard.media import Purpose
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase
from switchboard.records import MenuStep
from switchboard.timers import CallTimerKind, utc

P = CallPhase
_KIND = {Purpose.IVR: CallTimerKind.IVR, Purpose.SURVEY: CallTimerKind.SURVEY}
_PURPOSE = {CallTimerKind.IVR: Purpose.IVR, CallTimerKind.SURVEY: Purpose.SURVEY}


class Sessions:
    """The menu and the survey of one call."""

    def __init__(self, call: CallHost) -> None:
        self._call = call
        self._menu: ivr.IvrSession | None = None
        self._survey: ivr.SurveySession | None = None

    def __repr__(self) -> str:
        return f"<Sessions {self._call.call_id} menu={self._menu} survey={self._survey}>"

    @property
    def active(self) -> bool:
        return self._menu is not None or self._survey is not None

    def menu_snapshot(self) -> str | None:
        """The menu session's snapshot as JSON text, while in the menu."""
        if self._menu is None:
            return None
        return json.dumps(self._menu.snapshot(), ensure_ascii=False, separators=(",", ":"))

    def resume_menu(self, session: ivr.IvrSession, now: float, out: Outbox) -> None:
        """An adopted call: its restored menu session re-issues what its node waits for."""
        self._menu = session
        self._run(Purpose.IVR, session.resume(utc(now)), now, out)
        self._call.persist(out)

    def drop(self) -> None:
        self._menu = self._survey = None

    # ------------------------------------------------------------ starting

    def start_menu(self, menu: str, now: float, out: Outbox) -> None:
        call = self._call
        session = ivr.IvrSession(
            call.config.menus, call.config.calendar, menu=menu, session_id=call.call_id
        )
        self._menu = session
        call.facts.move(P.MENU, now)
        call.write(out)
        self._run(Purpose.IVR, session.start(utc(now)), now, out)

    def start_survey(self, now: float, out: Outbox) -> None:
        """The conversation is over: the satisfaction survey (满意度评价)."""
        call = self._call
        f = call.facts
        f.move(P.SURVEY, now)
        call.write(out)
        survey = call.config.survey
        session = ivr.SurveySession(
            survey, session_id=call.call_id, language=ivr.LanguageCode(f.language)
        )
        self._survey = session
        # A guard against a survey that never ends (a lost event): hang up
        # once every prompt and timeout of the survey must have passed.
        budget = (survey.timeout + 15.0) * (survey.max_attempts + 1)
        call.media.start_timer(CallTimerKind.HANGUP, "", now + budget, out)
        self._run(Purpose.SURVEY, session.start(utc(now)), now, out)

    # ------------------------------------------------------------ events

    def _session(self, purpose: Purpose) -> ivr.IvrSession | ivr.SurveySession | None:
        return self._menu if purpose is Purpose.IVR else self._survey

    def _feed(self, purpose: Purpose, event: ivr.Event, now: float, out: Outbox) -> None:
        session = self._session(purpose)
        if session is not None:
            self._run(purpose, session.handle(event, utc(now)), now, out)
            if purpose is Purpose.IVR:
                self._call.persist(out)

    def digit(self, digit: str, now: float, out: Outbox) -> None:
        try:
            event = ivr.Digit(digit)
        except ValueError:
            return  # not a DTMF key: nothing to decide
        purpose = Purpose.IVR if self._call.phase is P.MENU else Purpose.SURVEY
        self._feed(purpose, event, now, out)

    def playback_finished(self, purpose: Purpose, ref: str, now: float, out: Outbox) -> None:
        self._feed(purpose, ivr.PlaybackFinished(ivr.PlaybackId(ref)), now, out)

    def timeout(self, kind: CallTimerKind, ref: str, now: float, out: Outbox) -> None:
        self._feed(_PURPOSE[kind], ivr.Timeout(ivr.TimerId(ref)), now, out)

    def caller_hangup(self, now: float, out: Outbox) -> None:
        purpose = Purpose.IVR if self._menu is not None else Purpose.SURVEY
        self._feed(purpose, ivr.CallerHangup(), now, out)

    def leave_menu(self, path: ivr.Path, now: float) -> None:
        f = self._call.facts
        if path:
            f.menu_path = tuple(
                MenuStep(s.menu, s.node, s.result.value, s.keys, s.at.isoformat()) for s in path
            )
        if f.phase is P.MENU:
            f.stamp("menu_exited_at", now)

    # ------------------------------------------------------------ ratings

    def rated(self, level: int, label: str, now: float, out: Outbox) -> None:
        f = self._call.facts
        f.rating, f.rating_label = level, label
        f.stamp("rated_at", now)
        self._call.note("rated", now, out, {"level": level, "label": label})

    def not_rated(self, reason: str, now: float, out: Outbox) -> None:
        f = self._call.facts
        if f.rating_label is None:
            f.rating, f.rating_label = None, "not_rated"
            self._call.note("not_rated", now, out, {"reason": reason})

    # ------------------------------------------------------------ commands

    def _run(self, purpose: Purpose, commands: list[ivr.Command], now: float, out: Outbox) -> None:
        """Carry out a session's commands, in order."""
        call = self._call
        f = call.facts
        media = call.media
        for command in commands:
            if f.ended:
                return
            match command:
                case ivr.Play():
                    media.play(purpose, command.playback_id, command.prompts, f.language, out)
                case ivr.StopPlayback():
                    media.stop_ref(purpose, command.playback_id, out)
                case ivr.StartTimer():
                    media.start_timer(_KIND[purpose], command.timer_id, now + command.seconds, out)
                case ivr.CancelTimer():
                    media.cancel_timer(_KIND[purpose], command.timer_id, out)
                case ivr.SetTag():
                    f.tags[command.tag] = "1"
                case ivr.SetVar():
                    f.variables[command.name] = command.value
                case ivr.SetLanguage():
                    f.language = command.language
                case ivr.EnterQueue():
                    self.leave_menu(command.path, now)
                    for tag in command.tags:
                        f.tags.setdefault(tag, "1")
                    call.enqueue(command.queue, command.priority, now, out)
                case ivr.RecordVoicemail():
                    self.leave_menu(command.path, now)
                    f.queue = command.queue
                    call.voicemail(command.max_seconds, now, out)
                case ivr.TransferToNumber():
                    self.leave_menu(command.path, now)
                    f.outcome = "transferred"
                    call.note("transfer_number", now, out, {"number": command.number})
                    call.close((), now, out)
                case ivr.Hangup():
                    if purpose is Purpose.IVR:
                        f.outcome = f.outcome or "ivr_hangup"
                    call.close((), now, out)
                case ivr.Rated():
                    self.rated(command.level, command.label, now, out)
                case ivr.NotRated():
                    self.not_rated(command.reason.value, now, out)
                case ivr.Finished():
                    self._menu = None
                    self.leave_menu(command.path, now)
                    for tag in command.tags:
                        f.tags.setdefault(tag, "1")
                    f.variables.update(command.vars)
