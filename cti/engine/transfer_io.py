"""Carrying out transfer plans' commands over ARI, in each call's ordered lane.

The executor of :class:`cti.engine.transfers.Transfers`: every command of a
:class:`transfer.TransferPlan` becomes engine state changes made at once
(who is the call's agent, its phase, the ACD's view) and softswitch requests
queued in the call's lane (:meth:`cti.engine.core.Engine._io`), so that a
bridge change never overtakes the originate or hold before it.  Requests that
need a fact only known when they run (the call's bridge, made by an earlier
request of the same lane) read it then.

Parties map to channels: the caller's channel, the agent's leg, and the plan's
consultee leg, whose channel id is the plan's leg id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

import acd
import transfer as tr
from cti.ari.errors import AriError, AriNotFound
from cti.engine.call import Call, CallPhase, Offer
from cti.engine.pbx import LegGone, Pbx, PbxError
from cti.ids import CallId, ChannelId

if TYPE_CHECKING:
    from cti.engine.core import Engine
    from cti.engine.transfers import Transfers

log = structlog.get_logger("cti.engine.transfers")

P = CallPhase
T = TypeVar("T")


@dataclass(frozen=True)
class Notice:
    """Something the agent who started a transfer must be told (a busy consultee ...)."""

    call_id: CallId
    agent: str
    leg: str
    what: str
    reason: str
    at: dt.datetime


NoticeListener = Callable[[Notice], None]


class TransferIo:
    """Runs plans' commands for :class:`~cti.engine.transfers.Transfers`."""

    def __init__(self, engine: Engine, transfers: Transfers) -> None:
        self.engine = engine
        self.transfers = transfers

    def __repr__(self) -> str:
        return f"<TransferIo {self.transfers!r}>"

    def run(self, call: Call, plan: tr.TransferPlan, commands: list[tr.Command]) -> None:
        was_live = self.transfers.live.get(call.call_id) is plan
        for command in commands:
            try:
                self._one(call, plan, command)
            except Exception:
                self.engine.errors += 1
                log.exception("transfer_command_error", command=type(command).__name__)
        if not was_live:
            return  # a late fact about a finished plan: the call's state is not its own
        if plan.done:
            del self.transfers.live[call.call_id]
            call.held = False
        else:
            call.held = plan.caller_held

    def _one(self, call: Call, plan: tr.TransferPlan, command: tr.Command) -> None:
        engine = self.engine
        match command:
            case tr.Originate():
                self._originate(call, plan, command)
            case tr.StartTimer():
                seconds = (command.at - engine.now_dt()).total_seconds()
                engine.timers.start(("transfer", call.call_id, plan.leg), seconds)
            case tr.CancelTimer():
                engine.timers.cancel(("transfer", call.call_id, plan.leg))
            case tr.Bridge():
                channels = [self._channel(call, plan, p) for p in command.parties]
                self.bridge(call, "add", *[ch for ch in channels if ch is not None])
            case tr.Unbridge():
                channel = self._channel(call, plan, command.party)
                if channel is not None:
                    self.bridge(call, "remove", channel)
            case tr.Hold():
                held = self._channel(call, plan, command.party)
                moh = engine._moh_class(call)
                if held is not None:
                    engine._io(call.call_id, lambda: engine.pbx.start_moh(held, moh))
            case tr.Unhold():
                unheld = self._channel(call, plan, command.party)
                if unheld is not None:
                    engine._io(call.call_id, lambda: engine.pbx.stop_moh(unheld))
            case tr.Hangup():
                gone = self._channel(call, plan, command.party)
                if gone is not None:
                    engine._io(call.call_id, lambda: hangup(engine.pbx, gone))
            case tr.SendDigits():
                keyed = self._channel(call, plan, command.party)
                digits, ari = command.digits, engine.pbx.ari
                if keyed is not None:
                    engine._io(
                        call.call_id, lambda: ari_checked(ari.channels.send_dtmf(keyed, digits))
                    )
            case tr.ReleaseAgent():
                self._release_agent(call, None)
            case tr.SendToQueue():
                self._release_agent(call, command.queue)
            case tr.Requeue():
                self._requeue(call)
            case tr.HandOver():
                if call.phase is not P.HANDED_OFF:
                    call.move(P.HANDED_OFF, engine.now_dt())
                engine._write_call(call)
            case tr.TakeOver():
                self._take_over(call, plan, command.agent)
            case tr.AfterHandOver():
                if not call.ended and call.phase is P.HANDED_OFF:
                    engine._start_survey(call)
            case tr.Notify():
                self._notify(call, plan, command)
            case tr.Timeline():
                timeline(engine, call, command.kind, plan.agent, command.detail)
            case tr.LegEnded():
                leg = command.leg.as_dict()
                call.legs.append(leg)
                timeline(engine, call, "leg_ended", plan.agent, {"leg": plan.leg, **leg})
            case _:
                log.warning("transfer_command_ignored", command=type(command).__name__)

    def _channel(self, call: Call, plan: tr.TransferPlan, party: tr.Party) -> ChannelId | None:
        if party is tr.Party.CALLER:
            return call.caller_channel
        if party is tr.Party.AGENT:
            return call.agent_channel
        return ChannelId(plan.leg)

    def _originate(self, call: Call, plan: tr.TransferPlan, command: tr.Originate) -> None:
        engine = self.engine
        leg = ChannelId(command.leg)
        self.transfers.legs[leg] = (call.call_id, plan)
        engine.by_channel[leg] = call.call_id
        config = engine.call_configs.get(call.call_id, engine.config)
        target = command.target
        caller_id = target.caller_id or config.engine.outbound.caller_id or call.dialled
        app_args = f"consultee,{call.call_id},{leg}"
        variables = {"HOTLINE_CALL_ID": call.call_id, "HOTLINE_LEG": leg}

        async def originate() -> None:
            try:
                await engine.pbx.originate(
                    target.dial,
                    app_args=app_args,
                    caller_id=caller_id,
                    timeout=int(command.timeout_s),
                    channel_id=leg,
                    variables=variables,
                )
            except PbxError as exc:
                log.warning("consultee_originate_failed", call_id=call.call_id, error=str(exc))
                if self.transfers.legs.pop(leg, None) is not None:
                    engine.by_channel.pop(leg, None)
                    self.transfers.feed(call, plan, tr.ConsulteeFailed(tr.FailReason.FAILED))

        engine._io(call.call_id, originate)

    def bridge(self, call: Call, how: str, *channels: ChannelId) -> None:
        """Add or remove ``channels`` from the call's bridge, read when the request runs
        (the bridge is made by an earlier request of the same lane)."""
        if not channels:
            return
        pbx = self.engine.pbx

        async def change() -> None:
            bridge = call.bridge_id
            if bridge is None:
                log.warning("transfer_without_bridge", call_id=call.call_id)
                return
            if how == "add":
                await pbx.add_to_bridge(bridge, list(channels))
            else:
                for channel in channels:
                    await pbx.remove_from_bridge(bridge, channel)

        self.engine._io(call.call_id, change)

    def _release_agent(self, call: Call, queue: str | None) -> None:
        """The agent leaves: their leg goes, and the ACD ends their conversation now."""
        engine = self.engine
        now = engine.now_dt()
        leg = call.agent_channel
        for offer in call.offers:
            if offer.channel == leg and offer.ended_at is None:
                offer.ended_at = now
        call.agent_channel = None
        call.muted = False
        if leg is not None:
            engine.by_channel.pop(leg, None)
            engine.leg_agent.pop(leg, None)
            engine._io(call.call_id, lambda: hangup(engine.pbx, leg))
        engine.monitors.agent_left(call)
        if queue is None:
            if call.phase is P.CONNECTED:
                call.move(P.TRANSFERRING, now)
            engine._write_call(call)
            engine._run_acd(acd.CallEnded(acd.CallId(call.call_id)))
            return
        # The caller waits in ``queue`` keeping its waiting time and priority
        # (CallTransferredToQueue); the next agent gets a fresh bridge.
        bridge, caller = call.bridge_id, call.caller_channel
        call.bridge_id = None
        call.queue = queue
        call.move(P.QUEUED, now)
        engine._write_call(call)
        engine._timeline(call, "queued", queue=queue, transferred=True)
        if bridge is not None:
            engine._io(call.call_id, lambda: engine.pbx.destroy_bridge(bridge))
        moh = engine._moh_class(call)
        engine._io(call.call_id, lambda: engine.pbx.start_moh(caller, moh))
        engine._run_acd(acd.CallTransferredToQueue(acd.CallId(call.call_id), acd.QueueId(queue)))

    def _requeue(self, call: Call) -> None:
        """A blind transfer failed: back to the call's queue, with the wait already done."""
        engine = self.engine
        if call.ended:
            return
        if call.queue is None:
            engine._close(call, [], "normal")
            return
        now = engine.now_dt()
        queued, answered = call.stamps.get("queued_at"), call.stamps.get("answered_at")
        waited = (answered - queued).total_seconds() if queued and answered else 0.0
        bridge = call.bridge_id
        call.bridge_id = None
        if bridge is not None:
            engine._io(call.call_id, lambda: engine.pbx.destroy_bridge(bridge))
        call.move(P.QUEUED, now)
        engine._write_call(call)
        engine._timeline(call, "queued", queue=call.queue, requeued=True)
        caller, moh = call.caller_channel, engine._moh_class(call)
        engine._io(call.call_id, lambda: engine.pbx.start_moh(caller, moh))
        engine._run_acd(
            acd.CallerArrived(
                acd.CallId(call.call_id),
                acd.QueueId(call.queue),
                caller_number=call.caller_number,
                tags=frozenset(k for k, v in call.tags.items() if v == "1"),
                waited_so_far_s=max(0.0, waited),
                priority=call.priority or None,
            )
        )

    def _take_over(self, call: Call, plan: tr.TransferPlan, colleague: str) -> None:
        """The colleague on the consultee leg becomes the call's agent."""
        engine = self.engine
        leg = ChannelId(plan.leg)
        self.transfers.legs.pop(leg, None)
        self.transfers.answered.discard(leg)
        engine.by_channel[leg] = call.call_id
        engine.leg_agent[leg] = colleague
        seat = engine.agent_seat.get(colleague, "")
        now = engine.now_dt()
        call.offers.append(Offer(colleague, seat, leg, now, outcome="answered"))
        call.agent = colleague
        call.agent_channel = leg
        if call.phase is not P.CONNECTED:
            call.move(P.CONNECTED, now)
        engine._write_call(call)
        engine._timeline(call, "taken_over", agent=colleague, seat=seat, by=plan.agent)

    def _notify(self, call: Call, plan: tr.TransferPlan, command: tr.Notify) -> None:
        notice = Notice(
            call.call_id, plan.agent, plan.leg, command.what, command.reason, self.engine.now_dt()
        )
        self.transfers.notices.setdefault(call.call_id, []).append(notice)
        log.info("transfer_notice", call_id=call.call_id, what=command.what, reason=command.reason)
        for listener in self.transfers.listeners:
            try:
                listener(notice)
            except Exception:
                log.exception("transfer_listener_error")


def timeline(
    engine: Engine, call: Call, kind: str, agent: str | None, detail: dict[str, Any]
) -> None:
    """A row of the call's timeline whose detail may hold any key (``kind`` too)."""
    engine.writer.submit(
        "call_event",
        {
            "call_id": call.call_id,
            "at": engine.now_dt(),
            "kind": kind,
            "agent": agent,
            "detail": detail,
        },
    )


async def hangup(pbx: Pbx, channel: ChannelId) -> None:
    """Hang up ``channel``; nothing to do when it is already gone."""
    await pbx.hangup(channel)


async def ari_checked(request: Awaitable[T]) -> T:
    """ARI errors as the engine's own (:class:`PbxError`, :class:`LegGone`)."""
    try:
        return await request
    except AriNotFound as exc:
        raise LegGone(str(exc)) from exc
    except AriError as exc:
        raise PbxError(str(exc)) from exc
