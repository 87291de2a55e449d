"""One inbound call, from its arrival to its final record: :class:`InboundCall`.

Theory of operation
-------------------
The call owns everything about itself: its facts and phase
(:class:`~switchboard.callstate.CallFacts`, the table in
:mod:`switchboard.phases`), the configuration snapshot it arrived under,
its route steps, its menu and survey sessions (:mod:`ivr`), its playbacks
and timers (:class:`~switchboard.media.CallMedia`) and its agent legs
(:mod:`switchboard.legs`).  The switchboard hands it the events about its
channels, playbacks and timers, and the ACD's commands about it; it
answers through an :class:`~switchboard.outbox.Outbox` with commands for
the shell and events for the ACD.

**Arrival.**  The route is decided from the arrival alone (the redirecting
number rides in the event), so the ACD can ring an agent in the same
decision; the call id goes on the channel beside it.  Only an arrival that
cannot say the redirecting number waits in ``arrived`` for its read.

**Route.**  A forwarded call takes the route of the number it was
forwarded from when that number has one (a merged line reached through a
forward); the route's announcement (skippable by a key when configured) and
notice play in turn, then the caller enters the queue or the menu, or the
call closes (``not_in_service``, ``withdrawn``).

**The end.**  The call ends when its caller's channel leaves, whoever hung
up.  Ending cancels its timers, forgets its playbacks, hangs up every agent
leg still open, destroys its bridge and writes one final record (with the
rating and the ticket).  Nothing about an ended call is ever emitted again,
except the hang-up of an agent leg that answers too late.
"""

from __future__ import annotations

import acd
from switchboard.callstate import CallFacts
from switchboard.commands import (
    Answer,
    DestroyBridge,
    HangUp,
    ReadRedirecting,
    RecordChannel,
    SetChannelVar,
    StartMoh,
    StopMoh,
    WriteCall,
    WriteFinal,
    WriteTimeline,
)
from switchboard.config import FlowConfig, RouteKind, RoutePlan
from switchboard.controls import AgentControls
from switchboard.events import CallerArrived
from switchboard.ids import CallId, ChannelId, PlaybackId, RecordingName
from switchboard.legs import AgentLegs
from switchboard.media import CallMedia, Purpose
from switchboard.monitors import CallMonitors
from switchboard.outbox import Outbox
from switchboard.phases import PUBLIC_STATE, CallPhase
from switchboard.picture import STATE_VAR, CallPicture
from switchboard.records import Detail
from switchboard.sessions import Sessions
from switchboard.timers import CallTimer, CallTimerKind, utc
from switchboard.transfers import CallTransfers

P = CallPhase


class InboundCall:
    """One citizen call (see the module docstring)."""

    def __init__(self, arrival: CallerArrived, config: FlowConfig, now: float) -> None:
        self.config = config
        self.facts = CallFacts(
            call_id=arrival.call_id,
            caller_channel=arrival.channel,
            caller_number=arrival.caller_number,
            caller_name=arrival.caller_name,
            dialled=arrival.dialled,
            arrived_at=now,
            config_version=config.version,
            language=config.language,
        )
        self.media = CallMedia(self.facts)
        self.legs = AgentLegs(self)
        self.sessions = Sessions(self)
        self.transfers = CallTransfers(self)
        self.controls = AgentControls(self)
        self.monitors = CallMonitors(self)
        self._plan: RoutePlan | None = None
        self._steps: list[tuple[str, bool]] = []
        self._final_written = 0
        self._persisted = ""
        self._started: set[RecordingName] = set()

    def __repr__(self) -> str:
        f = self.facts
        return f"<InboundCall {f.call_id} {f.phase} queue={f.queue} agent={f.agent}>"

    # ------------------------------------------------------------ views

    @property
    def call_id(self) -> CallId:
        return self.facts.call_id

    @property
    def phase(self) -> CallPhase:
        return self.facts.phase

    @property
    def public_state(self) -> str:
        return PUBLIC_STATE[self.facts.phase]

    @property
    def ended(self) -> bool:
        return self.facts.ended

    @property
    def final_records(self) -> int:
        """How many final records this call wrote (one, once it ended)."""
        return self._final_written

    # ------------------------------------------------------------ facts out

    def note(
        self, kind: str, now: float, out: Outbox, detail: Detail, agent: str | None = None
    ) -> None:
        """One timeline row with its detail."""
        out.emit(WriteTimeline(self.call_id, now, kind, agent, detail))

    def write(self, out: Outbox) -> None:
        out.emit(WriteCall(self.facts.record()))
        self.persist(out)

    def persist(self, out: Outbox) -> None:
        """Keep the call's picture on its caller channel, for adoption after a restart."""
        f = self.facts
        if f.ended:
            return
        picture = CallPicture.of(f, self.sessions.menu_snapshot()).to_json()
        if picture != self._persisted:
            self._persisted = picture
            out.emit(SetChannelVar(self.call_id, f.caller_channel, STATE_VAR, picture))

    # ------------------------------------------------------------ arrival and route

    def arrive(self, arrival: CallerArrived, now: float, out: Outbox) -> None:
        """The caller's channel entered the application."""
        f = self.facts
        self.write(out)
        self.note("arrived", now, out, {"dialled": f.dialled})
        # The call id is on the channel before it is answered; an originate
        # the route leads to still goes first (the switchboard sends
        # originates ahead of the bookkeeping of the same decision).
        out.emit(SetChannelVar(self.call_id, f.caller_channel, "HOTLINE_CALL_ID", self.call_id))
        if arrival.redirecting is None:
            out.emit(ReadRedirecting(self.call_id, f.caller_channel))
        else:
            self.route(arrival.redirecting, now, out)

    def route(self, diverted: str, now: float, out: Outbox) -> None:
        """Decide the route: the number forwarded from, if it has one; else the dialled one."""
        f = self.facts
        if f.ended or self._plan is not None:
            return
        router = self.config.router
        number = f.dialled
        # A forwarded call: the original number arrives in the SIP Diversion
        # header, which ARI shows as REDIRECTING(from-num).
        if diverted and diverted != f.dialled and diverted in router.routed_numbers:
            number = diverted
        plan = router.resolve(number, utc(now))
        self._plan = plan
        f.route = plan.route_id
        f.tags.update(plan.tags)
        if number != f.dialled or plan.kind is RouteKind.MERGED:
            f.original_number = number
        if plan.department is not None:
            f.department = plan.department
            f.line_name = plan.line_name
            f.tags.setdefault("department", plan.department)
        f.priority = plan.priority
        f.stamp("routed_at", now)
        detail: Detail = {
            "route": plan.route_id,
            "route_kind": plan.kind.value,
            "phase": plan.line_phase,
            "closed": plan.closed,
            "number": number,
        }
        self.note("routed", now, out, detail)
        if plan.announcement:
            self._steps.append((plan.announcement, plan.skippable))
        if plan.notice:
            self._steps.append((plan.notice, False))
        out.emit(Answer(self.call_id, f.caller_channel))
        if self._steps:
            f.move(P.ANNOUNCING, now)
            self.write(out)
        self._next_step(now, out)

    def _next_step(self, now: float, out: Outbox) -> None:
        f = self.facts
        plan = self._plan
        if plan is None or f.ended or f.phase not in (P.ARRIVED, P.ANNOUNCING):
            return
        if self._steps:
            prompt, _ = self._steps[0]
            self.media.play(Purpose.ROUTE, prompt, (prompt,), f.language, out)
            return
        if plan.queue:
            self.enqueue(plan.queue, plan.priority, now, out)
        elif plan.menu:
            self.sessions.start_menu(plan.menu, now, out)
        else:
            outcomes = {RouteKind.UNKNOWN: "not_in_service", RouteKind.MERGED: "withdrawn"}
            f.outcome = outcomes.get(plan.kind, "hangup")
            self.close((), now, out)

    # ------------------------------------------------------------ caller events

    def on_dtmf(self, digit: str, now: float, out: Outbox) -> None:
        f = self.facts
        if f.phase is P.ANNOUNCING and self._steps and self._steps[0][1]:
            playback = self.media.playing(Purpose.ROUTE)
            if playback is None:
                return
            self.media.stop(playback, out)
            self._steps.pop(0)
            self.note("announcement_skipped", now, out, {"digit": digit})
            self._next_step(now, out)
        elif f.phase in (P.MENU, P.SURVEY):
            self.sessions.digit(digit, now, out)

    def on_playback_finished(self, playback: PlaybackId, now: float, out: Outbox) -> None:
        what = self.media.finished(playback)
        f = self.facts
        if what is None or f.ended:
            return
        if what.purpose is Purpose.ROUTE:
            if self._steps:
                self._steps.pop(0)
            self._next_step(now, out)
        elif what.purpose in (Purpose.IVR, Purpose.SURVEY):
            self.sessions.playback_finished(what.purpose, what.ref, now, out)
        elif what.purpose is Purpose.ANNOUNCE and f.phase is P.QUEUED:
            moh = self.config.queue_media(f.queue).music_on_hold
            out.emit(StartMoh(self.call_id, f.caller_channel, moh))
        elif what.purpose is Purpose.CLOSING:
            self.hang_up_caller(now, out)

    def on_timer(self, key: CallTimer, at: float, now: float, out: Outbox) -> None:
        if self.ended or not self.media.fired(key, at):
            return
        if key.kind is CallTimerKind.HANGUP:
            self.hang_up_caller(now, out)
        elif key.kind is CallTimerKind.TRANSFER:
            self.transfers.timer(key.ref, now, out)
        else:
            self.sessions.timeout(key.kind, key.ref, now, out)

    def on_recording_started(self, name: RecordingName, now: float, out: Outbox) -> None:
        if self.facts.recording == name and name not in self._started and not self.ended:
            self._started.add(name)
            self.note("recording_started", now, out, {"name": name})

    def on_recording_failed(self, name: RecordingName, cause: str, now: float, out: Outbox) -> None:
        if self.facts.recording == name and not self.ended:
            self.note("recording_failed", now, out, {"name": name, "cause": cause})

    def on_channel_left(
        self, channel: ChannelId, cause: int | None, now: float, out: Outbox
    ) -> None:
        if channel == self.facts.caller_channel:
            self.caller_gone(now, out)
        elif self.transfers.owns(channel):
            self.transfers.left(channel, cause, now, out)
        elif self.monitors.owns(channel):
            self.monitors.left(channel, now, out)
        else:
            self.legs.left(channel, cause, now, out)

    def on_outbound_answered(self, leg: ChannelId, now: float, out: Outbox) -> None:
        """A leg the call placed with ``DialOut`` answered; an inbound call places none."""
        out.emit(HangUp(self.call_id, leg, "normal"))

    def to_survey(self, now: float, out: Outbox) -> None:
        """The conversation is over: off hold, out of the bridge, to the survey."""
        f = self.facts
        if f.held:
            f.held = False  # the caller was on hold when the agent left
            out.emit(StopMoh(self.call_id, f.caller_channel))
        if f.bridge is not None:
            out.emit(DestroyBridge(self.call_id, f.bridge))
            f.bridge = None
        self.sessions.start_survey(now, out)

    # ------------------------------------------------------------ queue, voicemail, close

    def enqueue(self, queue: str, priority: int | None, now: float, out: Outbox) -> None:
        f = self.facts
        f.queue = queue
        f.move(P.QUEUED, now)
        self.write(out)
        self.note("queued", now, out, {"queue": queue})
        out.emit(
            StartMoh(self.call_id, f.caller_channel, self.config.queue_media(queue).music_on_hold)
        )
        tags = frozenset(k for k, v in f.tags.items() if v == "1")
        out.acd(
            acd.CallerArrived(
                acd.CallId(self.call_id),
                acd.QueueId(queue),
                caller_number=f.caller_number,
                tags=tags,
                priority=priority if priority else None,
            )
        )

    def voicemail(self, max_s: int, now: float, out: Outbox) -> None:
        f = self.facts
        f.outcome = "voicemail"
        f.move(P.VOICEMAIL, now)
        name = RecordingName(f"vm-{self.call_id}")
        f.recording = name
        self.write(out)
        self.note("voicemail", now, out, {"name": name, "max_seconds": max_s})
        out.emit(StopMoh(self.call_id, f.caller_channel))
        out.emit(RecordChannel(self.call_id, f.caller_channel, name, max_s))
        self.media.start_timer(CallTimerKind.HANGUP, "", now + max_s + 1, out)

    def close(self, prompts: tuple[str, ...], now: float, out: Outbox) -> None:
        """A last prompt (if any), then hang up the caller."""
        f = self.facts
        if f.ended or f.phase is P.CLOSING:
            return
        f.move(P.CLOSING, now)
        if prompts:
            out.emit(StopMoh(self.call_id, f.caller_channel))
            self.media.play(Purpose.CLOSING, "closing", prompts, f.language, out)
            self.media.start_timer(CallTimerKind.HANGUP, "", now + self.config.closing_guard_s, out)
        else:
            self.hang_up_caller(now, out)

    def hang_up_caller(self, now: float, out: Outbox) -> None:
        f = self.facts
        if f.ended:
            return
        f.hangup_by = f.hangup_by or "engine"
        out.emit(HangUp(self.call_id, f.caller_channel, "normal"))

    # ------------------------------------------------------------ the end

    def caller_gone(self, now: float, out: Outbox) -> None:
        f = self.facts
        if f.ended:
            return
        phase = f.phase
        f.hangup_by = f.hangup_by or "caller"
        self.note("caller_hangup", now, out, {"phase": phase.value})
        if phase is P.MENU:
            self.sessions.caller_hangup(now, out)
            f.outcome = f.outcome or "ivr_abandoned"
        elif phase is P.QUEUED:
            out.acd(acd.CallerHungUp(acd.CallId(self.call_id)))
            f.outcome = f.outcome or "abandoned"
        elif phase is P.CONNECTED:
            out.acd(acd.CallEnded(acd.CallId(self.call_id)))
            self.sessions.not_rated("caller_hung_up", now, out)
        elif phase in (P.TRANSFERRING, P.HANDED_OFF):
            self.sessions.not_rated("caller_hung_up", now, out)
        elif phase is P.SURVEY:
            self.sessions.caller_hangup(now, out)
            if f.rating_label is None:
                self.sessions.not_rated("caller_hung_up", now, out)
        elif phase in (P.ARRIVED, P.ANNOUNCING):
            f.outcome = f.outcome or "ivr_abandoned"
        self.finalize(now, out)

    def finalize(self, now: float, out: Outbox) -> None:
        f = self.facts
        # Legs still open end with the call, before the ticket is written.
        self.transfers.call_ended(now, out)
        self.monitors.call_ended(now, out)
        self.legs.hang_up_all(now, out)
        if f.bridge is not None:
            out.emit(DestroyBridge(self.call_id, f.bridge))
            f.bridge = None
        f.move(P.ENDED, now)
        answered = "answered_at" in f.stamps
        if f.outcome is None:
            f.outcome = "answered" if answered else "ended"
        if answered and f.outcome in ("abandoned", "ended", "ivr_hangup"):
            f.outcome = "answered"
        self.media.quiesce(out)
        self.sessions.drop()
        self._steps.clear()
        self.note("ended", now, out, {"outcome": f.outcome, "hangup_by": f.hangup_by})
        self._final_written += 1
        out.emit(WriteFinal(f.record(), f.rating_record(now), f.ticket()))
