"""The switchboard: every event to the call that owns it, and the ACD driven between them.

:class:`Switchboard` keeps the calls in progress (each an
:class:`~switchboard.inbound.InboundCall`, which owns everything about
itself) and an index from channel to call, runs the ACD, and routes the
ACD's commands: those about a call to that call, the agents' states and
refusals out as commands, its timers into the shell's timers.  It holds no
other per-call state.  ``handle`` returns the commands in execution order,
agent-leg originates first: the agent is rung before any bookkeeping
request of the same decision.
"""

from __future__ import annotations

from dataclasses import replace

import acd
from acd import AgentId, SeatId
from switchboard import events as ev
from switchboard.adoption import adopt
from switchboard.callstate import OfferOutcome
from switchboard.commands import (
    CancelTimer,
    Command,
    CreateSnoop,
    DialOut,
    HangUp,
    OriginateAgent,
    OriginateConsultee,
    OriginateSupervisor,
    PublishAgentState,
    RefuseRequest,
    RefuseTransfer,
    StartTimer,
    WriteFinal,
)
from switchboard.config import DialVerdict, FlowConfig
from switchboard.ids import BridgeId, CallId, ChannelId
from switchboard.inbound import InboundCall
from switchboard.outbound import OutboundCall, Placement
from switchboard.phases import CallPhase
from switchboard.picture import CallPicture, PictureError
from switchboard.revisits import Revisits
from switchboard.timers import CallTimer

AcdCommand = acd.commands.Command


class Figures:
    """Lifetime counts: ``arrived + adopted + placed == in_progress + ended``.

    ``placed`` counts the calls out (:mod:`switchboard.outbound`).
    """

    def __init__(self) -> None:
        self.arrived = 0
        self.adopted = 0
        self.placed = 0
        self.ended = 0
        self.outcomes: dict[str, int] = {}
        self.ratings: dict[int | None, int] = {}

    def __repr__(self) -> str:
        return f"<Figures arrived={self.arrived} ended={self.ended}>"


class Switchboard:
    """``handle(event, now) -> list[Command]`` over every inbound call and the ACD."""

    def __init__(self, flow: FlowConfig, acd_config: acd.AcdConfig) -> None:
        self._flow = flow
        self._acd = acd.Acd(acd_config)
        self._calls: dict[CallId, InboundCall] = {}
        self._owner: dict[ChannelId, InboundCall] = {}
        self.figures = Figures()
        self.revisits = Revisits()
        """The automatic return-visit calls (:mod:`switchboard.revisit`)."""
        self._out: list[Command] = []
        self._now = 0.0

    def __repr__(self) -> str:
        return f"<Switchboard calls={len(self._calls)} {self.figures!r}>"

    # ------------------------------------------------------------ views

    @property
    def config(self) -> FlowConfig:
        """The configuration new calls take."""
        return self._flow

    @property
    def distributor(self) -> acd.Acd:
        """The ACD the switchboard drives (its views: agents, queues, totals)."""
        return self._acd

    def call(self, call_id: CallId) -> InboundCall | None:
        return self._calls.get(call_id)

    def calls(self) -> list[InboundCall]:
        return list(self._calls.values())

    def call_of_agent(self, agent: str) -> InboundCall | None:
        """The call the agent talks on, or whose offer rings at the agent's seat."""
        for call in self._calls.values():
            f = call.facts
            if f.agent == agent and f.phase is CallPhase.CONNECTED:
                return call
            if any(o.agent == agent and o.outcome is OfferOutcome.RINGING for o in f.offers):
                return call
        return None

    def channels(self) -> frozenset[ChannelId]:
        """Every channel a call in progress owns (reconciliation compares them)."""
        return frozenset(self._owner) | self.revisits.legs()

    def bridges(self) -> frozenset[BridgeId]:
        """Every bridge of a call in progress, its monitoring bridges included."""
        found: set[BridgeId] = set()
        for call in self._calls.values():
            if call.facts.bridge is not None:
                found.add(call.facts.bridge)
            found |= call.monitors.bridges()
        return frozenset(found)

    # ------------------------------------------------------------ the outbox

    def emit(self, command: Command) -> None:
        self._out.append(command)
        if isinstance(command, OriginateAgent | OriginateConsultee | OriginateSupervisor | DialOut):
            call = self._calls.get(command.call_id)
            if call is not None:
                self._owner[command.leg] = call
        elif isinstance(command, CreateSnoop):
            call = self._calls.get(command.call_id)
            if call is not None:
                self._owner[command.snoop] = call

    def acd(self, event: acd.Event) -> None:
        for command in self._acd.handle(event, self._now):
            self._acd_command(command)

    # ------------------------------------------------------------ events

    def handle(self, event: ev.Event, now: float) -> list[Command]:
        """Apply ``event`` at ``now`` (epoch seconds); the commands, in execution order."""
        self._now = now
        self._out = []
        self._dispatch(event, now)
        out, self._out = self._out, []
        self._forget_ended(out)
        out += self._out  # the result of a return visit whose call ended just now
        self._out = []
        return _originates_first(out)

    def _dispatch(self, event: ev.Event, now: float) -> None:
        if self._revisit(event, now):
            return
        match event:
            case ev.CallerArrived():
                if event.call_id in self._calls or event.channel in self._owner:
                    return
                call = InboundCall(event, self._flow, now)
                self._calls[call.call_id] = call
                self._owner[event.channel] = call
                self.figures.arrived += 1
                call.arrive(event, now, self)
            case ev.RedirectingRead():
                owner = self._owner.get(event.channel)
                if owner is not None:
                    owner.route(event.number, now, self)
            case ev.ChannelLeft():
                owner = self._owner.pop(event.channel, None)
                if owner is not None:
                    owner.on_channel_left(event.channel, event.cause, now, self)
            case ev.LegDialed():
                owner = self._owner.pop(event.leg, None)
                if owner is not None:
                    self._verdict(owner, event.leg, event.status, now)
            case ev.OriginateFailed():
                owner = self._owner.pop(event.leg, None)
                if owner is not None:
                    self._verdict(owner, event.leg, None, now)
            case ev.AgentLegAnswered():
                owner = self._owner.get(event.leg)
                if owner is None:
                    # The call is over: no agent may sit on a dead line.
                    self.emit(HangUp(event.call_id, event.leg, "normal"))
                else:
                    owner.legs.answered(event.leg, event.agent, now, self)
            case ev.OutboundAnswered():
                owner = self._owner.get(event.leg)
                if owner is None:
                    # Nothing waits for this leg any more: nobody may sit on a dead line.
                    self.emit(HangUp(event.call_id, event.leg, "normal"))
                else:
                    owner.on_outbound_answered(event.leg, now, self)
            case ev.SeatDialled():
                self._seat_dialled(event, now)
            case ev.DialRequested():
                self._dial_requested(event, now)
            case ev.ConsulteeAnswered():
                owner = self._owner.get(event.leg)
                if owner is None:
                    # Nothing waits for this leg any more (an ended call).
                    self.emit(HangUp(event.call_id, event.leg, "normal"))
                else:
                    owner.transfers.answered(event.leg, now, self)
            case ev.SupervisorAnswered() | ev.SnoopStarted():
                channel = event.leg if isinstance(event, ev.SupervisorAnswered) else event.snoop
                owner = self._owner.get(channel)
                if owner is None:
                    self.emit(HangUp(event.call_id, channel, "normal"))
                elif isinstance(event, ev.SupervisorAnswered):
                    owner.monitors.supervisor_answered(channel, now, self)
                else:
                    owner.monitors.snoop_started(channel, now, self)
            case (
                ev.TransferRequested()
                | ev.TransferAction()
                | ev.HoldRequested()
                | ev.MuteRequested()
                | ev.MonitorRequested()
                | ev.MonitorStopped()
            ):
                self._agent_asks(event, now)
            case ev.PlaybackFinished():
                # Playback ids are <call id>-p<n> (or -p<incarnation>.<n>).
                call_id = CallId(event.playback.rsplit("-p", 1)[0])
                playing = self._calls.get(call_id)
                if playing is not None:
                    playing.on_playback_finished(event.playback, now, self)
            case ev.DtmfReceived():
                owner = self._owner.get(event.channel)
                if owner is not None and event.channel == owner.facts.caller_channel:
                    owner.on_dtmf(event.digit, now, self)
            case ev.TimerFired():
                if isinstance(event.key, CallTimer):
                    timed = self._calls.get(event.key.call_id)
                    if timed is not None:
                        timed.on_timer(event.key, event.at, now, self)
                else:
                    self.acd(acd.TimerFired(event.key, event.at))
            case ev.RecordingFailed():
                for call in self._calls.values():
                    call.on_recording_failed(event.name, event.cause, now, self)
            case ev.RecordingStarted():
                for call in self._calls.values():
                    call.on_recording_started(event.name, now, self)
            case ev.RecordingFinished():
                pass  # the recordings service follows these; no call decision depends on them
            case ev.AgentRequest():
                self.acd(event.request)
            case ev.SeatChanged():
                self.acd(event.change)
            case ev.ChannelsVanished():
                self._vanished(event, now)
            case ev.CallsFound():
                self._found(event, now)
            case ev.StrayLegs():
                for leg in event.channels:
                    self.emit(HangUp(event.call_id, leg, "normal"))
            case ev.ConfigLoaded():
                self._flow = event.flow
                self.acd(acd.ConfigChanged(event.acd))
            case ev.DayRolled():
                self.acd(acd.DayRolled())

    def _revisit(self, event: ev.Event, now: float) -> bool:
        """Route ``event`` to the return-visit call it concerns; whether one took it."""
        visits = self.revisits
        match event:
            case ev.VisitDue():
                visits.start(event, self._flow, now, self)
                return True
            case ev.ChannelLeft() | ev.LegDialed() | ev.OriginateFailed() | ev.DtmfReceived():
                channel = event.leg if isinstance(event, ev.LegDialed | ev.OriginateFailed) else (
                    event.channel
                )  # fmt: skip
                visit = visits.by_leg(channel)
                if visit is None:
                    return False
                if isinstance(event, ev.ChannelLeft):
                    visit.left(event.cause, now, self)
                elif isinstance(event, ev.LegDialed):
                    visit.not_reached(event.status, "", now, self)
                elif isinstance(event, ev.OriginateFailed):
                    visit.not_reached(None, event.reason or "dial_refused", now, self)
                else:
                    visit.digit(event.digit, now, self, self._take_over)
            case ev.OutboundAnswered():
                visit = visits.by_leg(event.leg)
                if visit is None:
                    return False
                visit.answered(now, self)
            case ev.PlaybackFinished():
                visit = visits.by_call(CallId(event.playback.rsplit("-p", 1)[0]))
                if visit is None:
                    return False
                visit.playback_finished(event.playback, now, self)
            case ev.TimerFired() if isinstance(event.key, CallTimer):
                visit = visits.by_call(event.key.call_id)
                if visit is None:
                    return False
                visit.timer(event.key, event.at, now, self)
            case _:
                return False
        visits.after(visit)
        return True

    def _take_over(self, call: InboundCall) -> None:
        """A return visit's citizen asked for a person: the leg is an inbound call now."""
        self._calls[call.call_id] = call
        self._owner[call.facts.caller_channel] = call
        self.figures.arrived += 1

    def _agent_asks(
        self,
        event: ev.TransferRequested
        | ev.TransferAction
        | ev.HoldRequested
        | ev.MuteRequested
        | ev.MonitorRequested
        | ev.MonitorStopped,
        now: float,
    ) -> None:
        call = self._calls.get(event.call_id)
        if call is None:
            who = (
                event.supervisor
                if isinstance(event, ev.MonitorRequested | ev.MonitorStopped)
                else event.agent
            )
            self.emit(RefuseTransfer(event.call_id, who, "no_call", "no such call"))
            return
        match event:
            case ev.TransferRequested():
                call.transfers.request(event.agent, event.mode, event.target, now, self)
            case ev.TransferAction():
                call.transfers.act(event.agent, event.step, now, self)
            case ev.HoldRequested():
                call.controls.hold(event.agent, event.on, now, self)
            case ev.MuteRequested():
                call.controls.mute(event.agent, event.on, now, self)
            case ev.MonitorRequested():
                call.monitors.request(
                    event.supervisor, event.role, event.seat, event.mode, now, self
                )
            case ev.MonitorStopped():
                call.monitors.stop(event.supervisor, now, self)

    def _verdict(
        self, owner: InboundCall, leg: ChannelId, status: ev.DialStatus | None, now: float
    ) -> None:
        """A leg's dial ended unanswered (``status``) or its originate was refused (None)."""
        if owner.transfers.owns(leg):
            if status is None:
                owner.transfers.originate_failed(leg, now, self)
            else:
                owner.transfers.dialed(leg, status, now, self)
        elif owner.monitors.owns(leg):
            owner.monitors.dialed(leg, status or ev.DialStatus.CHANUNAVAIL, now, self)
        elif status is None:
            owner.legs.originate_failed(leg, now, self)
        else:
            owner.legs.dialed(leg, status, now, self)

    # ------------------------------------------------------------ calls out

    def _seat_dialled(self, event: ev.SeatDialled, now: float) -> None:
        """A seat phone dialled a number: a call out, or a refusal the agent hears."""
        if event.call_id in self._calls or event.channel in self._owner:
            return
        agent = self._agent_at(event.seat) if event.seat is not None else None
        placement = Placement(
            call_id=event.call_id,
            agent=agent,
            seat=event.seat,
            number=event.dialled,
            queue=self._home_queue(agent) if agent is not None else None,
            seat_channel=event.channel,
        )
        verdict = self._dial_verdict(agent, event.dialled)
        if verdict.allowed and agent is not None and self.call_of_agent(agent) is not None:
            verdict = replace(verdict, allowed=False, message="you are on another call")
        if verdict.allowed:
            placement = replace(placement, number=verdict.number)
        refusal = None if verdict.allowed else verdict
        call = OutboundCall.from_seat(placement, refusal, self._flow, now, self)
        self._place_out(call)
        self._owner[event.channel] = call

    def _dial_requested(self, event: ev.DialRequested, now: float) -> None:
        """Click-to-dial: ring the agent's seat, then the number (or refuse, in one line)."""
        if event.call_id in self._calls:
            return
        view = self._acd.agent_view(event.agent)
        seat = view.seat if view is not None else None
        endpoint = self._flow.seats.get(seat) if seat is not None else None
        if view is None or seat is None or endpoint is None:
            message = "log in at a seat first"
            self.emit(RefuseTransfer(event.call_id, event.agent, "not_logged_in", message))
            return
        if self.call_of_agent(event.agent) is not None:
            message = "you are on another call"
            self.emit(RefuseTransfer(event.call_id, event.agent, "busy", message))
            return
        placement = Placement(
            call_id=event.call_id,
            agent=event.agent,
            seat=seat,
            number=event.number,
            role=event.role,
            queue=event.queue or self._home_queue(event.agent),
            callback=event.callback,
            missed_call_id=event.missed_call_id,
            visit=event.visit,
        )
        verdict = self._dial_verdict(event.agent, event.number)
        if not verdict.allowed:
            OutboundCall.refuse_request(placement, verdict, now, self)
            return
        placement = replace(placement, number=verdict.number)
        call = OutboundCall.from_toolbar(placement, endpoint, self._flow, now, self)
        self._place_out(call)

    def _dial_verdict(self, agent: AgentId | None, number: str) -> DialVerdict:
        dialling = self._flow.dialling
        if dialling is None:
            return DialVerdict(False, number, None, "calls out are not configured", "")
        verdict = dialling.check(agent or "", number)
        if agent is None:
            return replace(verdict, allowed=False, message="no agent is logged in at this seat")
        return verdict

    def _place_out(self, call: OutboundCall) -> None:
        self._calls[call.call_id] = call
        self._owner[call.facts.caller_channel] = call
        for offer in call.facts.offers:
            self._owner[offer.leg] = call
        self.figures.placed += 1

    def _agent_at(self, seat: SeatId) -> AgentId | None:
        for view in self._acd.agent_views():
            if view.seat == seat:
                return view.agent
        return None

    def _home_queue(self, agent: AgentId) -> str | None:
        """The first queue whose every required skill the agent has: where their calls out count."""
        config = self._acd.config
        skills = next((a.skills for a in config.agents if a.id == agent), None)
        if skills is None:
            return None
        for queue in config.queues:
            if all(req.skill in skills for req in queue.skills):
                return str(queue.id)
        return None

    def _found(self, event: ev.CallsFound, now: float) -> None:
        pictures: list[tuple[ev.FoundCall, CallPicture]] = []
        for found in event.calls:
            try:
                pictures.append((found, CallPicture.from_json(found.picture)))
            except PictureError:
                continue  # not a call of ours: nothing to take back
        # Conversations first: their agents are busy before any caller re-queues.
        pictures.sort(key=lambda fp: fp[1].phase != "connected")
        for found, picture in pictures:
            if CallId(picture.call_id) in self._calls or found.channel in self._owner:
                continue
            call = adopt(found, picture, self._flow, self._seat_of, now, self, self._place)
            if call.facts.agent_leg is not None:
                self._owner[call.facts.agent_leg] = call
            for leg in call.transfers.legs_up():
                self._owner[leg] = call

    def _place(self, call: InboundCall) -> None:
        self._calls[call.call_id] = call
        self._owner[call.facts.caller_channel] = call
        self.figures.adopted += 1

    def _seat_of(self, agent: AgentId) -> SeatId | None:
        view = self._acd.agent_view(agent)
        return None if view is None else view.seat

    def _vanished(self, event: ev.ChannelsVanished, now: float) -> None:
        for channel in sorted(event.channels):
            visit = self.revisits.by_leg(channel)
            if visit is not None:
                visit.left(None, now, self)
                self.revisits.after(visit)
        callers = {c.facts.caller_channel for c in self._calls.values()}
        # Callers first: a call whose caller is gone ends, rather than its
        # agent's vanished leg sending a caller who is no more to the survey.
        for channel in sorted(event.channels, key=lambda c: (c not in callers, c)):
            owner = self._owner.pop(channel, None)
            if owner is None:
                continue
            reason = "pbx_restart" if event.pbx_restarted else event.end_reason
            if reason is not None and channel == owner.facts.caller_channel:
                owner.facts.end_reason = reason
                owner.facts.hangup_by = owner.facts.hangup_by or "pbx"
            owner.on_channel_left(channel, None, now, self)

    def _forget_ended(self, out: list[Command]) -> None:
        """Forget the calls that ended in this decision: each wrote its final record."""
        for command in out:
            if not isinstance(command, WriteFinal):
                continue
            self.revisits.handed_ended(command.record, self._now, self)
            call = self._calls.get(command.record.call_id)
            if call is None or not call.ended:
                continue
            del self._calls[call.call_id]
            f = call.facts
            self.figures.ended += 1
            outcome = f.outcome or "ended"
            self.figures.outcomes[outcome] = self.figures.outcomes.get(outcome, 0) + 1
            if f.rating_label is not None and "answered_at" in f.stamps:
                self.figures.ratings[f.rating] = self.figures.ratings.get(f.rating, 0) + 1
            for channel in [ch for ch, owner in self._owner.items() if owner is call]:
                del self._owner[channel]

    # ------------------------------------------------------------ the ACD's commands

    def _acd_command(self, command: AcdCommand) -> None:
        match command:
            case acd.StartTimer():
                self.emit(StartTimer(command.key, command.at))
            case acd.CancelTimer():
                self.emit(CancelTimer(command.key))
            case acd.AgentStateChanged():
                self.emit(PublishAgentState(command, self._now))
            case acd.RequestRefused():
                self.emit(RefuseRequest(command))
            case _:
                call = self._calls.get(CallId(command.call_id))
                if call is not None:
                    call.legs.on_acd(command, self._now, self)


def _originates_first(out: list[Command]) -> list[Command]:
    """Agent originates ahead of the bookkeeping of the same decision.

    An originate never overtakes a hang-up: the agent whose previous leg is
    being hung up must not be rung again before that leg is gone.
    """
    stop = next((i for i, c in enumerate(out) if isinstance(c, HangUp)), len(out))
    first = [c for c in out[:stop] if isinstance(c, OriginateAgent)]
    if not first:
        return out
    return first + [c for c in out[:stop] if not isinstance(c, OriginateAgent)] + out[stop:]
