"""A call's transfers: the :mod:`transfer` plans carried out inside the call.

:class:`CallTransfers` belongs to one :class:`~switchboard.inbound.InboundCall`.
An agent's request starts a :class:`transfer.TransferPlan` (blind, attended,
three-way; to a number, a parallel line, an emergency service, a colleague
or a queue); the facts about the plan's consultee leg (answered, a dial
verdict, a refused originate, gone), the agent leaving, the caller leaving,
the plan's ring deadline and an agent of the target queue answering are fed
to it, and its commands become the call's: legs, bridge, music, the agent's
release, the hand-off, the colleague's take-over, the way back to a queue.

A call has at most one live plan.  An emergency hand-off never waits: it
cancels a live plan first.  Consultee legs are ``<call id>-k<n>``.
"""

from __future__ import annotations

import acd
import transfer as tr
from switchboard.callstate import Offer, OfferOutcome
from switchboard.commands import (
    AddToBridge,
    DestroyBridge,
    HangUp,
    OriginateConsultee,
    RefuseTransfer,
    RemoveFromBridge,
    SendDigits,
    StartMoh,
    StopMoh,
    TransferNotice,
)
from switchboard.events import DialStatus, TransferStep
from switchboard.host import CallHost
from switchboard.ids import ChannelId
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase
from switchboard.records import Detail
from switchboard.timers import CallTimerKind, utc

P = CallPhase
FAIL_BY_DIAL = {
    DialStatus.BUSY: tr.FailReason.BUSY,
    DialStatus.NOANSWER: tr.FailReason.NO_ANSWER,
}
FAIL_BY_CAUSE = {17: tr.FailReason.BUSY, 18: tr.FailReason.NO_ANSWER, 19: tr.FailReason.NO_ANSWER}
_STEPS: dict[TransferStep, type[tr.Join | tr.Complete | tr.Cancel]] = {
    TransferStep.JOIN: tr.Join,
    TransferStep.COMPLETE: tr.Complete,
    TransferStep.CANCEL: tr.Cancel,
}


class CallTransfers:
    """The transfer plans of one call."""

    def __init__(self, call: CallHost) -> None:
        self._call = call
        self._plan: tr.TransferPlan | None = None
        self.latest: tr.TransferPlan | None = None  # the last plan started, live or done
        self._count = 0
        self._legs: dict[ChannelId, bool] = {}  # consultee leg -> answered

    def __repr__(self) -> str:
        return f"<CallTransfers {self._call.call_id} plan={self._plan!r}>"

    @property
    def live(self) -> tr.TransferPlan | None:
        return self._plan

    def owns(self, leg: ChannelId) -> bool:
        return leg in self._legs

    def legs_up(self) -> dict[ChannelId, bool]:
        """Consultee legs not known to be gone, and whether each answered."""
        return dict(self._legs)

    # ------------------------------------------------------------ the agent's requests

    def request(
        self, agent: acd.AgentId, mode: tr.Mode, target: tr.Target, now: float, out: Outbox
    ) -> None:
        f = self._call.facts
        refusal = self.own(agent)
        if (
            refusal is None
            and self._plan is not None
            and target.kind is not tr.TargetKind.EMERGENCY
        ):
            refusal = ("transfer_in_progress", "a transfer is in progress")
        if refusal is not None:
            out.emit(RefuseTransfer(f.call_id, agent, *refusal))
            return
        if self._plan is not None:
            # An emergency never waits behind another transfer.
            self._feed(tr.Cancel(), now, out)
        self._count += 1
        leg = tr.LegId(f.local_id("k", self._count))
        try:
            plan = tr.TransferPlan(
                leg,
                mode,
                target,
                agent,
                ring_timeout_s=self._call.config.transfer_ring_s,
                caller_held=f.held,
            )
        except tr.RequestRefused as exc:
            out.emit(RefuseTransfer(f.call_id, agent, exc.code, exc.message))
            return
        if target.kind is tr.TargetKind.EMERGENCY:
            # The number the service's phone shows rides with the call's record.
            f.tags["emergency"] = target.ref
            f.tags["emergency_presented"] = target.presented
            detail = {"number": target.ref, "mode": mode.value, "presented": target.presented}
            self._call.note("emergency", now, out, detail, agent=agent)
            self._call.write(out)
        self._plan = self.latest = plan
        self._run(plan, plan.start(utc(now)), now, out)

    def act(self, agent: acd.AgentId, step: TransferStep, now: float, out: Outbox) -> None:
        f = self._call.facts
        plan = self._plan
        if plan is None or plan.agent != agent:
            code = "no_transfer" if plan is None else "not_your_call"
            out.emit(RefuseTransfer(f.call_id, agent, code, "no transfer of yours in progress"))
            return
        self._feed(_STEPS[step](), now, out, agent=agent)

    def own(self, agent: acd.AgentId) -> tuple[str, str] | None:
        """Why ``agent`` may not act on this call (code, message), or None when they may."""
        f = self._call.facts
        if f.agent != agent:
            return ("not_your_call", "this is not your call")
        if f.phase is not P.CONNECTED or f.agent_leg is None:
            return ("not_connected", f"the call is {self._call.public_state}")
        return None

    # ------------------------------------------------------------ softswitch facts

    def answered(self, leg: ChannelId, now: float, out: Outbox) -> None:
        if leg not in self._legs or self._call.ended:
            out.emit(HangUp(self._call.call_id, leg))
            return
        self._legs[leg] = True
        self._feed(tr.ConsulteeAnswered(), now, out)

    def dialed(self, leg: ChannelId, status: DialStatus, now: float, out: Outbox) -> None:
        if self._legs.pop(leg, None) is False:
            self._feed(tr.ConsulteeFailed(FAIL_BY_DIAL.get(status, tr.FailReason.FAILED)), now, out)

    def originate_failed(self, leg: ChannelId, now: float, out: Outbox) -> None:
        if self._legs.pop(leg, None) is False:
            self._feed(tr.ConsulteeFailed(tr.FailReason.FAILED), now, out)

    def adopt_party(self, leg: ChannelId) -> None:
        """The party a hand-off left the caller with, taken back after a restart (no plan:
        when the party leaves, the caller goes to the survey as after any hand-off)."""
        self._legs[leg] = True

    def left(self, leg: ChannelId, cause: int | None, now: float, out: Outbox) -> None:
        answered = self._legs.pop(leg, None)
        if answered is None:
            return
        call = self._call
        if answered and self._plan is None and call.facts.phase is P.HANDED_OFF:
            call.note("party_left", now, out, {"leg": leg, "cause": cause})
            call.to_survey(now, out)
        elif answered:
            self._feed(tr.ConsulteeGone(), now, out)
        else:
            self._feed(
                tr.ConsulteeFailed(FAIL_BY_CAUSE.get(cause or 0, tr.FailReason.FAILED)), now, out
            )

    def agent_left(self, now: float, out: Outbox) -> bool:
        """The agent's leg went while a plan needs the agent; True when the plan took it."""
        plan = self._plan
        if plan is None or not plan.agent_present:
            return False
        f = self._call.facts
        self._call.note("agent_hangup", now, out, {}, agent=f.agent)
        self._feed(tr.AgentGone(), now, out)
        return True

    def timer(self, ref: str, now: float, out: Outbox) -> None:
        if self._plan is not None and self._plan.leg == ref:
            self._feed(tr.RingTimeout(), now, out)

    def queue_answered(self, now: float, out: Outbox) -> None:
        if self._plan is not None:
            self._feed(tr.QueueAnswered(), now, out)

    def call_ended(self, now: float, out: Outbox) -> None:
        """The call is over: every open leg ends now (before the ticket is written)."""
        if self._plan is not None:
            self._feed(tr.CallerGone(), now, out)
        for leg in list(self._legs):
            out.emit(HangUp(self._call.call_id, leg))
        self._legs.clear()

    # ------------------------------------------------------------ carrying out a plan

    def _feed(self, event: tr.Event, now: float, out: Outbox, agent: str = "") -> None:
        plan = self._plan
        if plan is None:
            return
        try:
            commands = plan.handle(event, utc(now))
        except tr.RequestRefused as exc:
            out.emit(RefuseTransfer(self._call.call_id, agent or plan.agent, exc.code, exc.message))
            return
        self._run(plan, commands, now, out)

    def _run(
        self, plan: tr.TransferPlan, commands: list[tr.Command], now: float, out: Outbox
    ) -> None:
        for command in commands:
            self._one(plan, command, now, out)
        if self._plan is plan:
            f = self._call.facts
            if plan.done:
                self._plan = None
                f.held = False
            else:
                f.held = plan.caller_held

    def _channel(self, plan: tr.TransferPlan, party: tr.Party) -> ChannelId | None:
        f = self._call.facts
        if party is tr.Party.CALLER:
            return f.caller_channel
        if party is tr.Party.AGENT:
            return f.agent_leg
        return ChannelId(plan.leg)

    def _one(self, plan: tr.TransferPlan, command: tr.Command, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        cid = f.call_id
        media = call.config.queue_media(f.queue)
        match command:
            case tr.Originate():
                leg = ChannelId(command.leg)
                self._legs[leg] = False
                target = command.target
                out.emit(
                    OriginateConsultee(
                        call_id=cid,
                        leg=leg,
                        dial=target.dial,
                        caller_id=target.caller_id or call.config.outbound_caller_id or f.dialled,
                        timeout_s=int(command.timeout_s),
                        app_args=("consultee", cid, leg),
                        variables=(("HOTLINE_CALL_ID", cid), ("HOTLINE_LEG", leg)),
                    )
                )
            case tr.StartTimer():
                call.media.start_timer(
                    CallTimerKind.TRANSFER, plan.leg, command.at.timestamp(), out
                )
            case tr.CancelTimer():
                call.media.cancel_timer(CallTimerKind.TRANSFER, plan.leg, out)
            case tr.Bridge():
                channels = [self._channel(plan, p) for p in command.parties]
                present = tuple(ch for ch in channels if ch is not None)
                if f.bridge is not None and present:
                    out.emit(AddToBridge(cid, f.bridge, present))
            case tr.Unbridge():
                channel = self._channel(plan, command.party)
                if f.bridge is not None and channel is not None:
                    out.emit(RemoveFromBridge(cid, f.bridge, channel))
            case tr.Hold():
                held = self._channel(plan, command.party)
                if held is not None:
                    out.emit(StartMoh(cid, held, media.music_on_hold))
            case tr.Unhold():
                unheld = self._channel(plan, command.party)
                if unheld is not None:
                    out.emit(StopMoh(cid, unheld))
            case tr.Hangup():
                self._hang_up(plan, command.party, now, out)
            case tr.SendDigits():
                keyed = self._channel(plan, command.party)
                if keyed is not None:
                    out.emit(SendDigits(cid, keyed, command.digits))
            case tr.ReleaseAgent():
                call.legs.release_agent(now, out)
                if f.phase is P.CONNECTED:
                    f.move(P.TRANSFERRING, now)
                call.write(out)
                out.acd(acd.CallEnded(acd.CallId(cid)))
            case tr.SendToQueue():
                call.legs.release_agent(now, out)
                self._back_to_queue(command.queue, now, out)
                out.acd(acd.CallTransferredToQueue(acd.CallId(cid), acd.QueueId(command.queue)))
            case tr.Requeue():
                self.requeue(now, out)
            case tr.HandOver():
                if f.phase is not P.HANDED_OFF:
                    f.move(P.HANDED_OFF, now)
                call.write(out)
            case tr.TakeOver():
                self._take_over(plan, acd.AgentId(command.agent), now, out)
            case tr.AfterHandOver():
                if not f.ended and f.phase is P.HANDED_OFF:
                    call.to_survey(now, out)
            case tr.Notify():
                out.emit(
                    TransferNotice(
                        cid, plan.agent, ChannelId(plan.leg), command.what, command.reason
                    )
                )
            case tr.Timeline():
                call.note(command.kind, now, out, _scalars(command.detail), agent=plan.agent)
            case tr.LegEnded():
                f.transfer_legs.append(command.leg)
                detail = _scalars({"leg": plan.leg, **command.leg.as_dict()})
                call.note("leg_ended", now, out, detail, agent=plan.agent)

    def _hang_up(self, plan: tr.TransferPlan, party: tr.Party, now: float, out: Outbox) -> None:
        call = self._call
        channel = self._channel(plan, party)
        if channel is None:
            return
        if party is tr.Party.AGENT:
            call.legs.release_agent_leg(out)
        elif party is tr.Party.CONSULTEE:
            self._legs.pop(channel, None)
            out.emit(HangUp(call.call_id, channel))
        else:
            call.hang_up_caller(now, out)

    def _back_to_queue(self, queue: str, now: float, out: Outbox, how: str = "transferred") -> None:
        """Into ``queue`` (a transfer to it), or back into the call's own (``requeued``)."""
        call = self._call
        f = call.facts
        if f.bridge is not None:
            out.emit(DestroyBridge(f.call_id, f.bridge))
            f.bridge = None
        f.queue = queue
        f.move(P.QUEUED, now)
        call.write(out)
        call.note("queued", now, out, {"queue": queue, how: True})
        out.emit(
            StartMoh(f.call_id, f.caller_channel, call.config.queue_media(queue).music_on_hold)
        )

    def requeue(self, now: float, out: Outbox) -> None:
        """A blind transfer failed (or was cut by a restart): back to the call's queue,
        with the wait already done."""
        call = self._call
        f = call.facts
        if f.ended:
            return
        if f.queue is None:
            call.close((), now, out)
            return
        queued, answered = f.stamps.get("queued_at"), f.stamps.get("answered_at")
        waited = answered - queued if queued is not None and answered is not None else 0.0
        self._back_to_queue(f.queue, now, out, "requeued")
        out.acd(
            acd.CallerArrived(
                acd.CallId(f.call_id),
                acd.QueueId(f.queue),
                caller_number=f.caller_number,
                tags=frozenset(k for k, v in f.tags.items() if v == "1"),
                waited_so_far_s=max(0.0, waited),
                priority=f.priority or None,
            )
        )

    def _take_over(
        self, plan: tr.TransferPlan, colleague: acd.AgentId, now: float, out: Outbox
    ) -> None:
        """The colleague on the consultee leg becomes the call's agent."""
        call = self._call
        f = call.facts
        leg = ChannelId(plan.leg)
        self._legs.pop(leg, None)
        f.offers.append(Offer(colleague, acd.SeatId(""), leg, now, 0.0, OfferOutcome.ANSWERED))
        f.agent = colleague
        f.agent_leg = leg
        if f.phase is not P.CONNECTED:
            f.move(P.CONNECTED, now)
        call.write(out)
        call.note("taken_over", now, out, {"by": plan.agent}, agent=colleague)


def _scalars(detail: dict[str, object]) -> Detail:
    """A plan's timeline detail as JSON scalars (anything else as its text)."""
    plain: dict[str, str | int | float | bool | None] = {}
    for key, value in detail.items():
        if value is None or isinstance(value, str | int | float | bool):
            plain[key] = value
        else:
            plain[key] = str(value)
    return plain
