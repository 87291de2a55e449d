"""The facts of one call: who, where, when, and how it ended; its offers.

:class:`CallFacts` is owned by one :class:`~switchboard.inbound.InboundCall`;
nothing else changes it.  It makes the call's record and ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import acd
import transfer
from switchboard.ids import BridgeId, CallId, ChannelId, RecordingName
from switchboard.phases import STAMP, TRANSITIONS, CallPhase, IllegalTransition
from switchboard.records import CallRecord, MenuStep, RatingRecord, Ticket


class OfferOutcome(StrEnum):
    """How one attempt to reach an agent stands or ended."""

    RINGING = "ringing"
    ANSWERED = "answered"  # the leg answered; bridged once the ACD connects it
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Offer:
    """One agent leg: who, where, when, and how it ended."""

    agent: acd.AgentId
    seat: acd.SeatId
    leg: ChannelId
    at: float
    ring_timeout_s: float
    outcome: OfferOutcome = OfferOutcome.RINGING
    ended_at: float | None = None
    hung_up: bool = False  # the switchboard asked for the leg's hang-up, or it left


@dataclass
class CallFacts:
    """Everything the record and the ticket say about one call."""

    call_id: CallId
    caller_channel: ChannelId
    caller_number: str
    caller_name: str
    dialled: str
    arrived_at: float
    config_version: str
    phase: CallPhase = CallPhase.ARRIVED
    original_number: str | None = None
    department: str | None = None
    line_name: str | None = None
    route: str | None = None
    language: str = "zh"
    queue: str | None = None
    priority: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    menu_path: tuple[MenuStep, ...] = ()
    stamps: dict[str, float] = field(default_factory=dict)
    offers: list[Offer] = field(default_factory=list)
    agent: acd.AgentId | None = None
    agent_leg: ChannelId | None = None
    first_agent: acd.AgentId | None = None
    bridge: BridgeId | None = None
    recording: RecordingName | None = None
    segments: int = 0
    hangup_by: str | None = None
    end_reason: str | None = None
    outcome: str | None = None
    rating: int | None = None
    rating_label: str | None = None
    transfer_legs: list[transfer.LegRecord] = field(default_factory=list)
    held: bool = False  # the caller is on hold (out of the bridge, music)
    muted: bool = False  # the agent's leg is muted towards the call
    incarnation: int = 0  # how many times the call was taken back after a restart
    ticket_kind: str | None = None  # the kind of an answered call's ticket (call when None)

    def local_id(self, kind: str, n: int) -> str:
        """The id of the ``n``-th thing of ``kind`` (``a`` leg, ``p`` playback ...) of the call.

        A call taken back after a restart numbers its things afresh under a
        new incarnation, so no id of the previous process is used again.
        """
        if not self.incarnation:
            return f"{self.call_id}-{kind}{n}"
        return f"{self.call_id}-{kind}{self.incarnation}.{n}"

    @property
    def ended(self) -> bool:
        return self.phase is CallPhase.ENDED

    def move(self, wanted: CallPhase, now: float) -> None:
        """Apply one move of the phase table; stamp its column the first time."""
        if wanted not in TRANSITIONS[self.phase]:
            raise IllegalTransition(self.call_id, self.phase, wanted)
        self.phase = wanted
        column = STAMP.get(wanted)
        if column is not None:
            self.stamps.setdefault(column, now)

    def stamp(self, column: str, now: float) -> None:
        self.stamps.setdefault(column, now)

    def offer_of(self, leg: ChannelId) -> Offer | None:
        for offer in self.offers:
            if offer.leg == leg:
                return offer
        return None

    @property
    def ringing(self) -> bool:
        return any(o.outcome is OfferOutcome.RINGING for o in self.offers)

    def record(self) -> CallRecord:
        """The row of ``calls`` as of now."""
        s = self.stamps.get
        return CallRecord(
            call_id=self.call_id,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            dialled=self.dialled,
            original_number=self.original_number,
            department=self.department,
            line_name=self.line_name,
            route=self.route,
            menu_path=self.menu_path,
            tags=dict(self.tags),
            queue=self.queue,
            priority=self.priority,
            first_agent=self.first_agent,
            last_agent=self.agent,
            arrived_at=self.arrived_at,
            routed_at=s("routed_at"),
            menu_exited_at=s("menu_exited_at"),
            queued_at=s("queued_at"),
            first_offered_at=s("first_offered_at"),
            answered_at=s("answered_at"),
            ended_at=s("ended_at"),
            hangup_by=self.hangup_by,
            end_reason=self.end_reason,
            outcome=self.outcome,
            rating=self.rating,
            rating_label=self.rating_label,
            rated_at=s("rated_at"),
            recording_ref=self.recording,
            config_version=self.config_version,
        )

    def rating_record(self, now: float) -> RatingRecord | None:
        """The rating row: only an answered call that was rated or declared not rated."""
        if self.rating_label is None or "answered_at" not in self.stamps:
            return None
        at = self.stamps.get("rated_at", now)
        return RatingRecord(self.call_id, self.rating, self.rating_label, at)

    def ticket(self) -> Ticket | None:
        """The ticket of an answered call, a voicemail or a callback; None otherwise."""
        kinds = {"answered": "call", "voicemail": "voicemail", "callback": "callback"}
        kind = kinds.get(self.outcome or "")
        if kind is None:
            return None
        if kind == "call" and self.ticket_kind is not None:
            kind = self.ticket_kind  # a call out that answered a missed call: callback
        agents = tuple(sorted({o.agent for o in self.offers if o.outcome is OfferOutcome.ANSWERED}))
        return Ticket(
            call_id=self.call_id,
            kind=kind,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            dialled=self.dialled,
            original_number=self.original_number,
            department=self.department,
            line_name=self.line_name,
            menu_path=self.menu_path,
            tags=dict(self.tags),
            queue=self.queue,
            first_agent=self.first_agent,
            agents=agents,
            arrived_at=self.arrived_at,
            answered_at=self.stamps.get("answered_at"),
            ended_at=self.stamps.get("ended_at"),
            rating=self.rating,
            rating_label=self.rating_label,
            recording=self.recording,
            legs=tuple(self.transfer_legs),
        )
