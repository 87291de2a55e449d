"""Supervisors listening to, whispering to and barging into live calls, over ARI.

Theory of operation
-------------------
The shell of :class:`transfer.MonitorPlan`.  A supervisor (the
``supervisor`` role, or an agent whom ``agents.yaml`` makes a supervisor)
asks to monitor a connected call from a seat; the seat's phone is rung with
app args ``supervisor,<call id>,<session>``.  Snoop channels on the agent's
leg are made with ``POST /channels/{agent leg}/snoop/{id}`` and enter the
application with app args ``snoop,<call id>,<session>``; the supervisor's leg
and the snoop share a private mixing bridge (``supervisor_snoop.jsonl``).
Barging moves the supervisor's leg into the call's own bridge.

One supervisor has at most one session per call; asking again changes the
mode.  Every request is written to the audit log (writer kind ``audit``)
with the supervisor, the call and the monitored agent, and every change of
what the supervisor hears to the call's timeline.  A session ends when the
supervisor stops or hangs up, when the call ends, or when the monitored
agent leaves the call.  All requests run in the call's ordered lane.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

import transfer as tr
from cti.engine.call import Call, CallPhase
from cti.engine.pbx import PbxError
from cti.engine.transfer_io import ari_checked, hangup, timeline
from cti.engine.transfers import TransferRefused
from cti.ids import BridgeId, CallId, ChannelId

if TYPE_CHECKING:
    from cti.engine.core import Engine

log = structlog.get_logger("cti.engine.monitoring")


@dataclass
class Session:
    """One supervisor's monitoring of one call."""

    call_id: CallId
    plan: tr.MonitorPlan
    role: str
    endpoint: str
    bridge: BridgeId | None = None
    answered: bool = False


class Monitors:
    """Every monitoring session of one engine (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: dict[tr.SessionId, Session] = {}
        self.channels: dict[ChannelId, tr.SessionId] = {}
        self._seq = itertools.count(1)

    def __repr__(self) -> str:
        return f"<Monitors sessions={len(self.sessions)}>"

    # ------------------------------------------------------------------ requests

    def monitor(
        self, call_id: CallId, supervisor: str, role: str, seat_id: str, mode: str
    ) -> tr.MonitorPlan:
        """Start monitoring ``call_id`` from ``seat_id`` in ``mode``, or change the mode
        of this supervisor's session on the call; :class:`TransferRefused` otherwise."""
        engine = self.engine
        try:
            wanted = tr.MonitorMode(mode)
        except ValueError:
            raise TransferRefused(400, "bad_mode", f"unknown monitor mode {mode!r}") from None
        call = engine.calls.get(call_id)
        if call is None:
            raise TransferRefused(404, "no_call", "no such call")
        current = self.session_of(call_id, supervisor)
        if current is not None:
            self._feed(current, tr.ChangeMode(wanted))
            return current.plan
        if call.phase is not CallPhase.CONNECTED or call.agent_channel is None:
            raise TransferRefused(409, "not_connected", f"the call is {call.public_state}")
        seat = engine.seats.get(seat_id)
        if seat is None:
            raise TransferRefused(400, "bad_seat", f"unknown seat {seat_id!r}")
        if seat.id == engine.agent_seat.get(call.agent or ""):
            raise TransferRefused(400, "bad_seat", "that is the monitored agent's seat")
        session_id = tr.SessionId(f"{call_id}-m{next(self._seq)}")
        plan = tr.MonitorPlan(session_id, supervisor, seat.id, wanted)
        session = Session(call_id, plan, role, seat.endpoint)
        self.sessions[session_id] = session
        self._run(session, plan.start(engine.now_dt()))
        return plan

    def stop(self, call_id: CallId, supervisor: str) -> tr.MonitorPlan:
        session = self.session_of(call_id, supervisor)
        if session is None:
            raise TransferRefused(404, "no_monitor", "you are not monitoring this call")
        self._feed(session, tr.Stop())
        return session.plan

    def session_of(self, call_id: CallId, supervisor: str) -> Session | None:
        for session in self.sessions.values():
            if session.call_id == call_id and session.plan.supervisor == supervisor:
                return session
        return None

    def bridges(self) -> set[BridgeId]:
        """The monitor bridges this engine holds (reconciliation)."""
        return {s.bridge for s in self.sessions.values() if s.bridge is not None}

    def audit_refused(self, actor: str, role: str, call_id: str, action: str) -> None:
        """A monitoring request by someone without the right: audited, then refused."""
        self.engine.writer.submit(
            "audit",
            {
                "at": self.engine.now_dt(),
                "actor": actor,
                "role": role,
                "action": action,
                "target": call_id,
                "allowed": False,
                "detail": {},
            },
        )

    # ------------------------------------------------------------------ softswitch hooks

    def stasis_start(self, role: str, channel: ChannelId, call_id: CallId, session_id: str) -> None:
        """``StasisStart`` of a supervisor's leg or of a snoop channel."""
        session = self.sessions.get(tr.SessionId(session_id))
        if session is None:
            self.engine._io(call_id, lambda: hangup(self.engine.pbx, channel))
            return
        if role == "supervisor":
            session.answered = True
            self._feed(session, tr.SupervisorAnswered())
        else:
            self._feed(session, tr.SnoopStarted(channel))

    def dial(self, peer: ChannelId, status: str) -> bool:
        session_id = self.channels.get(peer)
        if session_id is None:
            return False
        session = self.sessions.get(session_id)
        if session is not None and status in ("BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION"):
            self._feed(session, tr.SupervisorFailed(status.lower()))
        return True

    def channel_gone(self, call: Call, channel: ChannelId) -> bool:
        session_id = self.channels.pop(channel, None)
        if session_id is None:
            return False
        self.engine.by_channel.pop(channel, None)
        session = self.sessions.get(session_id)
        if session is not None:
            if channel == session.plan.leg:
                event: tr.MonitorEvent = (
                    tr.SupervisorGone() if session.answered else tr.SupervisorFailed("failed")
                )
            else:
                event = tr.SnoopGone(channel)
            self._feed(session, event)
        return True

    def agent_left(self, call: Call) -> None:
        """The monitored agent left the call: every session on it ends."""
        for session in [s for s in self.sessions.values() if s.call_id == call.call_id]:
            self._feed(session, tr.CallGone())

    def call_ended(self, call: Call) -> None:
        self.agent_left(call)
        for channel in [c for c, s in self.channels.items() if s not in self.sessions]:
            self.channels.pop(channel, None)

    # ------------------------------------------------------------------ carrying out

    def _feed(self, session: Session, event: tr.MonitorEvent) -> None:
        try:
            commands = session.plan.handle(event, self.engine.now_dt())
        except tr.RequestRefused as exc:
            raise TransferRefused(409, exc.code, exc.message) from exc
        self._run(session, commands)

    def _run(self, session: Session, commands: list[tr.MonitorCommand]) -> None:
        for command in commands:
            try:
                self._one(session, command)
            except Exception:
                self.engine.errors += 1
                log.exception("monitor_command_error", command=type(command).__name__)
        if session.plan.ended:
            self.sessions.pop(session.plan.session, None)

    def _one(self, session: Session, command: tr.MonitorCommand) -> None:
        engine = self.engine
        call_id = session.call_id
        pbx = engine.pbx
        match command:
            case tr.DialSupervisor():
                self._dial_supervisor(session, ChannelId(command.leg))
            case tr.CreateSnoop():
                self._snoop(session, command)
            case tr.MonitorBridge():
                channels = [ChannelId(c) for c in command.channels]

                async def bridge() -> None:
                    if session.bridge is None:
                        wanted = BridgeId(f"mon-{session.plan.session}")
                        session.bridge = await pbx.create_bridge(wanted, session.plan.session)
                    await pbx.add_to_bridge(session.bridge, channels)

                engine._io(call_id, bridge)
            case tr.JoinCall():
                leg = ChannelId(command.leg)

                async def join() -> None:
                    call = engine.calls.get(call_id)
                    if call is None or call.bridge_id is None:
                        return
                    if session.bridge is not None:
                        # Leave the monitor bridge first: a channel is in one bridge.
                        with contextlib.suppress(PbxError):
                            await pbx.remove_from_bridge(session.bridge, leg)
                    await pbx.add_to_bridge(call.bridge_id, [leg])

                engine._io(call_id, join)
            case tr.LeaveCall():
                leg = ChannelId(command.leg)

                async def leave() -> None:
                    call = engine.calls.get(call_id)
                    if call is not None and call.bridge_id is not None:
                        await pbx.remove_from_bridge(call.bridge_id, leg)

                engine._io(call_id, leave)
            case tr.HangupChannel():
                channel = ChannelId(command.channel)
                engine._io(call_id, lambda: hangup(pbx, channel))
            case tr.DestroyMonitorBridge():

                async def destroy() -> None:
                    bridge, session.bridge = session.bridge, None
                    if bridge is not None:
                        await pbx.destroy_bridge(bridge)

                engine._io(call_id, destroy)
            case tr.Audit():
                self._audit(session, command)
            case tr.MonitorTimeline():
                call = engine.calls.get(call_id) or engine.recent_ended.get(call_id)
                if call is not None:
                    timeline(engine, call, command.kind, call.agent, command.detail)
            case _:
                log.warning("monitor_command_ignored", command=type(command).__name__)

    def _dial_supervisor(self, session: Session, leg: ChannelId) -> None:
        engine = self.engine
        call_id = session.call_id
        self.channels[leg] = session.plan.session
        engine.by_channel[leg] = call_id
        config = engine.call_configs.get(call_id, engine.config)
        caller_id = config.engine.outbound.caller_id or "monitor"
        app_args = f"supervisor,{call_id},{session.plan.session}"

        async def originate() -> None:
            try:
                await engine.pbx.originate(
                    session.endpoint,
                    app_args=app_args,
                    caller_id=caller_id,
                    timeout=int(config.engine.outbound.originate_timeout),
                    channel_id=leg,
                    variables={"HOTLINE_CALL_ID": call_id, "HOTLINE_MONITOR": session.plan.session},
                )
            except PbxError as exc:
                log.warning("supervisor_originate_failed", call_id=call_id, error=str(exc))
                if self.channels.pop(leg, None) is not None:
                    engine.by_channel.pop(leg, None)
                    self._feed(session, tr.SupervisorFailed("failed"))

        engine._io(call_id, originate)

    def _snoop(self, session: Session, command: tr.CreateSnoop) -> None:
        engine = self.engine
        call_id = session.call_id
        call = engine.calls.get(call_id)
        target = call.agent_channel if call is not None else None
        snoop = ChannelId(command.snoop)
        if target is None:
            self._feed(session, tr.SnoopGone(snoop))
            return
        self.channels[snoop] = session.plan.session
        engine.by_channel[snoop] = call_id
        channels = engine.pbx.ari.channels
        app_args = f"snoop,{call_id},{session.plan.session}"

        async def create() -> None:
            try:
                await ari_checked(
                    channels.snoop_with_id(
                        target,
                        snoop,
                        engine.pbx.app,
                        spy=command.spy,  # type: ignore[arg-type]
                        whisper=command.whisper,  # type: ignore[arg-type]
                        app_args=app_args,
                    )
                )
            except PbxError as exc:
                log.warning("snoop_failed", call_id=call_id, error=str(exc))
                if self.channels.pop(snoop, None) is not None:
                    engine.by_channel.pop(snoop, None)
                    self._feed(session, tr.SnoopGone(snoop))

        engine._io(call_id, create)

    def _audit(self, session: Session, command: tr.Audit) -> None:
        engine = self.engine
        call = engine.calls.get(session.call_id)
        detail: dict[str, Any] = {**command.detail}
        if call is not None:
            detail["agent"] = call.agent
        engine.writer.submit(
            "audit",
            {
                "at": engine.now_dt(),
                "actor": session.plan.supervisor,
                "role": session.role,
                "action": command.action,
                "target": session.call_id,
                "allowed": True,
                "detail": detail,
            },
        )
        log.info(
            "supervisor_monitoring",
            call_id=session.call_id,
            supervisor=session.plan.supervisor,
            action=command.action,
        )
