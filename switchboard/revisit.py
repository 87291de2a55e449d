"""Automatic return visits (回访): the engine calls the citizen and asks the survey.

Theory of operation
-------------------
The dialler in the shell claims a visit that is due and hands it over as
``VisitDue``; :class:`VisitCall` owns that one call from the dial to its
result, and :class:`~switchboard.revisits.Revisits` holds the calls in
progress; the switchboard routes the events about their channels,
playbacks and timers to them.

**The call.**  The citizen's leg is placed with ``DialOut`` (created into
the application, then dialled, ``create_then_dial_answer_busy_timeout.jsonl``)
showing the configured number.  Busy, unanswered, timed out or refused, the
attempt ends as ``busy`` or ``no_answer``: the store keeps it and the visit
is due again after the spacing, until its attempts are spent.  Answered
(``OutboundAnswered``), the citizen hears the notice, then the survey of
``survey.yaml`` (:class:`ivr.SurveySession`: the question, a key on the
scale, the thanks); the answer is the result (``reached``) and the call ends
politely.

**Falling back to a person.**  At any time during the notice and the
survey, ``agent_key`` asks for a person: the citizen's leg becomes an
:class:`~switchboard.inbound.InboundCall` queued to ``agent_queue`` with the
``callback`` tag (its priority class) and the ticket's id and summary in its
tags (the agent sees them with the call); the visit's result waits for that call's end (the agent who
answered, the recording, the rating).  ``refuse_key``, no key or a wrong key
until the survey gives up, or a hang-up before the answer: the visit goes
to the agents (``fallback``) and is never dialled automatically again.

Phases, in :data:`TRANSITIONS`::

    dialling --answered--> notice --> survey --> closing --> ended
    dialling --busy/no answer/refused--> ended
    notice | survey --agent key--> handed (an InboundCall now)
    notice | survey --refuse key--> closing

Exactly one ``RecordVisitResult`` per call, as soon as the result is known.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import ivr
from switchboard.callstate import CallFacts
from switchboard.commands import (
    DialOut,
    HangUp,
    RecordVisitResult,
    WriteTimeline,
)
from switchboard.config import FlowConfig, VisitFlow
from switchboard.events import CallerArrived, DialStatus, VisitDue
from switchboard.ids import CallId, ChannelId, PlaybackId
from switchboard.inbound import InboundCall
from switchboard.media import CallMedia, Purpose
from switchboard.outbox import Outbox
from switchboard.phases import SwitchboardError
from switchboard.records import CallRecord, Detail
from switchboard.timers import CallTimer, CallTimerKind, utc

QUESTION = "satisfaction"
"""The question id of the survey of ``survey.yaml`` (one question: the rating)."""
DIAL_GRACE_S = 10.0
"""A dial with no verdict this long after its own timeout is given up (a lost event)."""


class VisitPhase(StrEnum):
    DIALLING = "dialling"
    NOTICE = "notice"
    SURVEY = "survey"
    CLOSING = "closing"
    HANDED = "handed"
    ENDED = "ended"


V = VisitPhase
TRANSITIONS: dict[VisitPhase, frozenset[VisitPhase]] = {
    V.DIALLING: frozenset({V.NOTICE, V.SURVEY, V.ENDED}),
    V.NOTICE: frozenset({V.SURVEY, V.CLOSING, V.HANDED, V.ENDED}),
    V.SURVEY: frozenset({V.CLOSING, V.HANDED, V.ENDED}),
    V.CLOSING: frozenset({V.ENDED}),
    V.HANDED: frozenset({V.ENDED}),
    V.ENDED: frozenset(),
}


class VisitCall:
    """One automatic return-visit call (see the module docstring)."""

    def __init__(self, due: VisitDue, config: FlowConfig, flow: VisitFlow, now: float) -> None:
        self.due = due
        self.config = config
        self.flow = flow
        self.phase = VisitPhase.DIALLING
        self.leg = ChannelId(f"{due.call_id}-v1")
        # The citizen's leg is this call's "caller" channel: the media ids and
        # the InboundCall a hand-over makes both hang off it.
        self.facts = CallFacts(
            call_id=due.call_id,
            caller_channel=self.leg,
            caller_number=due.number,
            caller_name="",
            dialled=flow.caller_id,
            arrived_at=now,
            config_version=config.version,
            language=config.language,
        )
        self.media = CallMedia(self.facts)
        self.answers: list[tuple[str, str]] = []
        self.answered_at: float | None = None
        self.recorded = False
        self._survey: ivr.SurveySession | None = None

    def __repr__(self) -> str:
        return f"<VisitCall {self.call_id} ticket={self.due.ticket_id} {self.phase}>"

    @property
    def call_id(self) -> CallId:
        return self.due.call_id

    @property
    def ended(self) -> bool:
        return self.phase is VisitPhase.ENDED

    def _move(self, target: VisitPhase) -> None:
        if target not in TRANSITIONS[self.phase]:
            raise SwitchboardError(f"visit {self.call_id}: {self.phase} -> {target} not allowed")
        self.phase = target

    def _note(self, kind: str, now: float, out: Outbox, detail: Detail) -> None:
        out.emit(WriteTimeline(self.call_id, now, kind, None, detail))

    # ------------------------------------------------------------ the dial

    def start(self, now: float, out: Outbox) -> None:
        flow, due = self.flow, self.due
        self._note("visit_dialled", now, out, {"ticket_id": due.ticket_id, "attempt": due.attempt})
        out.emit(
            DialOut(
                self.call_id,
                self.leg,
                flow.dial_pattern.replace("{number}", due.number),
                flow.caller_id,
                flow.ring_s,
                ("revisit", self.call_id, due.ticket_id),
                (("HOTLINE_CALL_ID", self.call_id), ("HOTLINE_TICKET_ID", due.ticket_id)),
            )
        )
        self.media.start_timer(CallTimerKind.HANGUP, "", now + flow.ring_s + DIAL_GRACE_S, out)

    def not_reached(
        self, status: DialStatus | None, why: str, now: float, out: Outbox, *, gone: bool = False
    ) -> None:
        """The dial ended unanswered (``status``), or could not be made (None, ``why``)."""
        if self.phase is not VisitPhase.DIALLING:
            return
        outcome = "busy" if status is DialStatus.BUSY else "no_answer"
        note = why or (status.value.lower() if status is not None else "")
        self._result(outcome, now, out, note=note or None)
        # A busy created leg stays in the application until hung up.
        self._end(now, out, hang_up=not gone)

    def answered(self, now: float, out: Outbox) -> None:
        if self.phase is not VisitPhase.DIALLING:
            return
        self.answered_at = now
        self.media.cancel_timer(CallTimerKind.HANGUP, "", out)
        self._note("visit_answered", now, out, {"ticket_id": self.due.ticket_id})
        survey = self.config.survey
        # The whole conversation is bounded: every prompt and timeout, then a hang-up.
        budget = (survey.timeout + 15.0) * (survey.max_attempts + 2)
        self.media.start_timer(CallTimerKind.HANGUP, "", now + budget, out)
        if self.flow.notice:
            self._move(VisitPhase.NOTICE)
            self.media.play(Purpose.ROUTE, "notice", self.flow.notice, self.facts.language, out)
        else:
            self._start_survey(now, out)

    # ------------------------------------------------------------ the survey

    def _start_survey(self, now: float, out: Outbox) -> None:
        self._move(VisitPhase.SURVEY)
        session = ivr.SurveySession(
            self.config.survey,
            session_id=self.call_id,
            language=ivr.LanguageCode(self.facts.language),
        )
        self._survey = session
        self._run(session.start(utc(now)), now, out)

    def _feed(self, event: ivr.Event, now: float, out: Outbox) -> None:
        if self._survey is not None:
            self._run(self._survey.handle(event, utc(now)), now, out)

    def _run(self, commands: list[ivr.Command], now: float, out: Outbox) -> None:
        media, language = self.media, self.facts.language
        for command in commands:
            if self.phase in (VisitPhase.ENDED, VisitPhase.HANDED):
                return
            match command:
                case ivr.Play():
                    media.play(Purpose.SURVEY, command.playback_id, command.prompts, language, out)
                case ivr.StopPlayback():
                    media.stop_ref(Purpose.SURVEY, command.playback_id, out)
                case ivr.StartTimer():
                    media.start_timer(
                        CallTimerKind.SURVEY, command.timer_id, now + command.seconds, out
                    )
                case ivr.CancelTimer():
                    media.cancel_timer(CallTimerKind.SURVEY, command.timer_id, out)
                case ivr.Rated():
                    self.answers.append((QUESTION, str(command.level)))
                    self._note("visit_answer", now, out, {"question": QUESTION,
                               "answer": str(command.level), "label": command.label})  # fmt: skip
                    self._result("reached", now, out, note=command.label)
                case ivr.NotRated():
                    if command.reason is not ivr.NotRatedReason.CALLER_HANGUP:
                        self._fall_back("no_input", "reached", now, out)
                case ivr.Hangup():
                    self._hang_up(now, out)

    # ------------------------------------------------------------ the citizen

    def digit(self, digit: str, now: float, out: Outbox, hand_over: HandOver) -> None:
        if self.phase not in (VisitPhase.NOTICE, VisitPhase.SURVEY):
            return
        if digit == self.flow.agent_key:
            self._hand_over(now, out, hand_over)
        elif digit == self.flow.refuse_key:
            self._refuse(now, out)
        elif self.phase is VisitPhase.SURVEY:
            try:
                event = ivr.Digit(digit)
            except ValueError:
                return
            self._feed(event, now, out)

    def playback_finished(self, playback: PlaybackId, now: float, out: Outbox) -> None:
        what = self.media.finished(playback)
        if what is None or self.ended:
            return
        if what.purpose is Purpose.ROUTE and self.phase is VisitPhase.NOTICE:
            self._start_survey(now, out)
        elif what.purpose is Purpose.SURVEY:
            self._feed(ivr.PlaybackFinished(ivr.PlaybackId(what.ref)), now, out)
        elif what.purpose is Purpose.CLOSING:
            self._hang_up(now, out)

    def timer(self, key: CallTimer, at: float, now: float, out: Outbox) -> None:
        if self.ended or not self.media.fired(key, at):
            return
        if key.kind is CallTimerKind.SURVEY:
            self._feed(ivr.Timeout(ivr.TimerId(key.ref)), now, out)
        elif key.kind is CallTimerKind.HANGUP:
            if self.phase is VisitPhase.DIALLING:
                self.not_reached(None, "no_verdict", now, out)
            else:
                self._fall_back("no_input", "reached", now, out)
                self._hang_up(now, out)

    def left(self, cause: int | None, now: float, out: Outbox) -> None:
        """The citizen's leg is gone."""
        if self.ended:
            return
        if self.phase is VisitPhase.DIALLING:
            # create_then_dial_answer_busy_timeout.jsonl: a dial timeout is
            # only ChannelDestroyed cause 19, no Dial NOANSWER.
            status = DialStatus.BUSY if cause == 17 else DialStatus.NOANSWER
            self.not_reached(status, "", now, out, gone=True)
            return
        if self._survey is not None:
            self._feed(ivr.CallerHangup(), now, out)
        self._fall_back("hung_up", "reached", now, out)
        self._end(now, out, hang_up=False)

    # ------------------------------------------------------------ ends

    def _refuse(self, now: float, out: Outbox) -> None:
        self._note("visit_refused", now, out, {"ticket_id": self.due.ticket_id})
        self._fall_back("refused", "refused", now, out)
        self._quiet_session(out)
        self._move(VisitPhase.CLOSING)
        if self.flow.refused_prompts:
            prompts = self.flow.refused_prompts
            self.media.play(Purpose.CLOSING, "closing", prompts, self.facts.language, out)
        else:
            self._hang_up(now, out)

    def _hand_over(self, now: float, out: Outbox, hand_over: HandOver) -> None:
        self._note("visit_to_agent", now, out, {"queue": self.flow.agent_queue})
        self._quiet_session(out)
        self.media.quiesce(out)
        self._move(VisitPhase.HANDED)
        due = self.due
        arrival = CallerArrived(self.call_id, self.leg, self.flow.caller_id, due.number)
        call = InboundCall(arrival, self.config, now)
        f = call.facts
        f.route = "return_visit"
        f.tags["callback"] = "1"  # the callback priority class of the ACD
        # Shown to the agent with the call (the toolbar's call view shows its tags).
        f.tags["return_visit"] = due.ticket_id
        if due.summary:
            f.tags["ticket_summary"] = due.summary
        f.stamp("routed_at", now)
        hand_over(call)
        call.enqueue(self.flow.agent_queue, None, now, out)

    def handed_call_ended(self, record: CallRecord, now: float, out: Outbox) -> None:
        """The call a person took over ended: its agent, recording and rating are the result."""
        if self.phase is not VisitPhase.HANDED:
            return
        answers = list(self.answers)
        if record.rating is not None:
            answers.append((QUESTION, str(record.rating)))
        self.answers = answers
        if record.answered_at is not None:
            self._result(
                "reached", now, out, agent=record.last_agent,
                recording=record.recording_ref, note="agent",
            )  # fmt: skip
        else:
            self._fall_back("asked_for_agent", "reached", now, out)
        self._move(VisitPhase.ENDED)

    def _quiet_session(self, out: Outbox) -> None:
        """The notice or the survey stops where it is: its playback and timer with it."""
        playback = self.media.playing(Purpose.ROUTE)
        if playback is not None:
            self.media.stop(playback, out)
        survey, self._survey = self._survey, None
        if survey is None:
            return
        if survey.playback_id is not None:
            self.media.stop_ref(Purpose.SURVEY, survey.playback_id, out)
        if survey.timer_id is not None:
            self.media.cancel_timer(CallTimerKind.SURVEY, survey.timer_id, out)

    def _hang_up(self, now: float, out: Outbox) -> None:
        if self.answered_at is not None and not self.recorded:
            self._fall_back("no_input", "reached", now, out)
        self._end(now, out, hang_up=True)

    def _end(self, now: float, out: Outbox, *, hang_up: bool) -> None:
        if self.ended:
            return
        if self.phase is not VisitPhase.DIALLING and self.phase is not VisitPhase.CLOSING:
            self._quiet_session(out)
        self.media.quiesce(out)
        self._survey = None
        self.phase = VisitPhase.ENDED
        if hang_up:
            out.emit(HangUp(self.call_id, self.leg, "normal"))

    def _fall_back(self, why: str, outcome: str, now: float, out: Outbox) -> None:
        self._result(outcome, now, out, note=why, fallback=why)

    def _result(
        self,
        outcome: str,
        now: float,
        out: Outbox,
        *,
        agent: str | None = None,
        recording: str | None = None,
        note: str | None = None,
        fallback: str | None = None,
    ) -> None:
        if self.recorded:
            return
        self.recorded = True
        due = self.due
        detail: Detail = {"ticket_id": due.ticket_id, "outcome": outcome, "fallback": fallback}
        self._note("visit_result", now, out, detail)
        out.emit(
            RecordVisitResult(
                self.call_id, due.ticket_id, outcome, now, tuple(self.answers),
                agent, recording, note, fallback, self.flow.attempts,
            )
        )  # fmt: skip


HandOver = Callable[[InboundCall], None]
"""The switchboard takes the citizen's leg over as an inbound call (and its ending back)."""
