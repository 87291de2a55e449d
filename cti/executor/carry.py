"""The executor: the switchboard's commands carried out, their results fed back.

Theory of operation
-------------------
:class:`Executor` holds one :class:`switchboard.Switchboard` and decides
nothing.  Everything that happens (an ARI event, a timer, an API request, the
result of one of its own requests) becomes a :mod:`switchboard.events` event
and goes through :meth:`Executor.feed`; the commands that come back are
carried out in their order by one ``match`` (:meth:`Executor.carry`):

- requests to the softswitch run in the call's ordered lane
  (:mod:`cti.executor.lanes`); agent, consultee and supervisor legs in the
  call's leg lane, so an originate never waits behind the caller's requests;
- a result a decision needs comes back as an event: a refused originate
  (``OriginateFailed``), a hang-up of a channel already gone or a snoop that
  could not be made (``ChannelLeft``), a prompt that could not play
  (``PlaybackFinished``), a refused recording (``RecordingFailed``), the
  redirecting number read (``RedirectingRead``);
- timers are the loop's (:class:`~cti.engine.timers.Timers`), answered with
  ``TimerFired(key, at)``;
- facts go to the writer (:mod:`cti.executor.rows`) and to the listeners
  (the wallboard, the toolbar).

The executor keeps only what the softswitch needs that the switchboard does
not say: the lane of each originated leg, the bridge id Asterisk gave (a
bridge id may be taken), the recording running on a bridge (stopped before
the bridge goes, so that its ``RecordingFinished`` arrives), and the legs
placed with ``DialOut`` whose dial has no verdict yet
(:class:`~cti.executor.translate.DialOuts`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Hashable
from datetime import UTC, datetime
from typing import Any, cast

import structlog

from cti.engine.gate import PriorityGate
from cti.engine.pbx import Pbx, PbxError
from cti.engine.timers import Timers
from cti.executor import dialler, rows
from cti.executor.lanes import CANCELLED, Lanes
from cti.executor.ports import Listeners, Recordings, Sound, Writer
from cti.executor.translate import DialOuts
from switchboard import Switchboard
from switchboard import commands as c
from switchboard import events as ev
from switchboard.ids import BridgeId, CallId, ChannelId, RecordingName
from switchboard.timers import TimerKey

log = structlog.get_logger("cti.executor")

REDIRECTING = "REDIRECTING(from-num)"
# How long a created channel may take to enter the application before it is dialled.
CREATE_ENTRY_S = 10.0


def caller_id_variables(caller_id: str) -> dict[str, str]:
    """``"name" <number>`` (or a bare number) as the variables a created channel presents.

    ``POST /channels/create`` and ``/dial`` take no caller id.  Asterisk's
    PJSIP builds the ``From`` and ``P-Asserted-Identity`` of the INVITE from
    the channel's *connected line*, which a dial without a calling channel
    leaves empty (the far end then sees ``"Anonymous"
    <sip:anonymous@anonymous.invalid>``): so the number is set as the
    connected line (``CONNECTEDLINE(...,i)``: set without a protocol message
    of its own) and as ``CALLERID`` (what the channel's events and records
    show).
    """
    text = caller_id.strip()
    name, number = "", text
    if text.endswith(">") and "<" in text:
        head, _, tail = text.rpartition("<")
        name, number = head.strip().strip('"').strip(), tail[:-1].strip()
    out: dict[str, str] = {}
    if number:
        out["CALLERID(num)"] = number
        out["CONNECTEDLINE(num,i)"] = number
    if name:
        out["CALLERID(name)"] = name
        out["CONNECTEDLINE(name,i)"] = name
    return out


class Executor:
    """Carries out one switchboard's commands over ARI and the writer."""

    def __init__(
        self,
        board: Switchboard,
        pbx: Pbx,
        writer: Writer,
        sound: Sound,
        *,
        gate: PriorityGate | None = None,
        clock: Callable[[], float] = time.time,
        recordings: Recordings | None = None,
    ) -> None:
        self.board = board
        self.pbx = pbx
        self.writer = writer
        self.sound = sound
        self.clock = clock
        self.gate = gate or PriorityGate(32)
        self.lanes = Lanes(self.gate, self._rank)
        self.timers = Timers(self._fire)
        self.listeners = Listeners()
        self.recordings = recordings
        self._background: set[asyncio.Task[object]] = set()
        self._armed: dict[TimerKey, float] = {}
        self._leg_lane: dict[ChannelId, str] = {}
        self._bridge_ids: dict[BridgeId, BridgeId] = {}
        self._bridge_recording: dict[BridgeId, RecordingName] = {}
        # Several Asterisk nodes: the Pbx of the node a command is about
        # (cti.executor.nodes); None with one node, always self.pbx.
        self.route: Callable[[c.Command], Pbx] | None = None
        self.dial_outs = DialOuts()

    def __repr__(self) -> str:
        return f"<Executor {self.board!r} {self.lanes!r} {self.timers!r}>"

    # ------------------------------------------------------------ events in

    def new_call_id(self) -> CallId:
        now = datetime.fromtimestamp(self.clock(), UTC)
        return CallId(f"c-{now:%Y%m%d}-{uuid.uuid4().hex[:10]}")

    def feed(self, event: ev.Event) -> list[c.Command]:
        """Hand ``event`` to the switchboard now and carry out what it decides."""
        commands = self.board.handle(event, self.clock())
        if isinstance(event, ev.ChannelLeft):
            self._leg_lane.pop(event.channel, None)
        elif isinstance(event, ev.LegDialed | ev.OriginateFailed):
            # A created leg timed out says no StasisEnd the switchboard sees: done here.
            self._leg_lane.pop(event.leg, None)
        for command in commands:
            try:
                self.carry(command)
            except Exception:
                self.lanes.errors += 1
                log.exception("executor_command_error", command=type(command).__name__)
        return commands

    def spawn(self, work: Coroutine[Any, Any, object]) -> None:
        """Run ``work`` beside the lanes (the recordings service, reconciliation)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def armed(self) -> dict[TimerKey, float]:
        """The timers running, with the time each is due."""
        return dict(self._armed)

    def report(self, event: ev.Event) -> None:
        """A result of the executor's own request, fed back as an event."""
        self.feed(event)

    def _fire(self, key: Hashable) -> None:
        timer = cast(TimerKey, key)  # every key the executor starts is a TimerKey
        at = self._armed.pop(timer, None)
        if at is not None:
            self.feed(ev.TimerFired(timer, at))

    # ------------------------------------------------------------ lanes

    def _rank(self, lane: str) -> float:
        """A lane's place at the gate: its call's arrival (now, for one unknown)."""
        call = self.board.call(CallId(lane.split("/", 1)[0]))
        return call.facts.arrived_at if call is not None else self.clock()

    def _legs(self, call_id: CallId) -> str:
        return f"{call_id}/legs"

    def _lane_of(self, call_id: CallId, channel: ChannelId) -> str:
        return self._leg_lane.get(channel, call_id)

    def bridge_id(self, bridge: BridgeId) -> BridgeId:
        """The id Asterisk gave the switchboard's ``bridge`` (another when it was taken)."""
        return self._bridge_ids.get(bridge, bridge)

    async def drain(self, timeout: float = 5.0) -> None:
        await self.lanes.drain(timeout)

    def shutdown(self) -> None:
        self.timers.cancel_all()
        self._armed.clear()
        self.lanes.cancel()
        for task in list(self._background):
            task.cancel()

    # ------------------------------------------------------------ commands out

    def carry(self, command: c.Command) -> None:
        """Carry out one command (see the module docstring)."""
        pbx = self.pbx if self.route is None else self.route(command)
        ari = pbx.ari
        run = self.lanes.run
        match command:
            case c.Answer():
                run(command.call_id, lambda: pbx.answer(command.channel))
            case c.SetChannelVar():
                name, value = command.name, command.value
                run(command.call_id, lambda: pbx.set_var(command.channel, name, value))
            case c.ReadRedirecting():
                run(command.call_id, lambda: self._read_redirecting(pbx, command.channel))
            case c.Play():
                media = [self._media(m, command.language) for m in command.media]
                run(
                    command.call_id,
                    lambda: pbx.play(command.channel, media, command.playback),
                    lambda _: self.report(ev.PlaybackFinished(command.playback)),
                )
            case c.StopPlayback():
                run(command.call_id, lambda: pbx.stop_playback(command.playback))
            case c.StartMoh():
                run(command.call_id, lambda: pbx.start_moh(command.channel, command.moh_class))
            case c.StopMoh():
                run(command.call_id, lambda: pbx.stop_moh(command.channel))
            case c.RecordChannel():
                run(
                    command.call_id,
                    lambda: pbx.record_channel(command.channel, command.name, command.max_s),
                    lambda why: self.report(ev.RecordingFailed(command.name, why)),
                )
            case c.HangUp():
                self._hang_up_in_lane(pbx, command)
            case c.OriginateAgent() | c.OriginateConsultee() | c.OriginateSupervisor():
                self._originate(pbx, command)
            case c.DialOut():
                self._dial_out(pbx, command)
            case c.CreateBridge():
                run(command.call_id, lambda: self._create_bridge(pbx, command))
            case c.AddToBridge():
                channels = list(command.channels)
                run(
                    command.call_id,
                    lambda: pbx.add_to_bridge(self.bridge_id(command.bridge), channels),
                )
            case c.RemoveFromBridge():
                run(
                    command.call_id,
                    lambda: pbx.remove_from_bridge(self.bridge_id(command.bridge), command.channel),
                )
            case c.DestroyBridge():
                run(
                    command.call_id,
                    lambda: self._destroy_bridge(pbx, command.bridge),
                    lambda why: self._again(why, command),
                )
            case c.RecordBridge():
                self._bridge_recording[command.bridge] = command.name
                run(
                    command.call_id,
                    lambda: self._record_bridge(pbx, command),
                    lambda why: self.report(ev.RecordingFailed(command.name, why)),
                )
            case c.SendDigits():
                run(
                    command.call_id, lambda: ari.channels.send_dtmf(command.channel, command.digits)
                )
            case c.CreateSnoop():
                self._snoop(pbx, command)
            case c.MuteChannel():
                request = ari.channels.mute if command.on else ari.channels.unmute
                run(command.call_id, lambda: request(command.channel, direction="in"))
            case c.StartTimer():
                self._armed[command.key] = command.at
                self.timers.start(command.key, command.at - self.clock())
            case c.CancelTimer():
                self._armed.pop(command.key, None)
                self.timers.cancel(command.key)
            case c.WriteCall():
                self.writer.submit("call", rows.call_row(command.record))
                for on_call in self.listeners.calls:
                    on_call(command)
            case c.WriteFinal():
                self.writer.submit("call_final", rows.final(command))
                for on_final in self.listeners.finals:
                    on_final(command)
            case c.WriteTimeline():
                self.writer.submit("call_event", rows.timeline(command))
            case c.WriteAudit():
                self.writer.submit("audit", rows.audit(command))
            case c.AddCallback():
                self.writer.submit("callback", rows.callback(command))
                for on_callback in self.listeners.callbacks:
                    on_callback(command)
            case c.RecordVisitResult():
                self.writer.submit("visit_result", dialler.result_payload(command))
            case c.PublishAgentState():
                self.writer.submit("agent_state", rows.agent_state(command))
                for on_agent in self.listeners.agents:
                    on_agent(command)
            case c.TransferNotice():
                for on_notice in self.listeners.notices:
                    on_notice(command)
            case c.RefuseTransfer() | c.RefuseRequest():
                log.info("request_refused", refusal=repr(command))

    # ------------------------------------------------------------ requests with results

    def _media(self, item: str, language: str) -> str:
        if ":" in item:  # already a media URI, e.g. number:3
            return item
        return "sound:" + self.sound(item, language)

    async def _read_redirecting(self, pbx: Pbx, channel: ChannelId) -> None:
        number = await pbx.get_var(channel, REDIRECTING)
        self.feed(ev.RedirectingRead(channel, number or ""))

    def _hang_up_in_lane(self, pbx: Pbx, command: c.HangUp) -> None:
        lane = self._lane_of(command.call_id, command.channel)
        self.lanes.run(
            lane,
            lambda: self._hang_up(pbx, command.channel, command.reason),
            lambda why: self._again(why, command),
        )

    def _again(self, why: str, command: c.HangUp | c.DestroyBridge) -> None:
        """A clean-up request cancelled before it was done is made again."""
        if why == CANCELLED:
            self.carry(command)

    async def _hang_up(self, pbx: Pbx, channel: ChannelId, reason: str) -> None:
        if not await pbx.hangup(channel, reason):
            # Already gone, and its StasisEnd never reached us (a socket cut).
            self.feed(ev.ChannelLeft(channel))

    def _originate(
        self, pbx: Pbx, command: c.OriginateAgent | c.OriginateConsultee | c.OriginateSupervisor
    ) -> None:
        lane = self._legs(command.call_id)
        self._leg_lane[command.leg] = lane
        endpoint = (
            command.endpoint if not isinstance(command, c.OriginateConsultee) else command.dial
        )

        async def originate() -> None:
            await pbx.originate(
                endpoint,
                app_args=",".join(command.app_args),
                caller_id=command.caller_id,
                timeout=command.timeout_s,
                channel_id=command.leg,
                variables=dict(command.variables),
            )

        def failed(why: str) -> None:
            log.warning("originate_failed", call_id=command.call_id, leg=command.leg, error=why)
            self.report(ev.OriginateFailed(command.leg, why))
            if why == CANCELLED:
                # The request may have reached Asterisk: the leg must not ring on.
                self.lanes.run(lane, lambda: self._hang_up(pbx, command.leg, "normal"))

        self.lanes.run(lane, originate, failed)

    def _dial_out(self, pbx: Pbx, command: c.DialOut) -> None:
        """Create the leg into the application, then dial it; verdicts come as events."""
        lane = self._legs(command.call_id)
        self._leg_lane[command.leg] = lane
        self.dial_outs.placed(command.leg, command.call_id)
        channels = pbx.ari.channels
        variables = {**dict(command.variables), **caller_id_variables(command.caller_id)}
        created = False

        async def create_and_dial() -> None:
            nonlocal created
            try:
                await channels.create(
                    command.endpoint,
                    pbx.app,
                    app_args=",".join(command.app_args),
                    channel_id=command.leg,
                    originator=command.originator,
                    variables=variables,
                )
                created = True
                if not await self.dial_outs.in_application(command.leg, CREATE_ENTRY_S):
                    raise PbxError("the created channel never entered the application")
                await channels.dial(command.leg, timeout=command.timeout_s)
            except Exception as exc:
                raise PbxError(str(exc)) from exc

        def failed(why: str) -> None:
            if not self.dial_outs.settled(command.leg):
                return  # its verdict already came as an event (the leg went meanwhile)
            log.warning("dial_out_failed", call_id=command.call_id, leg=command.leg, error=why)
            if not created:
                self.report(ev.OriginateFailed(command.leg, why))
                if why != CANCELLED:
                    return
            else:
                self.report(ev.LegDialed(command.leg, ev.DialStatus.CHANUNAVAIL))
            # The leg may exist: it must not stay in the application.
            self.lanes.run(lane, lambda: self._hang_up(pbx, command.leg, "normal"))

        self.lanes.run(lane, create_and_dial, failed)

    async def _record_bridge(self, pbx: Pbx, command: c.RecordBridge) -> None:
        """Record the bridge; the recordings service follows the segment."""
        name, segment, agents = command.name, command.segment, command.agents
        try:
            await pbx.record_bridge(self.bridge_id(command.bridge), name)
        except PbxError as exc:
            # record_dir_missing_500.jsonl: the call goes on unrecorded, alarmed.
            if self.recordings is not None:
                await self.recordings.record_request_failed(
                    command.call_id,
                    name,
                    status=getattr(exc, "status", 0),
                    message=str(exc),
                    segment=segment,
                    agents=agents,
                )
            raise
        if self.recordings is not None:
            await self.recordings.recording_started(
                command.call_id, name, segment=segment, agents=agents
            )

    async def _create_bridge(self, pbx: Pbx, command: c.CreateBridge) -> None:
        made = await pbx.create_bridge(command.bridge, command.call_id)
        if made != command.bridge:
            self._bridge_ids[command.bridge] = made

    async def _destroy_bridge(self, pbx: Pbx, bridge: BridgeId) -> None:
        real = self._bridge_ids.get(bridge, bridge)
        await pbx.destroy_bridge(real, recording=self._bridge_recording.get(bridge))
        self._bridge_ids.pop(bridge, None)
        self._bridge_recording.pop(bridge, None)

    def _snoop(self, pbx: Pbx, command: c.CreateSnoop) -> None:
        lane = self._legs(command.call_id)
        self._leg_lane[command.snoop] = lane
        channels = pbx.ari.channels

        async def create() -> None:
            try:
                await channels.snoop_with_id(
                    command.target,
                    command.snoop,
                    pbx.app,
                    spy=command.spy,  # type: ignore[arg-type]
                    whisper=command.whisper,  # type: ignore[arg-type]
                    app_args=",".join(command.app_args),
                )
            except Exception as exc:
                raise PbxError(str(exc)) from exc

        self.lanes.run(lane, create, lambda _: self.report(ev.ChannelLeft(command.snoop)))
