"""A softswitch and a clock in virtual time: the switchboard with no sockets.

Theory of operation
-------------------
:class:`Simulation` plays the shell's part.  It feeds events into a
:class:`~switchboard.board.Switchboard`, carries out every command it gets
back against a simulated softswitch (channels, bridges, playbacks, music on
hold, timers, recordings, the writes) and schedules the events the
softswitch would produce in answer, on a virtual clock that jumps from one
scheduled moment to the next.  A day of traffic runs in seconds, and the
same decisions run as over ARI.

Callers and agents follow scripts: a caller has a patience (it hangs up if
no agent answered by then), keys to press in the menu, a rating key, and
may hang up first in the conversation; an agent's phone answers after a
delay, rings out, or is busy, and the agent talks for a while.  A party
without a script does nothing by itself: a test drives it with
:meth:`Simulation.hang_up`, :meth:`answer_leg`, :meth:`reject_leg`,
:meth:`press` and :meth:`request`.

What the softswitch does, as Asterisk does it (``shared/asterisk``): a
hang-up of a channel that is gone is reported as its ``ChannelLeft``; a
playback on a gone channel ends at once; a stopped playback still reports
its end; an agent leg that rings out or is busy reports its dial verdict and
never a ``StasisStart``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from functools import partial

import acd
from switchboard import commands as c
from switchboard import events as ev
from switchboard.board import Switchboard
from switchboard.ids import BridgeId, CallId, ChannelId, PlaybackId
from switchboard.parties import AgentScript, CallerScript, SimChannel
from switchboard.timers import TimerKey

__all__ = ["AgentScript", "CallerScript", "SimChannel", "Simulation"]

Due = ev.Event | Callable[[], None]


class Simulation:
    """The switchboard driven in virtual time (see the module docstring)."""

    def __init__(self, board: Switchboard, *, start: float, prompt_s: float = 2.0) -> None:
        self.board = board
        self.now = start
        self.prompt_s = prompt_s
        self._due: list[tuple[float, int, Due]] = []
        self._seq = 0
        self.channels: dict[ChannelId, SimChannel] = {}
        self.bridges: dict[BridgeId, set[ChannelId]] = {}
        self.playbacks: dict[PlaybackId, ChannelId] = {}
        self.timers: dict[TimerKey, float] = {}
        self.callers: dict[ChannelId, CallerScript] = {}
        self.agents: dict[acd.AgentId, AgentScript | None] = {}
        self.finals: dict[CallId, list[c.WriteFinal]] = {}
        self.records: dict[CallId, c.WriteCall] = {}
        self.timeline: list[c.WriteTimeline] = []
        self.callbacks: list[c.AddCallback] = []
        self.refusals: list[c.RefuseRequest | c.RefuseTransfer] = []
        self.notices: list[c.TransferNotice] = []
        self.digits: list[c.SendDigits] = []
        self.audits: list[c.WriteAudit] = []
        self.originated: list[c.OriginateAgent] = []
        self.events = 0
        self._snoops: dict[ChannelId, list[ChannelId]] = {}  # target leg -> its snoops
        self._calls = 0

    def __repr__(self) -> str:
        return f"<Simulation t={self.now:.1f} channels={len(self.channels)} due={len(self._due)}>"

    # ------------------------------------------------------------ scheduling and running

    def at(self, when: float, item: Due) -> None:
        self._seq += 1
        heapq.heappush(self._due, (max(when, self.now), self._seq, item))

    def feed(self, event: ev.Event) -> list[c.Command]:
        """Hand one event to the switchboard now and carry out its commands."""
        self.events += 1
        commands = self.board.handle(event, self.now)
        for command in commands:
            self._execute(command)
        return commands

    def step(self) -> bool:
        """Run the next scheduled item; False when nothing is scheduled."""
        if not self._due:
            return False
        when, _, item = heapq.heappop(self._due)
        self.now = max(self.now, when)
        if callable(item):
            item()
        else:
            self.feed(item)
        return True

    def run_until(self, until: float) -> None:
        """Run every item scheduled up to ``until``; the clock ends at ``until``."""
        while self._due and self._due[0][0] <= until:
            self.step()
        self.now = max(self.now, until)

    def settle(self) -> None:
        """Run every item due now (events the last commands caused)."""
        self.run_until(self.now)

    def next_due(self) -> float | None:
        return self._due[0][0] if self._due else None

    # ------------------------------------------------------------ parties

    def login(self, agent: str, seat: str, script: AgentScript | None = None) -> None:
        self.agents[acd.AgentId(agent)] = script
        self.request(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(seat)))

    def request(self, request: ev.AgentRequestEvent) -> None:
        self.feed(ev.AgentRequest(request))

    def call(self, script: CallerScript, at: float | None = None) -> ChannelId:
        """A caller dials in at ``at`` (now by default); its channel id."""
        self._calls += 1
        channel = ChannelId(f"sip-caller-{self._calls}")
        call_id = CallId(f"c-{self._calls}")
        when = self.now if at is None else at
        self.callers[channel] = script

        def arrive() -> None:
            self.channels[channel] = SimChannel(channel, call_id)
            self.feed(
                ev.CallerArrived(
                    call_id, channel, script.dialled, script.number, "", script.redirecting
                )
            )
            if script.patience_s is not None:
                self.at(self.now + script.patience_s, lambda: self._impatient(channel))
            for after, key in script.keys:
                self.at(self.now + after, partial(self.press, channel, key))

        self.at(when, arrive)
        return channel

    def _impatient(self, channel: ChannelId) -> None:
        ch = self.channels.get(channel)
        if ch is not None and not ch.gone and ch.bridge is None and not self._talked(channel):
            self.hang_up(channel)

    def _talked(self, channel: ChannelId) -> bool:
        ch = self.channels[channel]
        return "talked" in ch.variables

    def hang_up(self, channel: ChannelId, cause: int = 16) -> None:
        """The party on ``channel`` hangs up."""
        ch = self.channels.get(channel)
        if ch is None or ch.gone:
            return
        self._gone(ch)
        self.feed(ev.ChannelLeft(channel, cause))

    def lose(self, channel: ChannelId) -> None:
        """The channel goes away while the link is down: its events are lost.

        Reconciliation reports it later with ``ChannelsVanished``.
        """
        ch = self.channels.get(channel)
        if ch is not None and not ch.gone:
            self._gone(ch)

    def press(self, channel: ChannelId, digit: str) -> None:
        ch = self.channels.get(channel)
        if ch is not None and not ch.gone:
            self.feed(ev.DtmfReceived(channel, digit))

    def ringing_legs(self) -> list[SimChannel]:
        return [
            ch
            for ch in self.channels.values()
            if (ch.agent or ch.consultee or ch.supervisor) and not ch.up and not ch.gone
        ]

    def answer_leg(self, leg: ChannelId) -> None:
        ch = self.channels.get(leg)
        if ch is None or ch.gone or ch.up:
            return
        ch.up = True
        if ch.consultee:
            self.feed(ev.ConsulteeAnswered(leg, ch.call_id))
        elif ch.supervisor:
            self.feed(ev.SupervisorAnswered(leg, ch.call_id))
        elif ch.agent is not None:
            self.feed(ev.AgentLegAnswered(leg, ch.call_id, ch.agent))

    def reject_leg(self, leg: ChannelId, status: ev.DialStatus = ev.DialStatus.BUSY) -> None:
        ch = self.channels.get(leg)
        if ch is None or ch.gone or ch.up:
            return
        self._gone(ch)
        self.feed(ev.LegDialed(leg, status))

    def _gone(self, ch: SimChannel) -> None:
        ch.gone = True
        ch.up = False
        if ch.bridge is not None:
            self.bridges.get(ch.bridge, set()).discard(ch.id)
            ch.bridge = None
        for playback in [p for p, owner in self.playbacks.items() if owner == ch.id]:
            del self.playbacks[playback]
            self.at(self.now, ev.PlaybackFinished(playback))
        for snoop in [self.channels[s] for s in self._snoops.pop(ch.id, [])]:
            if snoop.gone:
                continue
            # Asterisk hangs up a snoop whose target leg goes.
            self._gone(snoop)
            self.at(self.now, ev.ChannelLeft(snoop.id, 16))

    # ------------------------------------------------------------ carrying out commands

    def _execute(self, command: c.Command) -> None:
        match command:
            case c.Answer():
                self._channel(command.channel).up = True
            case c.SetChannelVar():
                self._channel(command.channel).variables[command.name] = command.value
            case c.ReadRedirecting():
                script = self.callers.get(command.channel)
                number = (script.redirecting if script else "") or ""
                self.at(self.now, ev.RedirectingRead(command.channel, number))
            case c.Play():
                self._play(command)
            case c.StopPlayback():
                if self.playbacks.pop(command.playback, None) is not None:
                    self.at(self.now, ev.PlaybackFinished(command.playback))
            case c.StartMoh():
                self._channel(command.channel).moh = True
            case c.StopMoh():
                self._channel(command.channel).moh = False
            case c.HangUp():
                ch = self.channels.get(command.channel)
                if ch is not None and not ch.gone:
                    self._gone(ch)
                self.at(self.now, ev.ChannelLeft(command.channel, 16))
            case c.OriginateAgent():
                self._originate(command)
            case c.OriginateSupervisor():
                self.channels[command.leg] = SimChannel(
                    command.leg, command.call_id, supervisor=True
                )
            case c.CreateSnoop():
                self._snoop(command)
            case c.WriteAudit():
                self.audits.append(command)
            case c.OriginateConsultee():
                self.channels[command.leg] = SimChannel(
                    command.leg, command.call_id, consultee=True
                )
            case c.RemoveFromBridge():
                self.bridges.get(command.bridge, set()).discard(command.channel)
                self._channel(command.channel).bridge = None
            case c.SendDigits():
                self.digits.append(command)
            case c.TransferNotice():
                self.notices.append(command)
            case c.CreateBridge():
                self.bridges[command.bridge] = set()
            case c.AddToBridge():
                self._bridge(command)
            case c.DestroyBridge():
                for member in self.bridges.pop(command.bridge, set()):
                    self.channels[member].bridge = None
            case c.StartTimer():
                self.timers[command.key] = command.at
                self.at(command.at, partial(self._fire, command.key, command.at))
            case c.CancelTimer():
                self.timers.pop(command.key, None)
            case c.WriteCall():
                self.records[command.record.call_id] = command
            case c.WriteFinal():
                self.finals.setdefault(command.record.call_id, []).append(command)
            case c.WriteTimeline():
                self.timeline.append(command)
            case c.AddCallback():
                self.callbacks.append(command)
            case c.RefuseRequest() | c.RefuseTransfer():
                self.refusals.append(command)
            case c.RecordBridge():
                self.at(self.now, ev.RecordingStarted(command.name))
            case c.RecordChannel() | c.PublishAgentState() | c.MuteChannel():
                pass

    def _channel(self, channel: ChannelId) -> SimChannel:
        ch = self.channels.get(channel)
        if ch is None:
            raise KeyError(f"no channel {channel}")
        return ch

    def _snoop(self, command: c.CreateSnoop) -> None:
        target = self.channels.get(command.target)
        snoop = SimChannel(command.snoop, command.call_id, up=True, snoops=command.target)
        self.channels[command.snoop] = snoop
        if target is None or target.gone:
            snoop.gone = True
            self.at(self.now, ev.ChannelLeft(command.snoop, 16))
        else:
            self._snoops.setdefault(command.target, []).append(command.snoop)
            self.at(self.now, ev.SnoopStarted(command.snoop, command.call_id))

    def _play(self, command: c.Play) -> None:
        ch = self.channels.get(command.channel)
        if ch is None or ch.gone:
            # A playback on a channel that is gone fails at once.
            self.at(self.now, ev.PlaybackFinished(command.playback))
            return
        self.playbacks[command.playback] = command.channel
        ends = self.now + self.prompt_s * len(command.media)
        self.at(ends, lambda: self._played(command.playback))

    def _played(self, playback: PlaybackId) -> None:
        if self.playbacks.pop(playback, None) is not None:
            self.feed(ev.PlaybackFinished(playback))

    def _fire(self, key: TimerKey, at: float) -> None:
        if self.timers.get(key) == at:
            del self.timers[key]
            self.feed(ev.TimerFired(key, at))

    def _originate(self, command: c.OriginateAgent) -> None:
        self.originated.append(command)
        leg = SimChannel(command.leg, command.call_id, agent=command.agent)
        self.channels[command.leg] = leg
        script = self.phone(command)
        if script is None:
            return  # a test answers, rejects or lets it ring out
        if script.busy:
            self.at(self.now + 0.1, lambda: self.reject_leg(command.leg))
        elif script.answer_after_s is not None and script.answer_after_s < command.timeout_s:
            self.at(self.now + script.answer_after_s, lambda: self.answer_leg(command.leg))
        else:
            self.at(
                self.now + command.timeout_s,
                lambda: self.reject_leg(command.leg, ev.DialStatus.NOANSWER),
            )

    def _bridge(self, command: c.AddToBridge) -> None:
        members = self.bridges.setdefault(command.bridge, set())
        for channel in command.channels:
            ch = self.channels.get(channel)
            if ch is None or ch.gone:
                continue
            members.add(channel)
            ch.bridge = command.bridge
        legs = [self.channels[m] for m in members if self.channels[m].agent]
        callers = [m for m in members if m in self.callers]
        if not legs or not callers:
            return
        caller, leg = callers[0], legs[0]
        self.channels[caller].variables["talked"] = "1"
        script = self.callers[caller]
        agent = self.agents.get(leg.agent) if leg.agent else None
        if script.hangs_up_first:
            self.at(self.now + script.talk_s, lambda: self.hang_up(caller))
        elif agent is not None:
            talk_s = self.conversation_s(script, agent)
            self.at(self.now + talk_s, lambda: self._agent_done(leg.id, caller))

    # ------------------------------------------------------------ hooks for a subclass

    def phone(self, command: c.OriginateAgent) -> AgentScript | None:
        """How the phone rung by ``command`` behaves: the agent's script.

        A subclass may draw it afresh for every ring (answer delay, ring-no-answer).
        """
        return self.agents.get(command.agent)

    def conversation_s(self, caller: CallerScript, agent: AgentScript) -> float:
        """Seconds of talk before the agent hangs up: the agent's script.

        A subclass may take it from the caller's script instead (a talk time per call).
        """
        return agent.talk_s

    def _agent_done(self, leg: ChannelId, caller: ChannelId) -> None:
        ch = self.channels.get(leg)
        if ch is None or ch.gone:
            return
        self.hang_up(leg)
        key = self.callers[caller].rating_key
        if key is not None:
            self.at(self.now + 1.0, lambda: self.press(caller, key))
