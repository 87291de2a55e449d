"""Softswitch events into the engine: ARI events, reconnects and reconciliation, AMI seat state.

Each ``on_*`` entry point decides synchronously and starts I/O only through
the call lanes (see :mod:`cti.engine.core`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

import acd
import ivr
from cti import ami
from cti.ari import GenericEvent, Known, Reconciled
from cti.engine import adopt
from cti.engine.call import CallPhase
from cti.ids import CallId, ChannelId

log = structlog.get_logger("cti.engine")

P = CallPhase


class EventsMixin:
    """ARI and AMI events, reconciliation after a reconnect, seat device state."""

    # ------------------------------------------------------------------ ARI events

    def known(self) -> Known:
        """The channels and bridges this engine holds state for (reconciliation)."""
        bridges = {call.bridge_id for call in self.calls.values() if call.bridge_id}
        bridges |= self.monitors.bridges()
        channels = frozenset(self.by_channel) | self.arrivals.channels()
        return Known(channels=channels, bridges=frozenset(bridges))

    def on_ari(self, event: Any) -> None:
        """Dispatch one typed ARI event (``cti.ari.events``) or reconciliation report.

        A new call's ``StasisStart`` is only noted (:mod:`cti.engine.arrivals`):
        the events of calls in progress read behind a burst of arrivals are
        decided before the arrivals are."""
        if isinstance(event, Reconciled):
            self.arrivals.admit_all()
            self._reconciled(event)
            return
        if isinstance(event, GenericEvent):
            return  # unknown, or a known type that failed its model: logged by the parser
        if self.arrivals.hold(event):
            return
        if event.type == "StasisStart" and _role(event) == "inbound":
            self.arrivals.arrive(event)
            return
        self._decide(event)

    def _decide(self, event: Any) -> None:
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
        role = _role(event)
        channel = event.channel
        if role == "inbound":
            dialled = args[1] if len(args) > 1 else channel.dialplan.exten
            # The dialplan passes the redirecting number as the third argument
            # (``Stasis(hotline,inbound,${EXTEN},${REDIRECTING(from-num)})``), so
            # the route is decided from this event alone; an older dialplan
            # without it makes the engine ask for the variable.
            diverted = _diverted(args, channel)
            self._new_call(channel, dialled, diverted)
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
            self._spawn(self.recordings.resume_in_progress())

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


def _role(event: Any) -> str:
    """What a ``StasisStart`` is for: its first application argument (``inbound`` if none)."""
    args = event.args or []
    return str(args[0]) if args else "inbound"


def _diverted(args: list[str], channel: Any) -> str | None:
    """The number the call was forwarded from, if the event says; None when it cannot.

    Read from the Stasis arguments, or from ``channelvars`` when ari.conf lists
    ``REDIRECTING(from-num)`` (``channelvars_and_stasis_args.jsonl``).
    """
    if len(args) > 2:
        return str(args[2])
    channelvars = getattr(channel, "channelvars", None) or {}
    if "REDIRECTING(from-num)" in channelvars:
        return str(channelvars["REDIRECTING(from-num)"] or "")
    return None
