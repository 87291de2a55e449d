"""A call's agent legs: the ACD's offers carried out, answered, connected, lost.

:class:`AgentLegs` belongs to one :class:`~switchboard.inbound.InboundCall`
and takes the ACD's commands about it (``OfferCall``, ``CancelOffer``,
``ConnectCall``, ``Announce``, ``Overflow``, ``AddToCallbackList``,
``CallerLeft``) and the events of its legs (answered, a dial verdict, a
refused originate, gone).  Every leg it originates ends in one of three
ways: bridged with the caller, hung up by it, or gone by itself; while it
rings the ACD's ring timer runs for it.

An offer that the ACD cancels after its full ring time is ``no_answer``
(RONA), otherwise ``cancelled``; a leg gone while ringing tells its verdict
by the hang-up cause (17 busy, 18/19 no answer, anything else failed).
"""

from __future__ import annotations

import acd
from switchboard.callstate import Offer, OfferOutcome
from switchboard.commands import (
    AddCallback,
    AddToBridge,
    CreateBridge,
    HangUp,
    OriginateAgent,
    RecordBridge,
    StopMoh,
)
from switchboard.events import DialStatus
from switchboard.host import CallHost
from switchboard.ids import BridgeId, ChannelId, RecordingName
from switchboard.media import Purpose
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase

P = CallPhase
OC = OfferOutcome
_CAUSES = {17: OC.BUSY, 18: OC.NO_ANSWER, 19: OC.NO_ANSWER}
_DIAL = {DialStatus.BUSY: OC.BUSY, DialStatus.NOANSWER: OC.NO_ANSWER}
AcdCallCommand = (
    acd.OfferCall
    | acd.CancelOffer
    | acd.ConnectCall
    | acd.Announce
    | acd.Overflow
    | acd.AddToCallbackList
    | acd.CallerLeft
)


class AgentLegs:
    """The offers and agent legs of one call."""

    def __init__(self, call: CallHost) -> None:
        self._call = call

    def __repr__(self) -> str:
        return f"<AgentLegs {self._call.call_id} offers={len(self._call.facts.offers)}>"

    def open_legs(self) -> list[Offer]:
        """Legs up or ringing that the call has not hung up: ringing, answered, or talking."""
        return [o for o in self._call.facts.offers if not o.hung_up]

    # ------------------------------------------------------------ the ACD's commands

    def on_acd(self, command: AcdCallCommand, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        match command:
            case acd.OfferCall():
                self._offer(command, now, out)
            case acd.CancelOffer():
                for offer in f.offers:
                    mine = offer.agent == command.agent and offer.leg != f.agent_leg
                    if mine and not offer.hung_up:
                        self._cancel(offer, now, out)
            case acd.ConnectCall():
                self._connect(command, now, out)
            case acd.Announce():
                self._announce(command, now, out)
            case acd.Overflow():
                self._overflow(command, now, out)
            case acd.AddToCallbackList():
                if f.ended:
                    return
                f.outcome = "callback"
                out.emit(
                    AddCallback(
                        call.call_id, command.caller_number, command.queue, now, command.waited_s
                    )
                )
                call.note("callback_listed", now, out, {"queue": command.queue})
                prompt = call.config.queue_media(command.queue).overflow_prompt
                call.close((prompt,) if prompt else (), now, out)
            case acd.CallerLeft():
                if command.reason is acd.LeaveReason.ABANDONED and not f.ended:
                    f.outcome = "abandoned"

    def _offer(self, command: acd.OfferCall, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        if f.ended:
            return
        endpoint = call.config.seats.get(command.seat)
        if endpoint is None:
            out.acd(acd.OfferRejected(command.call_id, command.agent, acd.RejectReason.DECLINED))
            return
        leg = ChannelId(f.local_id("a", len(f.offers) + 1))
        offer = Offer(command.agent, command.seat, leg, now, command.ring_timeout_s)
        f.offers.append(offer)
        f.stamp("first_offered_at", now)
        call.note("offered", now, out, {"seat": command.seat}, agent=command.agent)
        caller_id = f'"{f.caller_name}" <{f.caller_number}>' if f.caller_name else f.caller_number
        out.emit(
            OriginateAgent(
                call_id=call.call_id,
                leg=leg,
                agent=command.agent,
                seat=command.seat,
                endpoint=endpoint,
                caller_id=caller_id,
                timeout_s=int(command.ring_timeout_s) + call.config.ring_grace_s,
                app_args=("agent", call.call_id, command.agent),
                variables=(("HOTLINE_CALL_ID", call.call_id), ("HOTLINE_AGENT", command.agent)),
            )
        )

    def _connect(self, command: acd.ConnectCall, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        if f.ended:
            return
        offer = next(
            (
                o
                for o in reversed(f.offers)
                if o.agent == command.agent and o.outcome is OC.ANSWERED and not o.hung_up
            ),
            None,
        )
        if offer is None:
            return
        f.agent = command.agent
        f.agent_leg = offer.leg
        if f.first_agent is None:
            f.first_agent = command.agent  # 首接负责: the first agent answers for the call
        f.move(P.CONNECTED, now)
        f.held = f.muted = False
        f.segments += 1
        name = RecordingName(f"{call.call_id}-{f.segments}")
        f.recording = name
        bridge = BridgeId(f"br-{call.call_id}")
        f.bridge = bridge
        call.write(out)
        call.note("answered", now, out, {"seat": offer.seat}, agent=command.agent)
        announcement = call.media.playing(Purpose.ANNOUNCE)
        if announcement is not None:
            # A position announcement must not run on into the conversation.
            call.media.stop(announcement, out)
        # holding_bridge_then_agent.jsonl / inbound_answer_bridge_record.jsonl:
        # stop MOH, a mixing bridge with both legs, then record the bridge.
        out.emit(StopMoh(call.call_id, f.caller_channel))
        out.emit(CreateBridge(call.call_id, bridge))
        out.emit(AddToBridge(call.call_id, bridge, (f.caller_channel, offer.leg)))
        out.emit(RecordBridge(call.call_id, bridge, name, f.segments, (command.agent,)))
        out.acd(acd.CallConnected(command.call_id, command.agent))
        call.transfers.queue_answered(now, out)

    def _announce(self, command: acd.Announce, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        if f.phase is not P.QUEUED or f.ringing or call.media.playing(Purpose.ANNOUNCE):
            return
        media = call.config.queue_media(command.queue)
        prompts: list[str] = []
        if media.position_prompt:
            prompts += [media.position_prompt, f"number:{command.position}"]
        if media.wait_prompt and command.expected_wait_s is not None:
            minutes = max(1, round(command.expected_wait_s / 60))
            prompts += [media.wait_prompt, f"number:{minutes}"]
        if not prompts:
            return
        out.emit(StopMoh(call.call_id, f.caller_channel))
        call.media.play(Purpose.ANNOUNCE, "position", tuple(prompts), f.language, out)

    def _overflow(self, command: acd.Overflow, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        if f.ended:
            return
        detail = {
            "action": command.action.value,
            "target": command.target,
            "reason": command.reason.value,
        }
        call.note("overflow", now, out, detail)
        if command.action is acd.OverflowAction.QUEUE:
            f.queue = command.target
            call.write(out)
        elif command.action is acd.OverflowAction.VOICEMAIL:
            call.voicemail(call.config.queue_media(f.queue).voicemail_max_s, now, out)
        elif command.action is acd.OverflowAction.PROMPT_HANGUP:
            f.outcome = "overflowed"
            call.close((command.target,) if command.target else (), now, out)

    # ------------------------------------------------------------ leg events

    def answered(self, leg: ChannelId, agent: acd.AgentId, now: float, out: Outbox) -> None:
        offer = self.answerable(leg, now, out)
        if offer is None:
            return
        offer.outcome = OC.ANSWERED
        out.acd(acd.OfferAnswered(acd.CallId(self._call.call_id), agent))

    def answerable(self, leg: ChannelId, now: float, out: Outbox) -> Offer | None:
        """The ringing offer ``leg`` answers; ``None`` for a leg that answered too late
        (the caller left, or the offer was cancelled): it is hung up so that no agent
        sits on a dead line."""
        f = self._call.facts
        offer = f.offer_of(leg)
        if offer is not None and offer.outcome is OC.RINGING and not offer.hung_up and not f.ended:
            return offer
        out.emit(HangUp(self._call.call_id, leg, "normal"))
        if offer is not None:
            if offer.outcome is OC.RINGING:
                self._finish(offer, OC.CANCELLED, now, out)
            offer.hung_up = True
        return None

    def dialed(self, leg: ChannelId, status: DialStatus, now: float, out: Outbox) -> None:
        """A dial verdict without an answer; no ``StasisStart`` follows, the leg is gone."""
        offer = self._call.facts.offer_of(leg)
        if offer is None:
            return
        offer.hung_up = True
        if offer.outcome is OC.RINGING:
            self._failed(offer, _DIAL.get(status, OC.FAILED), now, out)

    def originate_failed(self, leg: ChannelId, now: float, out: Outbox) -> None:
        offer = self._call.facts.offer_of(leg)
        if offer is None:
            return
        offer.hung_up = True
        if offer.outcome is OC.RINGING:
            self._failed(offer, OC.FAILED, now, out)

    def left(self, leg: ChannelId, cause: int | None, now: float, out: Outbox) -> None:
        call = self._call
        f = call.facts
        offer = f.offer_of(leg)
        if offer is None or offer.hung_up:
            return  # a leg the call already let go: its decision is made
        offer.hung_up = True
        if offer.outcome is OC.RINGING:
            self._failed(offer, _CAUSES.get(cause or 0, OC.FAILED), now, out)
        elif offer.outcome is OC.ANSWERED and f.agent_leg != leg:
            self._failed(offer, OC.FAILED, now, out)
        elif f.agent_leg == leg and call.transfers.agent_left(now, out):
            return  # the live transfer decides what the agent's leaving means
        elif f.agent_leg == leg and f.phase is P.CONNECTED:
            self._agent_left(now, out)

    def _agent_left(self, now: float, out: Outbox) -> None:
        """The agent hung up first: the caller goes to the satisfaction survey."""
        call = self._call
        f = call.facts
        f.hangup_by = f.hangup_by or "agent"
        call.note("agent_hangup", now, out, {}, agent=f.agent)
        out.acd(acd.CallEnded(acd.CallId(call.call_id)))
        f.agent_leg = None
        f.muted = False
        call.monitors.agent_left(now, out)
        if not f.ended:
            call.to_survey(now, out)

    def release_agent(self, now: float, out: Outbox) -> None:
        """A transfer lets the agent go: their leg is hung up and ends now."""
        f = self._call.facts
        for offer in f.offers:
            if offer.leg == f.agent_leg and offer.ended_at is None:
                offer.ended_at = now
        self.release_agent_leg(out)
        self._call.monitors.agent_left(now, out)

    def release_agent_leg(self, out: Outbox) -> None:
        f = self._call.facts
        offer = f.offer_of(f.agent_leg) if f.agent_leg is not None else None
        f.agent_leg = None
        f.muted = False
        if offer is not None:
            self._hang_up(offer, out)

    # ------------------------------------------------------------ helpers

    def _finish(self, offer: Offer, outcome: OfferOutcome, now: float, out: Outbox) -> None:
        offer.outcome = outcome
        offer.ended_at = now
        self._call.note("offer_" + outcome.value, now, out, {"seat": offer.seat}, agent=offer.agent)

    def _failed(self, offer: Offer, outcome: OfferOutcome, now: float, out: Outbox) -> None:
        was = offer.outcome
        self._finish(offer, outcome, now, out)
        cid = acd.CallId(self._call.call_id)
        if outcome is OC.NO_ANSWER and was is OC.RINGING:
            out.acd(acd.OfferTimedOut(cid, offer.agent))
        else:
            reason = acd.RejectReason.BUSY if outcome is OC.BUSY else acd.RejectReason.FAILED
            out.acd(acd.OfferRejected(cid, offer.agent, reason))

    def _cancel(self, offer: Offer, now: float, out: Outbox) -> None:
        """The ACD takes an offer back: after its full ring time it is RONA."""
        if offer.outcome in (OC.RINGING, OC.ANSWERED):
            rang_out = offer.outcome is OC.RINGING and now - offer.at >= offer.ring_timeout_s - 0.5
            self._finish(offer, OC.NO_ANSWER if rang_out else OC.CANCELLED, now, out)
            self._hang_up(offer, out)

    def _hang_up(self, offer: Offer, out: Outbox) -> None:
        if not offer.hung_up:
            offer.hung_up = True
            out.emit(HangUp(self._call.call_id, offer.leg, "normal"))

    def hang_up_all(self, now: float, out: Outbox) -> None:
        """The call ends: every leg still up or ringing is hung up (the agent's too)."""
        f = self._call.facts
        for offer in f.offers:
            if offer.hung_up:
                continue
            if offer.outcome is OC.RINGING:
                self._finish(offer, OC.CANCELLED, now, out)
            self._hang_up(offer, out)
