"""Calls out: an agent dialling a citizen, from the seat phone or the toolbar: :class:`OutboundCall`.

Theory of operation
-------------------
A call out is a call of the switchboard like an inbound one, and is one:
:class:`OutboundCall` is an :class:`~switchboard.inbound.InboundCall` whose
"caller" is the citizen's leg the call places, so the conversation, its
bridge and recording, hold and mute, transfers and three-way calls,
supervisors, the final record and the ticket are the inbound call's own.
What differs is how it starts and how a dial that reaches nobody ends:

- **From the seat phone** (:meth:`OutboundCall.from_seat`): the seat's
  channel entered the application (``Stasis(hotline,seat,<number>)``).  The
  agent logged in at the seat, the dial rules and the agent's being free
  decide.  Refused: the agent hears ``dial_refused_prompt`` and the refusal
  is audited (``dial_refused``); the record says ``dial_refused``.
  Allowed: the seat's channel is the agent's leg, and the citizen is dialled
  at once.
- **Click-to-dial** (:meth:`OutboundCall.from_toolbar`): the agent's seat
  is rung first (an agent leg, as for an offer); once the agent answers the
  citizen is dialled.  A refusal is audited and answered ``RefuseTransfer``
  (the toolbar's one-line error); an agent who does not answer ends the
  call as ``agent_unreached``.

The citizen's leg is placed with ``DialOut`` and shows the presented number.
While it rings the call is ``queued`` (public ``waiting``), though its record
has no ``queued_at``: it is in no queue's figures.  ``OutboundAnswered``
connects it: the agent's leg and the citizen's in a mixing bridge, recorded,
and the conversation handed to the ACD as the agent's (``acd.CallAdopted``:
the agent is busy, their talk time counts, the wallboard shows the call).
A dial verdict ends it with ``busy``, ``no_answer`` or ``unreachable``
(``failed`` when the create was refused); the agent hanging up meanwhile
ends it as ``cancelled``.

Every call out is tagged ``direction: outbound`` (with the ``agent``); a
call that works a callback entry also carries ``callback`` (the entry's
key) and ``missed_call_id``, and an answered one hands a ticket of kind
``callback``.  A call that makes a return visit (回访) for an agent carries
``return_visit`` (the ticket id) and ``kind: return_visit``; when it ends,
its result (reached with the agent and the recording, busy or no answer)
is the visit's attempt (``RecordVisitResult``, as for a visit the survey
handed to a person).  After the conversation only a callback goes to the survey;
any other call out hangs up the citizen when the agent leaves.

A call out keeps its picture on the citizen's leg like an inbound call: the
dial carries the picture of the dialling call, and once the citizen answers
the picture follows the call.  After a restart a conversation is taken back
as it stands (:mod:`switchboard.adoption`); a dial still ringing is ended,
its legs hung up, as ``failed`` with the reason ``engine_restart``: the
agent dials again.  The agent's leg carries
``HOTLINE_CALL_ID`` and ``HOTLINE_AGENT`` (set on the seat's own channel for a
call from the seat), so the restarted switchboard finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import acd
from switchboard.callstate import Offer, OfferOutcome
from switchboard.commands import (
    AddToBridge,
    Answer,
    CreateBridge,
    DestroyBridge,
    DialOut,
    HangUp,
    OriginateAgent,
    RecordBridge,
    RecordVisitResult,
    RefuseTransfer,
    SetChannelVar,
    WriteAudit,
)
from switchboard.config import DialVerdict, FlowConfig
from switchboard.events import CallerArrived, DialStatus
from switchboard.ids import BridgeId, CallId, ChannelId, RecordingName
from switchboard.inbound import InboundCall
from switchboard.legs import AgentLegs
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase
from switchboard.picture import STATE_VAR, CallPicture

P = CallPhase
OC = OfferOutcome
DIRECTION = "outbound"
_VERDICT = {
    DialStatus.BUSY: "busy",
    DialStatus.NOANSWER: "no_answer",
    DialStatus.CANCEL: "no_answer",
    DialStatus.CHANUNAVAIL: "unreachable",
    DialStatus.CONGESTION: "unreachable",
}
VISIT_KIND = "return_visit"
_VISIT_OUTCOME = {
    "answered": "reached",
    "busy": "busy",
    "no_answer": "no_answer",
    "unreachable": "no_answer",
    "failed": "no_answer",
}
"""A visit call's outcome as the visit's attempt; any other: the citizen was never rung."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Who calls whom, and for what: the start of one call out."""

    call_id: CallId
    agent: acd.AgentId | None
    seat: acd.SeatId | None
    number: str
    role: str = "agent"
    queue: str | None = None
    callback: str | None = None
    missed_call_id: str | None = None
    visit: str | None = None  # the ticket id of the return visit the call makes
    seat_channel: ChannelId | None = None  # the seat phone's own channel (from the seat)

    @property
    def actor(self) -> str:
        """Who the audit log names: the agent, else the seat."""
        return self.agent or f"seat:{self.seat or '?'}"


class OutboundLegs(AgentLegs):
    """The agent's leg of a call out, and the verdict of the citizen's dial."""

    def __init__(self, call: OutboundCall) -> None:
        super().__init__(call)
        self._out_call = call

    def answered(self, leg: ChannelId, agent: acd.AgentId, now: float, out: Outbox) -> None:
        """The agent answered their seat (click-to-dial): now the citizen is dialled."""
        call = self._out_call
        offer = self.answerable(leg, now, out)
        if offer is None:
            return
        offer.outcome = OC.ANSWERED
        call.note("agent_answered", now, out, {"seat": offer.seat}, agent=agent)
        call.dial_citizen(leg, now, out)

    def dialed(self, leg: ChannelId, status: DialStatus, now: float, out: Outbox) -> None:
        call = self._out_call
        if leg == call.facts.caller_channel:
            call.dial_ended(_VERDICT.get(status, "unreachable"), status.value, now, out)
        else:
            self._agent_unreached(leg, status.value, now, out)

    def originate_failed(self, leg: ChannelId, now: float, out: Outbox) -> None:
        call = self._out_call
        if leg == call.facts.caller_channel:
            call.dial_ended("failed", "refused", now, out)
        else:
            self._agent_unreached(leg, "refused", now, out)

    def left(self, leg: ChannelId, cause: int | None, now: float, out: Outbox) -> None:
        call = self._out_call
        f = call.facts
        offer = f.offer_of(leg)
        if offer is None or offer.hung_up or f.ended:
            return
        if offer.outcome is OC.RINGING:
            self._agent_unreached(leg, f"cause {cause}", now, out)
        elif f.phase is P.QUEUED and leg == f.agent_leg:
            # The agent hung up while the citizen's phone rang.
            offer.hung_up = True
            f.hangup_by = f.hangup_by or "agent"
            call.dial_ended("cancelled", "agent_hangup", now, out)
        else:
            super().left(leg, cause, now, out)

    def _agent_unreached(self, leg: ChannelId, why: str, now: float, out: Outbox) -> None:
        call = self._out_call
        f = call.facts
        offer = f.offer_of(leg)
        if offer is None or f.ended:
            return
        offer.hung_up = True
        if offer.outcome is OC.RINGING:
            offer.outcome, offer.ended_at = OC.NO_ANSWER, now
        f.outcome = "agent_unreached"
        call.note("agent_unreached", now, out, {"why": why}, agent=offer.agent)
        call.finalize(now, out)


class OutboundCall(InboundCall):
    """One call out (see the module docstring)."""

    def __init__(
        self, placement: Placement, channel: ChannelId, config: FlowConfig, now: float
    ) -> None:
        arrival = CallerArrived(
            call_id=placement.call_id,
            channel=channel,
            dialled=placement.number,
            caller_number=placement.number,
        )
        super().__init__(arrival, config, now)
        self.placement = placement
        self.legs = OutboundLegs(self)
        f = self.facts
        f.tags["direction"] = DIRECTION
        if placement.agent is not None:
            f.tags["agent"] = placement.agent
        if placement.callback is not None:
            f.tags["callback"] = placement.callback
            f.ticket_kind = "callback"
        if placement.missed_call_id is not None:
            f.tags["missed_call_id"] = placement.missed_call_id
        if placement.visit is not None:
            f.tags["return_visit"] = placement.visit
            f.tags["kind"] = VISIT_KIND
        self._visit_told = False
        f.queue = placement.queue
        f.first_agent = placement.agent

    def __repr__(self) -> str:
        f = self.facts
        return f"<OutboundCall {f.call_id} {f.phase} agent={f.first_agent}>"

    # ------------------------------------------------------------ the two starts

    @classmethod
    def from_seat(
        cls,
        placement: Placement,
        refusal: DialVerdict | None,
        config: FlowConfig,
        now: float,
        out: Outbox,
    ) -> OutboundCall:
        """The seat phone dialled ``placement.number``: refuse it, or dial the citizen."""
        seat_channel = placement.seat_channel
        assert seat_channel is not None  # a call from the seat has the seat's channel
        if refusal is not None:
            call = cls(placement, seat_channel, config, now)
            call._refuse_at_seat(refusal, now, out)
            return call
        call = cls(placement, ChannelId(f"{placement.call_id}-o1"), config, now)
        assert placement.agent is not None and placement.seat is not None
        offer = Offer(placement.agent, placement.seat, seat_channel, now, 0.0, OC.ANSWERED)
        call.facts.offers.append(offer)
        call.note("seat_dialled", now, out, {"seat": placement.seat}, agent=placement.agent)
        # The seat's channel is the agent's leg: marked as one, a restart finds it.
        out.emit(SetChannelVar(call.call_id, seat_channel, "HOTLINE_CALL_ID", call.call_id))
        out.emit(SetChannelVar(call.call_id, seat_channel, "HOTLINE_AGENT", placement.agent))
        call.dial_citizen(seat_channel, now, out)
        return call

    @classmethod
    def from_toolbar(
        cls, placement: Placement, endpoint: str, config: FlowConfig, now: float, out: Outbox
    ) -> OutboundCall:
        """Click-to-dial: ring the agent's seat at ``endpoint`` first."""
        assert placement.agent is not None and placement.seat is not None
        call = cls(placement, ChannelId(f"{placement.call_id}-o1"), config, now)
        f = call.facts
        leg = ChannelId(f.local_id("a", 1))
        ring_s = config.agent_ring_s
        f.offers.append(Offer(placement.agent, placement.seat, leg, now, float(ring_s)))
        f.stamp("first_offered_at", now)
        call.write(out)
        detail = {"seat": placement.seat, "callback": placement.callback}
        call.note("click_to_dial", now, out, detail, agent=placement.agent)
        out.emit(
            OriginateAgent(
                call_id=call.call_id,
                leg=leg,
                agent=placement.agent,
                seat=placement.seat,
                endpoint=endpoint,
                caller_id=placement.number,  # the agent's phone shows whom it will call
                timeout_s=ring_s,
                app_args=("agent", call.call_id, placement.agent),
                variables=(("HOTLINE_CALL_ID", call.call_id), ("HOTLINE_AGENT", placement.agent)),
            )
        )
        return call

    @staticmethod
    def refuse_request(placement: Placement, verdict: DialVerdict, now: float, out: Outbox) -> None:
        """A click-to-dial that may not be made: audited, and the toolbar told in one line."""
        _audit(placement, verdict, now, out)
        out.emit(
            RefuseTransfer(placement.call_id, placement.actor, "dial_refused", verdict.message)
        )

    def _refuse_at_seat(self, verdict: DialVerdict, now: float, out: Outbox) -> None:
        f = self.facts
        f.outcome = "dial_refused"
        self.write(out)
        _audit(self.placement, verdict, now, out)
        self.note("dial_refused", now, out, {"rule": verdict.rule, "message": verdict.message})
        out.emit(Answer(self.call_id, f.caller_channel))
        prompt = self.config.dial_refused_prompt
        self.close((prompt,) if prompt else (), now, out)

    # ------------------------------------------------------------ the citizen's leg

    def dial_citizen(self, agent_leg: ChannelId, now: float, out: Outbox) -> None:
        """The agent is on the line: dial the citizen, showing the presented number."""
        f = self.facts
        dialling = self.config.dialling
        if f.ended or dialling is None:
            return
        placement = self.placement
        f.agent_leg = agent_leg
        f.agent = placement.agent
        f.move(P.QUEUED, now)
        # A call out never waits in a queue: no queued_at, so the inbound figures
        # (which count the calls queued in a period) never count it.
        f.stamps.pop("queued_at", None)
        self.write(out)
        leg = f.caller_channel
        picture = CallPicture.of(f, None).to_json()  # the dialling call, for a restart
        out.emit(
            DialOut(
                call_id=self.call_id,
                leg=leg,
                endpoint=dialling.endpoint(placement.number),
                caller_id=self.config.presented_number,
                timeout_s=self.config.dial_timeout_s,
                app_args=(DIRECTION, self.call_id, leg),
                variables=(("HOTLINE_CALL_ID", self.call_id), (STATE_VAR, picture)),
                originator=agent_leg,
            )
        )
        self.note("dialling", now, out, {"presented": self.config.presented_number})

    def on_outbound_answered(self, leg: ChannelId, now: float, out: Outbox) -> None:
        """The citizen answered: bridge, record, and the conversation is the agent's."""
        f = self.facts
        placement = self.placement
        agent_leg = f.agent_leg
        if leg != f.caller_channel or f.phase is not P.QUEUED or agent_leg is None:
            out.emit(HangUp(self.call_id, leg, "normal"))
            return
        assert placement.agent is not None
        f.move(P.CONNECTED, now)
        f.segments += 1
        name = RecordingName(f"{self.call_id}-{f.segments}")
        f.recording = name
        bridge = BridgeId(f"br-{self.call_id}")
        f.bridge = bridge
        self.write(out)
        self.note("answered", now, out, {"seat": placement.seat}, agent=placement.agent)
        if agent_leg == placement.seat_channel:
            out.emit(Answer(self.call_id, agent_leg))
        out.emit(CreateBridge(self.call_id, bridge))
        out.emit(AddToBridge(self.call_id, bridge, (leg, agent_leg)))
        out.emit(RecordBridge(self.call_id, bridge, name, f.segments, (placement.agent,)))
        if f.queue is not None:
            out.acd(
                acd.CallAdopted(
                    acd.CallId(self.call_id),
                    acd.QueueId(f.queue),
                    placement.agent,
                    caller_number=placement.number,
                )
            )

    def dial_ended(self, outcome: str, status: str, now: float, out: Outbox) -> None:
        """The citizen's dial reached nobody (or the agent gave up): the call ends."""
        f = self.facts
        if f.ended or f.phase is not P.QUEUED:
            return
        f.outcome = f.outcome or outcome  # a dial ended on adoption keeps its ``failed``
        f.hangup_by = f.hangup_by or "engine"
        self.note("dial_ended", now, out, {"outcome": outcome, "status": status})
        # A busy created leg stays in the application until it is hung up.
        out.emit(HangUp(self.call_id, f.caller_channel, "normal"))
        self.finalize(now, out)

    # ------------------------------------------------------------ how it differs from inbound

    def finalize(self, now: float, out: Outbox) -> None:
        super().finalize(now, out)
        ticket_id = self.placement.visit
        if ticket_id is None or self._visit_told:
            return
        self._visit_told = True
        f = self.facts
        outcome = _VISIT_OUTCOME.get(f.outcome or "", "")
        reached = outcome == "reached"
        record = f.record()
        result = RecordVisitResult(
            self.call_id, ticket_id, outcome, now,
            agent=record.last_agent or self.placement.agent,
            recording=record.recording_ref if reached else None,
            note=f.outcome,
        )  # fmt: skip
        if self.config.visits is not None:
            result = replace(result, attempts=self.config.visits.attempts)
        out.emit(result)

    def persist(self, out: Outbox) -> None:
        """The picture follows the call once the citizen's leg is up (the dial carried
        the dialling call's: before, the leg may not exist yet)."""
        if "answered_at" in self.facts.stamps:
            super().persist(out)

    @property
    def works_callback(self) -> bool:
        return self.placement.callback is not None

    def to_survey(self, now: float, out: Outbox) -> None:
        """The agent left: a callback goes to the survey, any other call out ends."""
        if self.works_callback:
            super().to_survey(now, out)
            return
        f = self.facts
        if f.bridge is not None:
            out.emit(DestroyBridge(self.call_id, f.bridge))
            f.bridge = None
        self.close((), now, out)

    def caller_gone(self, now: float, out: Outbox) -> None:
        f = self.facts
        if f.ended:
            return
        if f.phase is P.QUEUED:
            # The citizen's leg vanished before a verdict (a link lost meanwhile).
            f.outcome = f.outcome or "failed"
            f.hangup_by = f.hangup_by or "pbx"
            self.finalize(now, out)
        elif f.phase is P.CONNECTED and not self.works_callback:
            f.hangup_by = f.hangup_by or "citizen"
            self.note("citizen_hangup", now, out, {})
            out.acd(acd.CallEnded(acd.CallId(self.call_id)))
            self.finalize(now, out)
        else:
            super().caller_gone(now, out)


def _audit(placement: Placement, verdict: DialVerdict, now: float, out: Outbox) -> None:
    out.emit(
        WriteAudit(
            at=now,
            actor=placement.actor,
            role=placement.role,
            action="dial_refused",
            target=f"number:{verdict.shown}",
            allowed=False,
            detail={"rule": verdict.rule, "message": verdict.message, "call_id": placement.call_id},
        )
    )
