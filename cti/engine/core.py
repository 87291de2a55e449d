"""The call orchestrator: softswitch events in, ACD/IVR decisions, softswitch requests out.

Theory of operation
-------------------
Everything that can change who talks to whom enters through one of the
synchronous ``on_*`` methods: an ARI event (``on_ari``), an AMI event
(``on_ami``), a timer (``_fire``), or a request from the API
(``agent_login`` ...).  Each method *decides* without awaiting: it updates the
:class:`~cti.engine.call.Call`, feeds the pure cores (``acd.Acd``,
``ivr.IvrSession``, ``ivr.SurveySession``) and collects the commands they
return.  Only then is I/O started: every softswitch request of a call runs in
that call's own ordered lane (:meth:`_io`), so the requests of one call keep
their order while calls proceed independently.  The result of a request that
matters to a decision (the redirecting number, a failed originate) comes back
as another synchronous decision.

Durable facts (call snapshots, timeline rows, agent state changes, ratings,
tickets) go to the :class:`~cti.writer.BufferedWriter`, which never blocks a
call; a database outage delays them and loses nothing.

Transfers, three-way calls, hold and mute (:mod:`cti.engine.transfers`) and
supervisors listening in (:mod:`cti.engine.monitoring`) decide their own
matters; the orchestrator hands them ``StasisStart`` of the legs they
originate (app args ``consultee``, ``supervisor``, ``snoop``), ``Dial``
verdicts of those legs, every channel that goes away before it looks at it
itself (:meth:`Engine._channel_gone`: a consultee, or the agent in the middle
of a transfer), their timers, an agent connecting (a transfer to a queue is
answered), an agent leaving (monitoring ends), and the end of a call
(:meth:`Engine._finalize`), which closes every leg still open so that the
ticket carries it.

Asterisk behaviours relied on are named where they are used; the transcripts
in ``tests/fixtures/asterisk/transcripts/`` show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Callable, Coroutine, Hashable
from datetime import UTC, datetime
from typing import Any

import structlog

import acd
import ivr
from cti import ami
from cti.ari import GenericEvent, Known, Reconciled
from cti.config import Config
from cti.engine import adopt
from cti.engine.acdmap import acd_config
from cti.engine.call import Call, CallPhase, Offer
from cti.engine.monitoring import Monitors
from cti.engine.pbx import Pbx, PbxError
from cti.engine.timers import Timers
from cti.engine.transfers import Transfers
from cti.ids import BridgeId, CallId, ChannelId, RecordingName
from cti.logs import mask_number
from cti.writer import BufferedWriter

log = structlog.get_logger("cti.engine")

P = CallPhase
CallListener = Callable[[Call], None]
AgentListener = Callable[[acd.AgentStateChanged], None]


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Engine:
    """The orchestrator of one engine process (one Asterisk)."""

    def __init__(
        self,
        config: Config,
        config_version: str,
        pbx: Pbx,
        writer: BufferedWriter,
        *,
        recordings: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recordings = recordings
        self.config = config
        self.config_version = config_version
        self.pbx = pbx
        self.writer = writer
        self.clock = clock
        self.acd = acd.Acd(acd_config(config))
        self.timers = Timers(self._fire)
        self.calls: dict[CallId, Call] = {}
        self.by_channel: dict[ChannelId, CallId] = {}
        self.leg_agent: dict[ChannelId, str] = {}
        self.playbacks: dict[str, tuple[CallId, str, str]] = {}  # ari id -> (call, kind, ref)
        self.ivr: dict[CallId, ivr.IvrSession] = {}
        self.surveys: dict[CallId, ivr.SurveySession] = {}
        self.route_steps: dict[CallId, list[tuple[str, bool]]] = {}
        self.call_configs: dict[CallId, Config] = {}
        self.seat_of_endpoint: dict[str, str] = {}
        self.agent_seat: dict[str, str] = {}
        self.agent_states: dict[str, acd.AgentStateChanged] = {}
        self.recent_ended: dict[CallId, Call] = {}
        self.call_listeners: list[CallListener] = []
        self.ended_listeners: list[CallListener] = []
        self.agent_listeners: list[AgentListener] = []
        self.errors = 0
        self.pbx_startup: str | None = None
        self.ami: Any = None  # the AMI client, for resynchronising seats
        self.last_adoption: adopt.AdoptionReport | None = None
        self.ratings_today: dict[int | None, int] = {}
        self.callbacks_open = 0
        self._lanes: dict[CallId, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._seq = itertools.count(1)
        self._index_seats()
        self.transfers = Transfers(self)
        self.monitors = Monitors(self)

    def __repr__(self) -> str:
        return f"<Engine calls={len(self.calls)} config={self.config_version[:12]}>"

    # ------------------------------------------------------------------ config

    def _index_seats(self) -> None:
        self.seats = {seat.id: seat for seat in self.config.seats.seats}
        self.seat_of_endpoint = {}
        for seat in self.config.seats.seats:
            self.seat_of_endpoint[seat.endpoint] = seat.id
            self.seat_of_endpoint[seat.endpoint.split("/", 1)[-1]] = seat.id

    def apply_config(self, config: Config, version: str) -> None:
        """A reloaded configuration serves new calls; calls in progress keep theirs."""
        self.config = config
        self.config_version = version
        self._index_seats()
        self._run_acd(acd.ConfigChanged(acd_config(config)))

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        return self.clock()

    def now_dt(self) -> datetime:
        return _utc(self.clock())

    def _fire(self, key: Hashable) -> None:
        kind = key[0]  # type: ignore[index]
        if kind == "acd":
            self._run_acd(acd.TimerFired(key[1], key[2]))  # type: ignore[index]
        elif kind == "ivr":
            _, call_id, timer_id = key  # type: ignore[misc]
            self._run_ivr(call_id, ivr.Timeout(timer_id))
        elif kind == "survey":
            _, call_id, timer_id = key  # type: ignore[misc]
            self._run_survey(call_id, ivr.Timeout(timer_id))
        elif kind == "hangup":
            call = self.calls.get(key[1])  # type: ignore[index]
            if call is not None:
                self._hangup_caller(call, "normal")
        elif kind == "transfer":
            _, call_id, leg = key  # type: ignore[misc]
            self.transfers.timer_fired(call_id, leg)

    # ------------------------------------------------------------------ I/O lanes

    def _io(self, call_id: CallId, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` after every earlier request of the same call."""
        previous = self._lanes.get(call_id)

        async def lane() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            try:
                await work()
            except PbxError as exc:
                log.info("pbx_request_failed", call_id=call_id, error=str(exc))
            except Exception:
                self.errors += 1
                log.exception("engine_io_error", call_id=call_id)

        task = asyncio.get_running_loop().create_task(lane())
        self._lanes[call_id] = task

        def done(t: asyncio.Task[None], call_id: CallId = call_id) -> None:
            if self._lanes.get(call_id) is t:
                del self._lanes[call_id]

        task.add_done_callback(done)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for every lane of requests to finish (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while self._lanes:
                await asyncio.gather(*list(self._lanes.values()), return_exceptions=True)

    def shutdown(self) -> None:
        self.timers.cancel_all()
        for task in list(self._lanes.values()):
            task.cancel()

    # ------------------------------------------------------------------ writes

    def _write_call(self, call: Call) -> None:
        self.writer.submit("call", call.record())
        self._persist(call)
        for listener in self.call_listeners:
            listener(call)

    def _persist(self, call: Call) -> None:
        """Keep the call's picture on its caller channel, for adoption after a restart."""
        if call.ended:
            return
        state = adopt.state_of(call, self.ivr.get(call.call_id))
        if state == call.persisted:
            return
        call.persisted = state
        ch = call.caller_channel
        self._io(call.call_id, lambda: self.pbx.set_var(ch, adopt.STATE_VAR, state))

    def _timeline(self, call: Call, kind: str, agent: str | None = None, **detail: Any) -> None:
        self.writer.submit(
            "call_event",
            {
                "call_id": call.call_id,
                "at": self.now_dt(),
                "kind": kind,
                "agent": agent,
                "detail": detail,
            },
        )

    # ------------------------------------------------------------------ ARI events

    def known(self) -> Known:
        """The channels and bridges this engine holds state for (reconciliation)."""
        bridges = {call.bridge_id for call in self.calls.values() if call.bridge_id}
        bridges |= self.monitors.bridges()
        return Known(channels=frozenset(self.by_channel), bridges=frozenset(bridges))

    def on_ari(self, event: Any) -> None:
        """Dispatch one typed ARI event (``cti.ari.events``) or reconciliation report."""
        if isinstance(event, Reconciled):
            self._reconciled(event)
            return
        if isinstance(event, GenericEvent):
            return  # unknown, or a known type that failed its model: logged by the parser
        if event.type in ("RecordingStarted", "RecordingFinished", "RecordingFailed"):
            self._recording_event(event)
        handler = getattr(self, f"_ari_{event.type}", None)
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            self.errors += 1
            log.exception("engine_event_error", ari_event=event.type)

    def _ari_StasisStart(self, event: Any) -> None:
        args = list(event.args or [])
        role = args[0] if args else "inbound"
        channel = event.channel
        if role == "inbound":
            dialled = args[1] if len(args) > 1 else channel.dialplan.exten
            self._new_call(channel, dialled)
        elif role == "agent" and len(args) >= 3:
            self._agent_answered(ChannelId(channel.id), CallId(args[1]), args[2])
        elif role == "consultee" and len(args) >= 3:
            self.transfers.consultee_answered(ChannelId(channel.id), CallId(args[1]))
        elif role in ("supervisor", "snoop") and len(args) >= 3:
            self.monitors.stasis_start(role, ChannelId(channel.id), CallId(args[1]), args[2])
        else:
            log.info("stasis_start_ignored", args=args, channel=channel.id)

    def _ari_StasisEnd(self, event: Any) -> None:
        self._channel_gone(ChannelId(event.channel.id), cause=None)

    def _ari_ChannelDestroyed(self, event: Any) -> None:
        self._channel_gone(ChannelId(event.channel.id), cause=event.cause)

    def _ari_Dial(self, event: Any) -> None:
        peer = ChannelId(event.peer.id)
        status = (event.dialstatus or "").upper()
        if self.transfers.dial(peer, status) or self.monitors.dial(peer, status):
            return
        call_id = self.by_channel.get(peer)
        agent = self.leg_agent.get(peer)
        if call_id is None or agent is None:
            return
        call = self.calls.get(call_id)
        offer = self._offer_of(call, peer)
        if call is None or offer is None or offer.outcome != "ringing":
            return
        # Dial BUSY (486) and NOANSWER (originate timeout): agent_busy_486.jsonl,
        # agent_no_answer.jsonl.  No StasisStart ever arrives for such a leg.
        if status == "BUSY":
            self._offer_failed(call, offer, "busy")
        elif status == "NOANSWER":
            self._offer_failed(call, offer, "no_answer")
        elif status in ("CHANUNAVAIL", "CONGESTION", "CANCEL"):
            self._offer_failed(call, offer, "failed")

    def _ari_ChannelDtmfReceived(self, event: Any) -> None:
        call_id = self.by_channel.get(ChannelId(event.channel.id))
        call = self.calls.get(call_id) if call_id else None
        if call is None or call.caller_channel != event.channel.id:
            return
        digit = event.digit
        if call.phase is P.ANNOUNCING:
            steps = self.route_steps.get(call.call_id)
            if steps is not None and call.playback and call.playback_skippable:
                stale = call.playback
                call.playback = None
                self.playbacks.pop(stale, None)
                self._io(call.call_id, lambda: self.pbx.stop_playback(stale))
                self._timeline(call, "announcement_skipped", digit=digit)
                self._next_route_step(call)
        elif call.phase is P.MENU:
            self._run_ivr(call.call_id, ivr.Digit(digit))
        elif call.phase is P.SURVEY:
            self._run_survey(call.call_id, ivr.Digit(digit))

    def _ari_PlaybackFinished(self, event: Any) -> None:
        entry = self.playbacks.pop(event.playback.id, None)
        if entry is None:
            return
        call_id, kind, ref = entry
        call = self.calls.get(call_id)
        if call is None:
            return
        if call.playback == event.playback.id:
            call.playback = None
        if kind == "route":
            self._next_route_step(call)
        elif kind == "ivr":
            self._run_ivr(call_id, ivr.PlaybackFinished(ivr.PlaybackId(ref)))
        elif kind == "survey":
            self._run_survey(call_id, ivr.PlaybackFinished(ivr.PlaybackId(ref)))
        elif kind == "announce" and call.phase is P.QUEUED:
            moh = self._moh_class(call)
            self._io(call_id, lambda: self.pbx.start_moh(call.caller_channel, moh))
        elif kind == "closing":
            self._hangup_caller(call, "normal")

    def _ari_RecordingFailed(self, event: Any) -> None:
        name = event.recording.name
        for call in self.calls.values():
            if call.recording_name == name:
                cause = getattr(event.recording, "cause", "")
                self._timeline(call, "recording_failed", cause=cause)
                log.error("recording_failed", call_id=call.call_id, recording=name)

    async def resync_devices(self) -> None:
        """Seat reachability and device states from AMI ``DeviceStateList``."""
        assert self.ami is not None
        try:
            # FullyBooted arrives during the login, before the link is usable.
            await self.ami.link.wait_until(lambda link: link.state == "connected", timeout=10)
            answer = await self.ami.action({"Action": "DeviceStateList"}, check=False)
        except Exception as exc:
            log.warning("device_resync_failed", error=str(exc))
            return
        for item in answer.events:
            seat = self.seat_of_endpoint.get(item.get("Device"))
            if seat is None:
                continue
            state = item.get("State")
            reachable = state not in ("UNAVAILABLE", "INVALID")
            self._run_acd(acd.SeatReachability(acd.SeatId(seat), reachable))
            if reachable:
                self._run_acd(
                    acd.SeatDeviceState(acd.SeatId(seat), acd.DeviceState.from_ami(state))
                )

    def _recording_event(self, event: Any) -> None:
        if self.recordings is None:
            return
        self._spawn(self.recordings.handle_ari_event(event))

    def _reconciled(self, item: Reconciled) -> None:
        """After every (re)connection: end the calls whose channels vanished
        while the socket was away (their hang-up events were lost), and adopt
        the channels Asterisk kept that this engine does not know (a restart
        of the engine).  When every known channel vanished and Asterisk
        restarted since the last connection, the calls end as ``pbx_restart``."""
        report = item.report
        vanished = report.channels.vanished
        if vanished:
            self._spawn(self._end_vanished(vanished, item.reconnect))
        if report.channels.unknown:
            self._spawn(self._adopt(list(report.listed_channels.values()), report.channels.unknown))
        if item.reconnect and self.recordings is not None:
            self._spawn(self.recordings.resume_in_progress(self._recording_live))

    async def _end_vanished(self, vanished: frozenset[str], reconnect: bool) -> None:
        reason = None
        if reconnect:
            startup = await self._pbx_startup()
            if startup is not None and self.pbx_startup is not None and startup != self.pbx_startup:
                reason = "pbx_restart"
            self.pbx_startup = startup or self.pbx_startup
        if reason is not None:
            log.warning("pbx_restarted", calls=len(self.calls))
        callers = {call.caller_channel for call in self.calls.values()}
        # Callers first: a call whose caller is gone ends, rather than its
        # agent's vanished leg sending a caller who is no more to the survey.
        for channel in sorted(vanished, key=lambda c: c not in callers):
            call_id = self.by_channel.get(ChannelId(channel))
            call = self.calls.get(call_id) if call_id else None
            if call is not None and reason is not None:
                call.end_reason = reason
                call.hangup_by = call.hangup_by or "pbx"
            self._channel_gone(ChannelId(channel), cause=None)

    async def _pbx_startup(self) -> str | None:
        try:
            info = await self.pbx.ari.asterisk.info()
        except Exception:
            return None
        status = info.status or {}
        return str(status.get("startup_time") or "") or None

    async def remember_pbx(self) -> None:
        """Note when Asterisk started, to recognise its restarts later."""
        self.pbx_startup = await self._pbx_startup()

    async def _adopt(self, channels: list[Any], unknown: frozenset[str]) -> None:
        self.last_adoption = await adopt.adopt(self, channels, unknown)

    async def _recording_live(self, name: str) -> bool:
        try:
            await self.pbx.ari.recordings.get_live(RecordingName(name))
        except Exception:
            return False
        return True

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ AMI events

    def on_ami(self, event: Any) -> None:
        """Dispatch one AMI event: phone registrations and device states of seats."""
        try:
            if isinstance(event, ami.ContactStatus):
                seat = self.seat_of_endpoint.get(event.aor) or self.seat_of_endpoint.get(
                    event.endpoint
                )
                if seat is None:
                    return
                if event.status in ("Reachable", "NonQualified", "Created"):
                    self._run_acd(acd.SeatReachability(acd.SeatId(seat), True))
                elif event.status in ("Removed", "Unreachable"):
                    self._run_acd(acd.SeatReachability(acd.SeatId(seat), False))
            elif isinstance(event, ami.DeviceStateChange):
                seat = self.seat_of_endpoint.get(event.device)
                if seat is not None:
                    state = acd.DeviceState.from_ami(event.state)
                    self._run_acd(acd.SeatDeviceState(acd.SeatId(seat), state))
            elif isinstance(event, ami.FullyBooted):
                # After every AMI login (and after an Asterisk restart) the
                # phones' registrations may have changed unseen: read them all.
                log.info("pbx_fully_booted")
                if self.ami is not None:
                    self._spawn(self.resync_devices())
        except Exception:
            self.errors += 1
            log.exception("engine_ami_event_error", ami_event=type(event).__name__)

    # ------------------------------------------------------------------ arrival and routing

    def _new_call(self, channel: Any, dialled: str) -> None:
        now = self.now_dt()
        call_id = CallId(f"c-{now:%Y%m%d}-{uuid.uuid4().hex[:10]}")
        caller = getattr(channel, "caller", None)
        call = Call(
            call_id=call_id,
            caller_channel=ChannelId(channel.id),
            caller_number=getattr(caller, "number", "") or "",
            caller_name=getattr(caller, "name", "") or "",
            dialled=dialled,
            arrived_at=now,
            config_version=self.config_version,
        )
        self.calls[call_id] = call
        self.call_configs[call_id] = self.config
        self.by_channel[call.caller_channel] = call_id
        structlog.contextvars.bind_contextvars(call_id=call_id)
        try:
            log.info("call_arrived", caller=call.caller_number, dialled=dialled)
        finally:
            structlog.contextvars.unbind_contextvars("call_id")
        self._write_call(call)
        self._timeline(call, "arrived", dialled=dialled)
        ch = call.caller_channel

        async def identify() -> None:
            # The call id lives on the channel so a restarted engine can adopt
            # the call (engine_ws_drop_and_return.jsonl).
            await self.pbx.set_var(ch, "HOTLINE_CALL_ID", call_id)
            diverted = await self.pbx.get_var(ch, "REDIRECTING(from-num)")
            self._route(call, diverted or "")

        self._io(call_id, identify)

    def _route(self, call: Call, diverted: str) -> None:
        if call.ended:
            return
        config = self.call_configs[call.call_id]
        number = call.dialled
        # A forwarded call: the original number arrives in the SIP Diversion
        # header, which ARI shows as REDIRECTING(from-num).
        if diverted and diverted != call.dialled and diverted in config.routed_numbers:
            number = diverted
        now = self.now_dt()
        decision = config.resolve(number, now)
        call.route = decision.route_id
        call.tags.update(decision.route.tags)
        if number != call.dialled or decision.kind == "merged":
            call.original_number = number
        if decision.line is not None:
            call.department = decision.line.department
            call.line_name = decision.line.name
            call.tags.setdefault("department", decision.line.department)
        route = decision.route
        call.priority = route.priority
        call.stamp("routed_at", now)
        if decision.kind == "unknown":
            log.warning("call_number_not_in_service", call_id=call.call_id, dialled=number)
        self._timeline(
            call,
            "routed",
            route=decision.route_id,
            route_kind=decision.kind,
            phase=decision.phase.value if decision.phase else None,
            closed=decision.closed,
            number=number,
        )
        steps: list[tuple[str, bool]] = []
        if route.announcement:
            steps.append((route.announcement, route.skippable))
        if route.notice:
            steps.append((route.notice, False))
        self.route_steps[call.call_id] = steps
        call.decision = decision
        ch = call.caller_channel
        self._io(call.call_id, lambda: self.pbx.answer(ch))
        if steps:
            call.move(P.ANNOUNCING, now)
            self._write_call(call)
        self._next_route_step(call)

    def _next_route_step(self, call: Call) -> None:
        steps = self.route_steps.get(call.call_id)
        if steps is None or call.ended:
            return
        if steps:
            prompt, skippable = steps.pop(0)
            call.playback_skippable = skippable
            self._play(call, [prompt], "route", prompt)
            return
        del self.route_steps[call.call_id]
        decision = call.decision
        route = decision.route
        if route.queue:
            self._enqueue(call, route.queue, route.priority)
        elif route.menu:
            self._start_menu(call, route.menu)
        else:
            if decision.kind == "unknown":
                call.outcome = "not_in_service"
            elif decision.kind == "merged":
                call.outcome = "withdrawn"
            else:
                call.outcome = "hangup"
            self._close(call, [], "normal")

    # ------------------------------------------------------------------ playback

    def _sound(self, call: Call, prompt: str) -> str:
        if ":" in prompt:  # already a media URI, e.g. number:3
            return prompt
        config = self.call_configs.get(call.call_id, self.config)
        return "sound:" + config.sound(prompt, call.language)

    def _play(self, call: Call, prompts: list[str], kind: str, ref: str) -> str:
        playback_id = f"{call.call_id}-p{next(self._seq)}"
        media = [self._sound(call, p) for p in prompts]
        self.playbacks[playback_id] = (call.call_id, kind, ref)
        call.playback = playback_id
        ch = call.caller_channel
        self._io(call.call_id, lambda: self._play_io(call, ch, media, playback_id))
        return playback_id

    async def _play_io(
        self, call: Call, channel: ChannelId, media: list[str], playback_id: str
    ) -> None:
        try:
            await self.pbx.play(channel, media, playback_id)
        except PbxError as exc:
            # The prompt could not be played: behave as if it had finished,
            # so a missing sound never leaves a caller in silence forever.
            log.warning("playback_failed", call_id=call.call_id, error=str(exc))
            self._ari_PlaybackFinished(_Finished(playback_id))

    def _moh_class(self, call: Call) -> str:
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(call.queue or "")
        return queue.music_on_hold if queue is not None else "default"

    # ------------------------------------------------------------------ IVR

    def _start_menu(self, call: Call, menu_id: str) -> None:
        config = self.call_configs[call.call_id]
        session = ivr.IvrSession(
            config.menus,
            config.calendar,
            menu=ivr.MenuId(menu_id),
            session_id=call.call_id,
        )
        self.ivr[call.call_id] = session
        call.move(P.MENU, self.now_dt())
        self._write_call(call)
        self._exec_ivr(call, session.start(self.now_dt()), "ivr")

    def _run_ivr(self, call_id: CallId, event: ivr.Event) -> None:
        session = self.ivr.get(call_id)
        call = self.calls.get(call_id)
        if session is None or call is None:
            return
        self._exec_ivr(call, session.handle(event, self.now_dt()), "ivr")
        self._persist(call)

    def _run_survey(self, call_id: CallId, event: ivr.Event) -> None:
        session = self.surveys.get(call_id)
        call = self.calls.get(call_id)
        if session is None or call is None:
            return
        self._exec_ivr(call, session.handle(event, self.now_dt()), "survey")

    def _exec_ivr(self, call: Call, commands: list[ivr.Command], kind: str) -> None:
        """Carry out IVR or survey commands, in order."""
        ch = call.caller_channel
        for command in commands:
            match command:
                case ivr.Play():
                    self._play(call, list(command.prompts), kind, command.playback_id)
                case ivr.StopPlayback():
                    for ari_id, (cid, k, ref) in list(self.playbacks.items()):
                        if cid == call.call_id and k == kind and ref == command.playback_id:
                            self.playbacks.pop(ari_id, None)
                            self._io(call.call_id, lambda a=ari_id: self.pbx.stop_playback(a))
                case ivr.StartTimer():
                    self.timers.start((kind, call.call_id, command.timer_id), command.seconds)
                case ivr.CancelTimer():
                    self.timers.cancel((kind, call.call_id, command.timer_id))
                case ivr.SetTag():
                    call.tags[command.tag] = "1"
                case ivr.SetVar():
                    call.variables[command.name] = command.value
                case ivr.SetLanguage():
                    call.language = command.language
                case ivr.EnterQueue():
                    self._leave_menu(call, command.path)
                    for tag in command.tags:
                        call.tags.setdefault(tag, "1")
                    self._enqueue(call, command.queue, command.priority)
                case ivr.RecordVoicemail():
                    self._leave_menu(call, command.path)
                    call.queue = command.queue
                    self._voicemail(call, command.max_seconds)
                case ivr.TransferToNumber():
                    self._leave_menu(call, command.path)
                    call.outcome = "transferred"
                    self._timeline(call, "transfer_number", number=command.number)
                    self._close(call, [], "normal")
                case ivr.Hangup():
                    if kind == "ivr":
                        call.outcome = call.outcome or "ivr_hangup"
                    self._close(call, [], "normal")
                case ivr.Rated():
                    self._rated(call, command.level, command.label)
                case ivr.NotRated():
                    self._not_rated(call, str(command.reason))
                case ivr.Finished():
                    self.ivr.pop(call.call_id, None)
                    self._leave_menu(call, command.path)
                    for tag in command.tags:
                        call.tags.setdefault(tag, "1")
                    call.variables.update(command.vars)
                case _:
                    log.warning("ivr_command_ignored", command=type(command).__name__)
        del ch

    def _leave_menu(self, call: Call, path: Any) -> None:
        if path:
            call.menu_path = [step.as_dict() for step in path]
        if call.phase is P.MENU:
            call.stamp("menu_exited_at", self.now_dt())

    # ------------------------------------------------------------------ queueing (ACD)

    def _enqueue(self, call: Call, queue: str, priority: int | None) -> None:
        now = self.now_dt()
        call.queue = queue
        call.move(P.QUEUED, now)
        self._write_call(call)
        self._timeline(call, "queued", queue=queue)
        ch = call.caller_channel
        moh = self._moh_class(call)
        self._io(call.call_id, lambda: self.pbx.start_moh(ch, moh))
        tags = frozenset(k for k, v in call.tags.items() if v == "1")
        self._run_acd(
            acd.CallerArrived(
                acd.CallId(call.call_id),
                acd.QueueId(queue),
                caller_number=call.caller_number,
                tags=tags,
                priority=priority if priority else None,
            )
        )

    def _run_acd(self, event: Any) -> list[Any]:
        commands = self.acd.handle(event, self.now())
        self._exec_acd(commands)
        return commands

    def _exec_acd(self, commands: list[Any]) -> None:
        for command in commands:
            try:
                self._exec_acd_one(command)
            except Exception:
                self.errors += 1
                log.exception("acd_command_error", command=type(command).__name__)

    def _exec_acd_one(self, command: Any) -> None:
        match command:
            case acd.OfferCall():
                self._offer(command)
            case acd.CancelOffer():
                call = self.calls.get(CallId(command.call_id))
                for offer in call.offers if call else []:
                    if offer.agent == command.agent and offer.outcome in ("ringing", "answered"):
                        assert call is not None
                        outcome = "no_answer" if self._rang_out(call, offer) else "cancelled"
                        self._finish_offer(call, offer, outcome)
                        leg = offer.channel
                        self._io(self._leg_lane(call), lambda leg=leg: self.pbx.hangup(leg))
            case acd.ConnectCall():
                self._connect(command)
            case acd.Announce():
                self._announce(command)
            case acd.Overflow():
                self._overflow(command)
            case acd.AddToCallbackList():
                self._callback(command)
            case acd.CallerLeft():
                call = self.calls.get(CallId(command.call_id))
                if call is not None and command.reason is acd.LeaveReason.ABANDONED:
                    call.outcome = "abandoned"
            case acd.AgentStateChanged():
                self.agent_states[command.agent] = command
                if command.seat is not None:
                    self.agent_seat[command.agent] = command.seat
                self.writer.submit(
                    "agent_state",
                    {
                        "agent": command.agent,
                        "at": self.now_dt(),
                        "status": command.status.value,
                        "state": command.state.value,
                        "reason": command.reason or None,
                    },
                )
                for listener in self.agent_listeners:
                    listener(command)
            case acd.StartTimer():
                self.timers.start(("acd", command.key, command.at), command.at - self.now())
            case acd.CancelTimer():
                for key in [
                    k for k in self.timers._handles if k[0] == "acd" and k[1] == command.key
                ]:  # type: ignore[index]
                    self.timers.cancel(key)
            case acd.RequestRefused():
                log.info("agent_request_refused", agent=command.agent, reason=command.reason)
            case _:
                log.warning("acd_command_ignored", command=type(command).__name__)

    # -- offers

    def _offer(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None or call.ended:
            return
        seat = self.seats.get(command.seat)
        if seat is None:
            self._run_acd(
                acd.OfferRejected(command.call_id, command.agent, acd.RejectReason.DECLINED)
            )
            return
        leg = ChannelId(f"{call.call_id}-a{len(call.offers) + 1}")
        now = self.now_dt()
        offer = Offer(agent=command.agent, seat=command.seat, channel=leg, at=now)
        call.offers.append(offer)
        call.stamp("first_offered_at", now)
        self.by_channel[leg] = call.call_id
        self.leg_agent[leg] = command.agent
        self._timeline(call, "offered", agent=command.agent, seat=command.seat)
        caller_id = (
            f'"{call.caller_name}" <{call.caller_number}>'
            if call.caller_name
            else call.caller_number
        )
        timeout = int(command.ring_timeout_s) + 5  # the ACD runs the exact deadline itself
        endpoint = seat.endpoint
        app_args = f"agent,{call.call_id},{command.agent}"

        async def originate() -> None:
            try:
                await self.pbx.originate(
                    endpoint,
                    app_args=app_args,
                    caller_id=caller_id,
                    timeout=timeout,
                    channel_id=leg,
                    variables={"HOTLINE_CALL_ID": call.call_id, "HOTLINE_AGENT": command.agent},
                )
            except PbxError as exc:
                log.warning(
                    "agent_originate_failed",
                    call_id=call.call_id,
                    agent=command.agent,
                    error=str(exc),
                )
                if offer.outcome == "ringing":
                    self._offer_failed(call, offer, "failed")

        # Agent legs have a lane of their own: the originate must not wait
        # behind the caller's requests (variables, answer, music on hold).
        self._io(self._leg_lane(call), originate)

    @staticmethod
    def _leg_lane(call: Call) -> CallId:
        """The lane of a call's agent-leg requests (originate, cancel), in order."""
        return CallId(f"{call.call_id}/legs")

    def _rang_out(self, call: Call, offer: Offer) -> bool:
        """Whether the ACD cancels this offer because it rang its full time (RONA)."""
        if offer.outcome != "ringing":
            return False
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(call.queue or "")
        if queue is None:
            return False
        return (self.now_dt() - offer.at).total_seconds() >= queue.ring_timeout - 0.5

    @staticmethod
    def _offer_of(call: Call | None, leg: ChannelId) -> Offer | None:
        if call is None:
            return None
        for offer in call.offers:
            if offer.channel == leg:
                return offer
        return None

    def _finish_offer(self, call: Call, offer: Offer, outcome: str) -> None:
        offer.outcome = outcome
        offer.ended_at = self.now_dt()
        self._timeline(call, "offer_" + outcome, agent=offer.agent, seat=offer.seat)

    def _offer_failed(self, call: Call, offer: Offer, outcome: str) -> None:
        self._finish_offer(call, offer, outcome)
        if outcome == "no_answer":
            self._run_acd(acd.OfferTimedOut(acd.CallId(call.call_id), acd.AgentId(offer.agent)))
        else:
            reason = acd.RejectReason.BUSY if outcome == "busy" else acd.RejectReason.DECLINED
            self._run_acd(
                acd.OfferRejected(acd.CallId(call.call_id), acd.AgentId(offer.agent), reason)
            )

    def _agent_answered(self, leg: ChannelId, call_id: CallId, agent: str) -> None:
        call = self.calls.get(call_id)
        offer = self._offer_of(call, leg)
        if call is None or offer is None or offer.outcome != "ringing" or call.ended:
            # A leg that answered too late (the caller left, or the offer was
            # cancelled): hang it up so no agent sits on a dead line.
            self._io(call_id, lambda: self.pbx.hangup(leg))
            if call is not None and offer is not None and offer.outcome == "ringing":
                self._finish_offer(call, offer, "cancelled")
            return
        offer.outcome = "answered"
        self._run_acd(acd.OfferAnswered(acd.CallId(call_id), acd.AgentId(agent)))

    def _connect(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None or call.ended:
            return
        offer = next(
            (
                o
                for o in reversed(call.offers)
                if o.agent == command.agent and o.outcome == "answered"
            ),
            None,
        )
        if offer is None:
            return
        now = self.now_dt()
        call.agent = command.agent
        call.agent_channel = offer.channel
        if call.first_agent is None:
            call.first_agent = command.agent  # 首接负责: the first agent answers for the call
        call.move(P.CONNECTED, now)
        segment = sum(1 for leg in call.legs if leg.get("kind") == "recording") + 1
        call.recording_name = f"{call.call_id}-{segment}"
        call.legs.append({"kind": "recording", "name": call.recording_name, "at": now.isoformat()})
        self._write_call(call)
        self._timeline(call, "answered", agent=command.agent, seat=offer.seat)
        self._run_acd(acd.CallConnected(acd.CallId(call.call_id), acd.AgentId(command.agent)))
        call.held = call.muted = False
        self.transfers.connected(call)
        caller, leg, name = call.caller_channel, offer.channel, call.recording_name
        announcement = call.playback
        if announcement is not None:
            # A position announcement must not run on into the conversation.
            call.playback = None
            self.playbacks.pop(announcement, None)
            self._io(call.call_id, lambda: self.pbx.stop_playback(announcement))

        async def bridge() -> None:
            # holding_bridge_then_agent.jsonl / inbound_answer_bridge_record.jsonl:
            # stop MOH, a mixing bridge with both legs, then record the bridge.
            await self.pbx.stop_moh(caller)
            bridge_id = await self.pbx.create_bridge(BridgeId(f"br-{call.call_id}"), call.call_id)
            call.bridge_id = bridge_id
            await self.pbx.add_to_bridge(bridge_id, [caller, leg])
            agents = [command.agent]
            try:
                await self.pbx.record_bridge(bridge_id, name)
                self._timeline(call, "recording_started", name=name)
                if self.recordings is not None:
                    await self.recordings.recording_started(
                        call.call_id, name, segment=segment, agents=agents
                    )
            except PbxError as exc:
                # record_dir_missing_500.jsonl: the call goes on unrecorded,
                # and the failure is reported on the call and alarmed.
                log.error("recording_start_failed", call_id=call.call_id, error=str(exc))
                self._timeline(call, "recording_failed", name=name, error=str(exc))
                if self.recordings is not None:
                    await self.recordings.record_request_failed(
                        call.call_id,
                        name,
                        status=getattr(exc, "status", 0),
                        message=str(exc),
                        segment=segment,
                        agents=agents,
                    )

        self._io(call.call_id, bridge)

    def _announce(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None or call.phase is not P.QUEUED or call.ringing_offer is not None:
            return
        if call.playback is not None:
            return  # the previous announcement is still playing
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(command.queue)
        announce = queue.announce if queue is not None else None
        if announce is None:
            return
        prompts: list[str] = []
        if announce.position_prompt:
            prompts += [announce.position_prompt, f"number:{command.position}"]
        if announce.wait_prompt and command.expected_wait_s is not None:
            minutes = max(1, round(command.expected_wait_s / 60))
            prompts += [announce.wait_prompt, f"number:{minutes}"]
        if not prompts:
            return
        ch = call.caller_channel
        self._io(call.call_id, lambda: self.pbx.stop_moh(ch))
        self._play(call, prompts, "announce", "position")

    def _overflow(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None:
            return
        self._timeline(
            call,
            "overflow",
            action=command.action.value,
            target=command.target,
            reason=command.reason.value,
        )
        if command.action is acd.OverflowAction.QUEUE:
            call.queue = command.target
            self._write_call(call)
        elif command.action is acd.OverflowAction.VOICEMAIL:
            self._voicemail(call, 120)
        elif command.action is acd.OverflowAction.PROMPT_HANGUP:
            call.outcome = "overflowed"
            self._close(call, [command.target] if command.target else [], "normal")

    def _callback(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None:
            return
        call.outcome = "callback"
        self.callbacks_open += 1
        self.writer.submit(
            "callback",
            {
                "call_id": call.call_id,
                "caller_number": command.caller_number,
                "queue": command.queue,
                "at": self.now_dt(),
                "note": f"waited {command.waited_s:.0f}s",
            },
        )
        self._timeline(call, "callback_listed", queue=command.queue)
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(command.queue)
        prompt = getattr(getattr(queue, "overflow", None), "prompt", None)
        self._close(call, [prompt] if prompt else [], "normal")

    def _voicemail(self, call: Call, max_seconds: int) -> None:
        call.outcome = "voicemail"
        call.move(P.VOICEMAIL, self.now_dt())
        self._write_call(call)
        name = f"vm-{call.call_id}"
        call.recording_name = name
        ch = call.caller_channel
        self._timeline(call, "voicemail", name=name, max_seconds=max_seconds)

        async def record() -> None:
            await self.pbx.stop_moh(ch)
            await self.pbx.record_channel(ch, name, max_seconds)

        self._io(call.call_id, record)
        self.timers.start(("hangup", call.call_id), max_seconds + 1)

    # ------------------------------------------------------------------ the end of a call

    def _channel_gone(self, channel: ChannelId, cause: int | None) -> None:
        call_id = self.by_channel.get(channel)
        if call_id is None:
            return
        call = self.calls.get(call_id)
        if call is None:
            self.by_channel.pop(channel, None)
            return
        if self.transfers.channel_gone(call, channel, cause) or self.monitors.channel_gone(
            call, channel
        ):
            return
        if channel == call.caller_channel:
            self.by_channel.pop(channel, None)
            self._caller_gone(call)
            return
        offer = self._offer_of(call, channel)
        self.by_channel.pop(channel, None)
        self.leg_agent.pop(channel, None)
        if offer is None:
            return
        if offer.outcome == "ringing":
            # No Dial verdict seen: read it from the hang-up cause
            # (17 user busy, 19/18 no answer, anything else a failure).
            outcome = {17: "busy", 18: "no_answer", 19: "no_answer"}.get(cause or 0, "failed")
            self._offer_failed(call, offer, outcome)
        elif offer.outcome == "answered" and call.agent_channel != channel:
            self._offer_failed(call, offer, "failed")
        elif call.agent_channel == channel and call.phase is P.CONNECTED:
            self._agent_left(call)

    def _agent_left(self, call: Call) -> None:
        """The agent hung up first: the caller goes to the satisfaction survey."""
        now = self.now_dt()
        call.hangup_by = call.hangup_by or "agent"
        offer = next((o for o in call.offers if o.channel == call.agent_channel), None)
        if offer is not None:
            offer.ended_at = now
        self._timeline(call, "agent_hangup", agent=call.agent)
        self._run_acd(acd.CallEnded(acd.CallId(call.call_id)))
        call.agent_channel = None
        call.muted = False
        self.monitors.agent_left(call)
        self._start_survey(call)

    def _start_survey(self, call: Call) -> None:
        """The caller's conversation is over: the satisfaction survey (满意度评价)."""
        now = self.now_dt()
        bridge, caller = call.bridge_id, call.caller_channel
        if call.held:
            call.held = False  # the caller was on hold when the agent left
            self._io(call.call_id, lambda: self.pbx.stop_moh(caller))
        if bridge is not None:
            call.bridge_id = None
            self._io(call.call_id, lambda: self.pbx.destroy_bridge(bridge))
        config = self.call_configs.get(call.call_id, self.config)
        call.move(P.SURVEY, now)
        self._write_call(call)
        session = ivr.SurveySession(config.survey, session_id=call.call_id, language=call.language)
        self.surveys[call.call_id] = session
        # A guard against a survey that never ends (a lost event): hang up
        # once every prompt and timeout of the survey must have passed.
        survey = config.survey
        budget = (survey.timeout + 15.0) * (survey.max_attempts + 1)
        self.timers.start(("hangup", call.call_id), budget)
        self._exec_ivr(call, session.start(now), "survey")

    def _caller_gone(self, call: Call) -> None:
        if call.ended:
            return
        phase = call.phase
        call.hangup_by = call.hangup_by or "caller"
        self._timeline(call, "caller_hangup", phase=phase.value)
        if phase is P.MENU:
            self._run_ivr(call.call_id, ivr.CallerHangup())
            call.outcome = call.outcome or "ivr_abandoned"
        elif phase is P.QUEUED:
            self._run_acd(acd.CallerHungUp(acd.CallId(call.call_id)))
            call.outcome = call.outcome or "abandoned"
        elif phase is P.CONNECTED:
            self._run_acd(acd.CallEnded(acd.CallId(call.call_id)))
            self._not_rated(call, "caller_hung_up")
            leg, bridge = call.agent_channel, call.bridge_id
            if leg is not None:
                self._io(call.call_id, lambda: self.pbx.hangup(leg))
            if bridge is not None:
                self._io(call.call_id, lambda: self.pbx.destroy_bridge(bridge))
        elif phase in (P.TRANSFERRING, P.HANDED_OFF):
            self._not_rated(call, "caller_hung_up")
            bridge = call.bridge_id
            if bridge is not None:
                self._io(call.call_id, lambda: self.pbx.destroy_bridge(bridge))
        elif phase is P.SURVEY:
            self._run_survey(call.call_id, ivr.CallerHangup())
            if call.rating_label is None:
                self._not_rated(call, "caller_hung_up")
        elif phase in (P.ARRIVED, P.ANNOUNCING):
            call.outcome = call.outcome or "ivr_abandoned"
        self._finalize(call)

    def _rated(self, call: Call, level: int, label: str) -> None:
        self.ratings_today[level] = self.ratings_today.get(level, 0) + 1
        call.rating = level
        call.rating_label = label
        call.stamp("rated_at", self.now_dt())
        self._timeline(call, "rated", level=level, label=label)

    def _not_rated(self, call: Call, reason: str) -> None:
        if call.rating_label is None:
            self.ratings_today[None] = self.ratings_today.get(None, 0) + 1
            call.rating = None
            call.rating_label = "not_rated"
            self._timeline(call, "not_rated", reason=reason)

    def _close(self, call: Call, prompts: list[str], reason: str) -> None:
        """A last prompt (if any), then hang up the caller."""
        if call.ended or call.phase is P.CLOSING:
            return
        call.move(P.CLOSING, self.now_dt())
        if prompts:
            ch = call.caller_channel
            self._io(call.call_id, lambda: self.pbx.stop_moh(ch))
            self._play(call, prompts, "closing", "closing")
            self.timers.start(("hangup", call.call_id), 60.0)
        else:
            self._hangup_caller(call, reason)

    def _hangup_caller(self, call: Call, reason: str) -> None:
        if call.ended:
            return
        call.hangup_by = call.hangup_by or "engine"
        ch = call.caller_channel

        async def hangup() -> None:
            if not await self.pbx.hangup(ch, reason):
                # Already gone, and its StasisEnd never reached us (a socket
                # cut): end the call here rather than keep a ghost.
                self._channel_gone(ch, cause=None)

        self._io(call.call_id, hangup)

    def _finalize(self, call: Call) -> None:
        # Legs still open end with the call, before the ticket is written.
        self.transfers.call_ended(call)
        self.monitors.call_ended(call)
        now = self.now_dt()
        if call.phase is not P.ENDED:
            call.phase = P.ENDED
            call.stamp("ended_at", now)
        if call.outcome is None:
            call.outcome = "answered" if call.stamps.get("answered_at") else "ended"
        if call.stamps.get("answered_at") and call.outcome in ("abandoned", "ended", "ivr_hangup"):
            call.outcome = "answered"
        for name in [
            k
            for k in self.timers._handles
            if isinstance(k, tuple) and len(k) > 1 and k[1] == call.call_id
        ]:
            self.timers.cancel(name)
        self.ivr.pop(call.call_id, None)
        self.surveys.pop(call.call_id, None)
        self.route_steps.pop(call.call_id, None)
        for pid in [p for p, (cid, _, _) in self.playbacks.items() if cid == call.call_id]:
            self.playbacks.pop(pid, None)
        self._timeline(call, "ended", outcome=call.outcome, hangup_by=call.hangup_by)
        record = call.record()
        rating = None
        if call.rating_label is not None and call.stamps.get("answered_at"):
            rating = {
                "call_id": call.call_id,
                "level": call.rating,
                "label": call.rating_label,
                "at": call.stamps.get("rated_at", now),
            }
        ticket = (
            self.ticket_for(call) if call.outcome in ("answered", "voicemail", "callback") else None
        )
        self.writer.submit("call_final", {"call": record, "rating": rating, "ticket": ticket})
        self.calls.pop(call.call_id, None)
        self.call_configs.pop(call.call_id, None)
        self.recent_ended[call.call_id] = call
        while len(self.recent_ended) > 1000:
            self.recent_ended.pop(next(iter(self.recent_ended)))
        structlog.contextvars.bind_contextvars(call_id=call.call_id)
        try:
            log.info(
                "call_ended",
                outcome=call.outcome,
                hangup_by=call.hangup_by,
                caller=call.caller_number,
            )
        finally:
            structlog.contextvars.unbind_contextvars("call_id")
        for listener in self.ended_listeners:
            listener(call)

    def ticket_for(self, call: Call) -> dict[str, Any]:
        """The ticket (工单) handed to the work-order backend for a finished call."""
        return {
            "call_id": call.call_id,
            "kind": {"voicemail": "voicemail", "callback": "callback"}.get(
                call.outcome or "", "call"
            ),
            "caller_number": call.caller_number,
            "caller_name": call.caller_name,
            "dialled": call.dialled,
            "original_number": call.original_number,
            "department": call.department,
            "line_name": call.line_name,
            "menu_path": call.menu_path,
            "tags": call.tags,
            "queue": call.queue,
            "first_agent": call.first_agent,
            "agents": sorted({o.agent for o in call.offers if o.outcome in ("answered",)}),
            "arrived_at": call.arrived_at.isoformat(),
            "answered_at": _iso(call.stamps.get("answered_at")),
            "ended_at": _iso(call.stamps.get("ended_at")),
            "rating": call.rating,
            "rating_label": call.rating_label,
            "recording": call.recording_name,
            "legs": [leg for leg in call.legs if leg.get("kind") != "recording"],
        }

    # ------------------------------------------------------------------ agents (API)

    # ------------------------------------------------------------------ adoption (cti.engine.adopt)

    def restore_agent(self, agent: str, seat: str, status: str, reason: str) -> None:
        """An agent who was logged in before a restart: back at the seat, same status."""
        self._run_acd(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(seat)))
        if status == "paused" and reason:
            self._run_acd(acd.AgentPause(acd.AgentId(agent), reason))

    def adopt_acd(self, event: acd.CallAdopted) -> None:
        self._run_acd(event)

    def timeline(self, call: Call, kind: str, **detail: Any) -> None:
        self._timeline(call, kind, **detail)

    def io(self, call_id: CallId, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._io(call_id, work)

    def start_survey(self, call: Call) -> None:
        self._start_survey(call)

    def hang_up_caller(self, call: Call) -> None:
        self._hangup_caller(call, "normal")

    def requeue(self, call: Call, queue: str, waited_s: float) -> None:
        """A caller adopted while waiting re-enters its queue with its waiting time."""
        self._persist(call)
        self._run_acd(
            acd.CallerArrived(
                acd.CallId(call.call_id),
                acd.QueueId(queue),
                caller_number=call.caller_number,
                waited_so_far_s=max(0.0, waited_s),
                priority=call.priority or None,
            )
        )

    def resume_menu(self, call: Call, commands: list[ivr.Command]) -> None:
        self._exec_ivr(call, commands, "ivr")
        self._persist(call)

    def reroute(self, call: Call) -> None:
        """Take the route again from its start (adopted before its prompts ended)."""
        ch = call.caller_channel

        async def identify() -> None:
            diverted = await self.pbx.get_var(ch, "REDIRECTING(from-num)")
            self._route(call, diverted or "")

        self._io(call.call_id, identify)

    def agent_request(self, event: Any) -> acd.RequestRefused | None:
        """Run an agent's request through the ACD; the refusal, if any."""
        commands = self._run_acd(event)
        for command in commands:
            if isinstance(command, acd.RequestRefused):
                return command
        if isinstance(event, acd.AgentLogin):
            self.writer.submit(
                "agent_session",
                {"event": "login", "agent": event.agent, "seat": event.seat, "at": self.now_dt()},
            )
        elif isinstance(event, acd.AgentLogout):
            self.writer.submit(
                "agent_session",
                {"event": "logout", "agent": event.agent, "at": self.now_dt(), "reason": "logout"},
            )
        return None

    def current_call_of(self, agent: str) -> Call | None:
        for call in self.calls.values():
            if call.agent == agent and call.phase is P.CONNECTED:
                return call
            offer = call.ringing_offer
            if offer is not None and offer.agent == agent:
                return call
        return None

    def masked(self, number: str) -> str:
        return mask_number(number)


class _Finished:
    """A stand-in for a PlaybackFinished event of a playback that never started."""

    type = "PlaybackFinished"

    def __init__(self, playback_id: str) -> None:
        self.playback = type("P", (), {"id": playback_id})()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
