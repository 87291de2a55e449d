"""The engine of one process: the switchboard, its executor, and the face the rest of ``cti`` uses.

:class:`Engine` assembles a :class:`switchboard.Switchboard` with the
:class:`~cti.executor.carry.Executor` that carries out its commands and the
:class:`~cti.executor.intake.Intake` that feeds it the softswitch's events,
and offers the HTTP faces what they read and ask: the calls in progress and
just ended (as :class:`~cti.executor.views.CallView`), the agents' states,
agent requests, transfers and monitoring (:mod:`cti.executor.requests`),
listeners for the live faces.  It decides nothing: every request becomes a
switchboard event, and what it keeps is what the executed commands said.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

import acd
from acd import Acd, RequestRefused
from cti.ari.client import AriStreamItem
from cti.ari.reconcile import Known
from cti.config import Config
from cti.engine.acdmap import acd_config
from cti.engine.gate import PriorityGate
from cti.engine.pbx import Pbx
from cti.errors import CtiError
from cti.executor.carry import Executor
from cti.executor.flow import flow_config
from cti.executor.intake import Intake
from cti.executor.nodes import Nodes
from cti.executor.ports import Recordings, Writer
from cti.executor.requests import Monitors, Transfers, refused
from cti.executor.views import CallView
from cti.store import Database
from switchboard import Switchboard
from switchboard import commands as c
from switchboard import events as ev
from switchboard.ids import BridgeId, CallId, ChannelId

log = structlog.get_logger("cti.executor")

CallListener = Callable[[CallView], None]
AgentListener = Callable[[acd.AgentStateChanged], None]
RECENT = 1000  # ended calls kept for the faces


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Engine:
    """The engine of one process (one Asterisk, or several nodes); see the module docstring."""

    def __init__(
        self,
        config: Config,
        config_version: str,
        pbx: Pbx,
        writer: Writer,
        *,
        recordings: Recordings | None = None,
        clock: Callable[[], float] = time.time,
        nodes: Nodes | None = None,
    ) -> None:
        self.config = config
        self.config_version = config_version
        self._configs: dict[str, Config] = {config_version: config}
        self.pbx = pbx
        self.writer = writer
        self.clock = clock
        self.recordings = recordings
        self.board = Switchboard(flow_config(config, config_version), acd_config(config))
        self.gate = PriorityGate(config.engine.ari.requests_in_flight)
        self.executor = Executor(
            self.board, pbx, writer, self._sound, gate=self.gate, clock=clock, recordings=recordings
        )
        self.intake = Intake(self.executor)
        # Several Asterisk nodes (cti.executor.nodes): each request to its node.
        self.nodes = nodes
        if nodes is not None:
            self.executor.route = nodes.route
            nodes.attach(self)
        self.arrivals = self.intake.arrivals
        self.ami: Any = None  # the AMI client, for resynchronising seats
        self.seats = {seat.id: seat for seat in config.seats.seats}
        self.agent_states: dict[str, acd.AgentStateChanged] = {}
        self.agent_seat: dict[str, str] = {}
        # The time written with the agent state change being announced to the
        # agent listeners, so that what they keep equals what was stored.
        self.agent_change_at: datetime | None = None
        self.callbacks_open = 0
        self.call_listeners: list[CallListener] = []
        self.ended_listeners: list[CallListener] = []
        self.agent_listeners: list[AgentListener] = []
        self._views: dict[CallId, CallView] = {}
        self.recent_ended: dict[CallId, CallView] = {}
        self.transfers = Transfers(self, self.now_dt)
        self.monitors = Monitors(self, self._audit_refused)
        heard = self.executor.listeners
        heard.calls.append(self._on_call)
        heard.finals.append(self._on_final)
        heard.agents.append(self._on_agent)
        heard.notices.append(self.transfers.on_notice)
        heard.callbacks.append(self._on_callback)

    def __repr__(self) -> str:
        return f"<Engine calls={len(self._views)} config={self.config_version[:12]}>"

    # ------------------------------------------------------------ views

    @property
    def calls(self) -> dict[CallId, CallView]:
        """The calls in progress, by id."""
        views = self._views
        return {c.call_id: views.get(c.call_id) or CallView(c) for c in self.board.calls()}

    @property
    def acd(self) -> Acd:
        return self.board.distributor

    @property
    def errors(self) -> int:
        return self.executor.lanes.errors

    def call_view(self, call_id: CallId) -> CallView | None:
        return self._views.get(call_id) or self.recent_ended.get(call_id)

    def config_of(self, call: CallView) -> Config:
        """The configuration the call arrived under."""
        return self._configs.get(call.inbound.config.version, self.config)

    def current_call_of(self, agent: str) -> CallView | None:
        """The call the agent talks on, or whose offer rings at their seat."""
        call = self.board.call_of_agent(agent)
        if call is None:
            return None
        return self._views.get(call.call_id) or CallView(call)

    def now(self) -> float:
        return self.clock()

    def now_dt(self) -> datetime:
        return _utc(self.clock())

    def _sound(self, prompt: str, language: str) -> str:
        return self.config.sound(prompt, language)

    # ------------------------------------------------------------ what the commands said

    def _on_call(self, command: c.WriteCall) -> None:
        call_id = command.record.call_id
        view = self._views.get(call_id)
        if view is None:
            inbound = self.board.call(call_id)
            if inbound is None:
                return
            view = self._views[call_id] = CallView(inbound)
        for listener in self.call_listeners:
            listener(view)

    def _on_final(self, command: c.WriteFinal) -> None:
        view = self._views.pop(command.record.call_id, None)
        if view is None:
            return
        self.recent_ended[view.call_id] = view
        while len(self.recent_ended) > RECENT:
            self.recent_ended.pop(next(iter(self.recent_ended)))
        log.info("call_ended", call_id=view.call_id, outcome=view.outcome)
        for listener in self.ended_listeners:
            listener(view)

    def _on_agent(self, command: c.PublishAgentState) -> None:
        change = command.change
        self.agent_states[change.agent] = change
        if change.seat is not None:
            self.agent_seat[change.agent] = change.seat
        self.agent_change_at = _utc(command.at)
        for listener in self.agent_listeners:
            listener(change)

    def _on_callback(self, command: c.AddCallback) -> None:
        self.callbacks_open += 1

    def _audit_refused(self, actor: str, role: str, call_id: str, action: str) -> None:
        payload = {"at": self.now_dt(), "actor": actor, "role": role, "action": action}
        self.writer.submit("audit", {**payload, "target": call_id, "allowed": False, "detail": {}})

    # ------------------------------------------------------------ requests

    def feed(self, event: ev.Event) -> list[c.Command]:
        return self.executor.feed(event)

    def dial(
        self,
        agent: str,
        number: str,
        *,
        role: str = "agent",
        callback: str | None = None,
        missed_call_id: str | None = None,
        queue: str | None = None,
        call_id: CallId | None = None,
        visit: str | None = None,
    ) -> CallId:
        """Click-to-dial: ring ``agent``'s seat, then ``number``; the new call's id.

        ``callback`` ties the call to a callback entry, ``visit`` to the
        return visit of that ticket id.

        Raises :class:`~cti.executor.requests.TransferRefused` with the HTTP
        status when the switchboard refuses (403 a number the dial rules
        refuse, 409 not logged in or on another call); a refused number is
        audited by the switchboard.
        """
        made = call_id or self.executor.new_call_id()
        request = ev.DialRequested(
            made, acd.AgentId(agent), number, callback=callback,
            missed_call_id=missed_call_id, queue=queue, role=role, visit=visit,
        )  # fmt: skip
        for command in self.feed(request):
            if isinstance(command, c.RefuseTransfer):
                raise refused(command.code, command.message)
        return made

    def agent_request(self, event: ev.AgentRequestEvent) -> RequestRefused | None:
        """Run an agent's request through the switchboard; the refusal, if any."""
        for command in self.feed(ev.AgentRequest(event)):
            if isinstance(command, c.RefuseRequest):
                return command.refusal
        if isinstance(event, acd.AgentLogin):
            session = {"event": "login", "agent": event.agent, "seat": event.seat}
            self.writer.submit("agent_session", {**session, "at": self.now_dt()})
        elif isinstance(event, acd.AgentLogout):
            session = {"event": "logout", "agent": event.agent, "reason": "logout"}
            self.writer.submit("agent_session", {**session, "at": self.now_dt()})
        return None

    def restore_agent(self, agent: str, seat: str, status: str, reason: str) -> None:
        """An agent who was logged in before a restart: back at the seat, same status."""
        self.feed(ev.AgentRequest(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(seat))))
        if status == "paused" and reason:
            self.feed(ev.AgentRequest(acd.AgentPause(acd.AgentId(agent), reason)))

    def apply_config(self, config: Config, version: str) -> None:
        """A reloaded configuration serves new calls; calls in progress keep theirs."""
        self.config = config
        self.config_version = version
        self._configs[version] = config
        self.gate.resize(config.engine.ari.requests_in_flight)
        self.seats = {seat.id: seat for seat in config.seats.seats}
        self.feed(ev.ConfigLoaded(flow_config(config, version), acd_config(config)))

    # ------------------------------------------------------------ the softswitch

    def on_ari(self, item: AriStreamItem, pbx: Pbx | None = None) -> None:
        self.intake.on_ari(item, pbx)

    def on_ami(self, event: object, client: Any = None) -> None:
        """An AMI event (of the node whose AMI client is ``client``, by default ``self.ami``)."""
        from cti import ami

        client = client or self.ami
        if isinstance(event, ami.FullyBooted):
            # After every AMI login (and an Asterisk restart) the phones'
            # registrations may have changed unseen: read them all.
            log.info("pbx_fully_booted")
            if client is not None:
                self.executor.spawn(self.resync_devices(client))
            return
        self.intake.on_ami(event)

    def known(self) -> Known:
        return self.intake.known()

    # What the nodes (cti.executor.nodes) read of the switchboard.

    def channels(self) -> frozenset[ChannelId]:
        return self.board.channels()

    def bridges(self) -> dict[BridgeId, BridgeId]:
        """The switchboard's bridges, with the id Asterisk gave each."""
        return {bridge: self.executor.bridge_id(bridge) for bridge in self.board.bridges()}

    def caller_channel(self, call_id: CallId) -> ChannelId | None:
        call = self.board.call(call_id)
        return call.facts.caller_channel if call is not None else None

    def spawn(self, work: Any) -> None:
        self.executor.spawn(work)

    async def remember_pbx(self) -> None:
        if self.nodes is None:
            await self.intake.remember_pbx()
            return
        for node in self.nodes.nodes:
            if node.link.connected:
                await self.intake.remember_pbx(node.pbx)

    async def resync_devices(self, client: Any = None) -> None:
        """Seat reachability and device states from AMI ``DeviceStateList``."""
        client = client or self.ami
        assert client is not None
        try:
            await client.link.wait_until(lambda link: link.state == "connected", timeout=10)
            answer = await client.action({"Action": "DeviceStateList"}, check=False)
        except Exception as exc:
            log.warning("device_resync_failed", error=str(exc))
            return
        seat_of: dict[str, str] = {}
        for configured in self.config.seats.seats:
            endpoint = configured.endpoint
            seat_of[endpoint] = seat_of[endpoint.split("/", 1)[-1]] = configured.id
        for item in answer.events:
            seat = seat_of.get(item.get("Device"))
            if seat is None:
                continue
            state = item.get("State")
            if self.nodes is not None:
                state = self.nodes.device_state(client, item.get("Device"), state)
            reachable = state not in ("UNAVAILABLE", "INVALID")
            self.feed(ev.SeatChanged(acd.SeatReachability(acd.SeatId(seat), reachable)))
            if reachable:
                device = acd.DeviceState.from_ami(state)
                self.feed(ev.SeatChanged(acd.SeatDeviceState(acd.SeatId(seat), device)))

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for every lane of requests to finish (tests, shutdown)."""
        await self.executor.drain(timeout)

    def shutdown(self) -> None:
        if self.nodes is not None:
            self.nodes.shutdown()
        self.arrivals.cancel()
        self.executor.shutdown()


async def restore_agents(engine: Engine, db: Database) -> int:
    """Log agents back in at their seats with their last status; return how many."""
    try:
        found = await db.fetch(
            "SELECT s.agent_id, s.seat,"
            " (SELECT c.status FROM agent_state_changes c WHERE c.agent_id = s.agent_id"
            "  ORDER BY c.at DESC, c.id DESC LIMIT 1) AS status,"
            " (SELECT c.reason FROM agent_state_changes c WHERE c.agent_id = s.agent_id"
            "  ORDER BY c.at DESC, c.id DESC LIMIT 1) AS reason"
            " FROM agent_sessions s WHERE s.logout_at IS NULL ORDER BY s.login_at"
        )
    except CtiError as exc:
        log.warning("agents_not_restored", error=str(exc))
        return 0
    restored = 0
    for row in found:
        agent, seat = row["agent_id"], row["seat"]
        if seat not in engine.seats or engine.config.agent(agent) is None:
            continue
        engine.restore_agent(agent, seat, row["status"] or "ready", row["reason"] or "")
        restored += 1
    log.info("agents_restored", count=restored)
    return restored
