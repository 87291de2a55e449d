"""Supervisors listening to, whispering to and barging into a call (电子监察).

:class:`CallMonitors` belongs to one :class:`~switchboard.inbound.InboundCall`
and carries out :class:`transfer.MonitorPlan` sessions on it: the
supervisor's seat is rung (``supervisor,<call>,<session>``), snoop channels
on the agent's leg (``snoop,<call>,<session>``) share a private monitor
bridge ``mon-<session>`` with the supervisor's leg, and barging moves the
supervisor's leg into the call's own bridge (``supervisor_snoop.jsonl``).

One supervisor has at most one session per call; asking again changes the
mode.  Every request is audited, every change of what the supervisor hears
goes to the call's timeline.  A session ends when the supervisor stops or
hangs up, when the monitored agent leaves the call, or when the call ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import acd
import transfer as tr
from switchboard.commands import (
    AddToBridge,
    CreateBridge,
    CreateSnoop,
    DestroyBridge,
    HangUp,
    OriginateSupervisor,
    RefuseTransfer,
    RemoveFromBridge,
    WriteAudit,
)
from switchboard.events import DialStatus
from switchboard.host import CallHost
from switchboard.ids import BridgeId, ChannelId
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase
from switchboard.timers import utc

_FAILS = frozenset(
    {DialStatus.BUSY, DialStatus.NOANSWER, DialStatus.CHANUNAVAIL, DialStatus.CONGESTION}
)


@dataclass
class Session:
    """One supervisor's monitoring of the call."""

    plan: tr.MonitorPlan
    role: str
    endpoint: str
    bridge: BridgeId | None = None
    answered: bool = False


class CallMonitors:
    """The monitoring sessions of one call."""

    def __init__(self, call: CallHost) -> None:
        self._call = call
        self._sessions: dict[tr.SessionId, Session] = {}
        self._channels: dict[ChannelId, tr.SessionId] = {}
        self._count = 0

    def __repr__(self) -> str:
        return f"<CallMonitors {self._call.call_id} sessions={len(self._sessions)}>"

    def owns(self, channel: ChannelId) -> bool:
        return channel in self._channels

    def channels(self) -> frozenset[ChannelId]:
        """Supervisor legs and snoops that may be up."""
        return frozenset(self._channels)

    def bridges(self) -> frozenset[BridgeId]:
        """The monitoring bridges of the call's sessions."""
        return frozenset(s.bridge for s in self._sessions.values() if s.bridge is not None)

    def session_of(self, supervisor: str) -> Session | None:
        for session in self._sessions.values():
            if session.plan.supervisor == supervisor:
                return session
        return None

    # ------------------------------------------------------------ requests

    def request(
        self,
        supervisor: str,
        role: str,
        seat: acd.SeatId,
        mode: tr.MonitorMode,
        now: float,
        out: Outbox,
    ) -> None:
        call = self._call
        f = call.facts
        current = self.session_of(supervisor)
        if current is not None:
            self._feed(current, tr.ChangeMode(mode), now, out, supervisor)
            return
        endpoint = call.config.seats.get(seat)
        agent_offer = f.offer_of(f.agent_leg) if f.agent_leg is not None else None
        refusal: tuple[str, str] | None = None
        if f.phase is not CallPhase.CONNECTED or f.agent_leg is None:
            refusal = ("not_connected", f"the call is {call.public_state}")
        elif endpoint is None:
            refusal = ("bad_seat", f"unknown seat {seat!r}")
        elif agent_offer is not None and agent_offer.seat == seat:
            refusal = ("bad_seat", "that is the monitored agent's seat")
        if refusal is not None or endpoint is None:
            out.emit(RefuseTransfer(f.call_id, supervisor, *(refusal or ("bad_seat", ""))))
            return
        self._count += 1
        session_id = tr.SessionId(f.local_id("m", self._count))
        session = Session(tr.MonitorPlan(session_id, supervisor, seat, mode), role, endpoint)
        self._sessions[session_id] = session
        self._run(session, session.plan.start(utc(now)), now, out)

    def stop(self, supervisor: str, now: float, out: Outbox) -> None:
        session = self.session_of(supervisor)
        if session is None:
            code = ("no_monitor", "you are not monitoring this call")
            out.emit(RefuseTransfer(self._call.call_id, supervisor, *code))
            return
        self._feed(session, tr.Stop(), now, out, supervisor)

    # ------------------------------------------------------------ softswitch facts

    def supervisor_answered(self, leg: ChannelId, now: float, out: Outbox) -> None:
        session = self._session(leg)
        if session is None or leg != ChannelId(session.plan.leg):
            out.emit(HangUp(self._call.call_id, leg))
            return
        session.answered = True
        self._feed(session, tr.SupervisorAnswered(), now, out)

    def snoop_started(self, snoop: ChannelId, now: float, out: Outbox) -> None:
        session = self._session(snoop)
        if session is None:
            out.emit(HangUp(self._call.call_id, snoop))
            return
        self._feed(session, tr.SnoopStarted(snoop), now, out)

    def dialed(self, leg: ChannelId, status: DialStatus, now: float, out: Outbox) -> None:
        session = self._session(leg)
        self._channels.pop(leg, None)
        if session is not None and status in _FAILS:
            self._feed(session, tr.SupervisorFailed(status.value.lower()), now, out)

    def left(self, channel: ChannelId, now: float, out: Outbox) -> None:
        session = self._session(channel)
        self._channels.pop(channel, None)
        if session is None:
            return
        if channel == ChannelId(session.plan.leg):
            event: tr.MonitorEvent = (
                tr.SupervisorGone() if session.answered else tr.SupervisorFailed("failed")
            )
        else:
            event = tr.SnoopGone(channel)
        self._feed(session, event, now, out)

    def agent_left(self, now: float, out: Outbox) -> None:
        """The monitored agent left the call (or the call ended): every session ends."""
        for session in list(self._sessions.values()):
            self._feed(session, tr.CallGone(), now, out)

    def call_ended(self, now: float, out: Outbox) -> None:
        self.agent_left(now, out)
        for channel in list(self._channels):
            out.emit(HangUp(self._call.call_id, channel))
        self._channels.clear()

    # ------------------------------------------------------------ carrying out

    def _session(self, channel: ChannelId) -> Session | None:
        session_id = self._channels.get(channel)
        return None if session_id is None else self._sessions.get(session_id)

    def _feed(
        self, session: Session, event: tr.MonitorEvent, now: float, out: Outbox, actor: str = ""
    ) -> None:
        try:
            commands = session.plan.handle(event, utc(now))
        except tr.RequestRefused as exc:
            out.emit(
                RefuseTransfer(
                    self._call.call_id, actor or session.plan.supervisor, exc.code, exc.message
                )
            )
            return
        self._run(session, commands, now, out)

    def _run(
        self, session: Session, commands: list[tr.MonitorCommand], now: float, out: Outbox
    ) -> None:
        for command in commands:
            self._one(session, command, now, out)
        if session.plan.ended:
            self._sessions.pop(session.plan.session, None)

    def _one(self, session: Session, command: tr.MonitorCommand, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        cid = f.call_id
        plan = session.plan
        match command:
            case tr.DialSupervisor():
                leg = ChannelId(command.leg)
                self._channels[leg] = plan.session
                out.emit(
                    OriginateSupervisor(
                        call_id=cid,
                        leg=leg,
                        endpoint=session.endpoint,
                        caller_id=call.config.outbound_caller_id or "monitor",
                        timeout_s=int(call.config.transfer_ring_s),
                        app_args=("supervisor", cid, plan.session),
                        variables=(("HOTLINE_CALL_ID", cid), ("HOTLINE_MONITOR", plan.session)),
                    )
                )
            case tr.CreateSnoop():
                snoop = ChannelId(command.snoop)
                if f.agent_leg is None:
                    self._feed(session, tr.SnoopGone(snoop), now, out)
                    return
                self._channels[snoop] = plan.session
                args = ("snoop", cid, plan.session)
                out.emit(CreateSnoop(cid, snoop, f.agent_leg, command.spy, command.whisper, args))
            case tr.MonitorBridge():
                if session.bridge is None:
                    session.bridge = BridgeId(f"mon-{plan.session}")
                    out.emit(CreateBridge(cid, session.bridge))
                channels = tuple(ChannelId(c) for c in command.channels)
                out.emit(AddToBridge(cid, session.bridge, channels))
            case tr.JoinCall():
                leg = ChannelId(command.leg)
                if f.bridge is not None:
                    if session.bridge is not None:
                        # Leave the monitor bridge first: a channel is in one bridge.
                        out.emit(RemoveFromBridge(cid, session.bridge, leg))
                    out.emit(AddToBridge(cid, f.bridge, (leg,)))
            case tr.LeaveCall():
                if f.bridge is not None:
                    out.emit(RemoveFromBridge(cid, f.bridge, ChannelId(command.leg)))
            case tr.HangupChannel():
                channel = ChannelId(command.channel)
                if self._channels.pop(channel, None) is not None:
                    out.emit(HangUp(cid, channel))
            case tr.DestroyMonitorBridge():
                if session.bridge is not None:
                    out.emit(DestroyBridge(cid, session.bridge))
                    session.bridge = None
            case tr.Audit():
                detail = {**_plain(command.detail), "agent": f.agent}
                audit = WriteAudit(
                    now, plan.supervisor, session.role, command.action, cid, True, detail
                )
                out.emit(audit)
            case tr.MonitorTimeline():
                call.note(command.kind, now, out, _plain(command.detail), agent=f.agent)


def _plain(detail: dict[str, object]) -> dict[str, str | int | float | bool | None]:
    return {
        k: v if v is None or isinstance(v, str | int | float | bool) else str(v)
        for k, v in detail.items()
    }
