"""One citizen call, as the engine tracks it from ring to rating.

Theory of operation
-------------------
A call is born when the caller's channel enters the application
(``StasisStart`` with args ``inbound,<exten>``) and keeps one identity, its
:class:`~cti.ids.CallId`, through every transfer (首接负责制).  The id is
stored on the caller's channel as ``HOTLINE_CALL_ID`` so that a restarted
engine can adopt the call (see ``engine_ws_drop_and_return.jsonl``).

The call moves through the phases of :data:`TRANSITIONS`; any other move is a
bug and raises :class:`IllegalCallTransition`.  Each move stamps the time of
the matching lifecycle column of the ``calls`` table, so the record always
says when each thing happened.

Transfers add two phases (see :mod:`cti.engine.transfers`): ``transferring``
when the agent has left and the caller waits for a transfer target to answer,
and ``handed_off`` when the caller talks to a party outside the centre (a
parallel hotline, 110) with no agent of ours on the line.  A colleague who
takes a call over makes it ``connected`` again, with a new agent.

``phase`` is internal; the API shows :attr:`Call.public_state`, a coarser
view (``ivr``, ``waiting``, ``ringing``, ``talking``, ``transferring``,
``handed_off``, ``rating``, ``ended``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cti.errors import CtiError
from cti.ids import BridgeId, CallId, ChannelId


class CallPhase(StrEnum):
    ARRIVED = "arrived"  # in Stasis, not yet routed
    ANNOUNCING = "announcing"  # recording notice / merged-line announcement
    MENU = "menu"  # walking an IVR menu
    QUEUED = "queued"  # waiting for an agent, music on hold
    CONNECTED = "connected"  # bridged with an agent
    TRANSFERRING = "transferring"  # the agent has left; a transfer target rings
    HANDED_OFF = "handed_off"  # bridged with an outside party; no agent of ours
    SURVEY = "survey"  # the satisfaction rating after the agent left
    VOICEMAIL = "voicemail"  # recording a message
    CLOSING = "closing"  # a last prompt, then hang-up
    ENDED = "ended"


P = CallPhase
TRANSITIONS: dict[CallPhase, frozenset[CallPhase]] = {
    P.ARRIVED: frozenset({P.ANNOUNCING, P.MENU, P.QUEUED, P.CLOSING, P.ENDED}),
    P.ANNOUNCING: frozenset({P.MENU, P.QUEUED, P.CLOSING, P.ENDED}),
    P.MENU: frozenset({P.QUEUED, P.VOICEMAIL, P.CLOSING, P.ENDED}),
    P.QUEUED: frozenset({P.CONNECTED, P.VOICEMAIL, P.CLOSING, P.QUEUED, P.ENDED}),
    P.CONNECTED: frozenset({P.SURVEY, P.QUEUED, P.TRANSFERRING, P.HANDED_OFF, P.CLOSING, P.ENDED}),
    P.TRANSFERRING: frozenset({P.HANDED_OFF, P.CONNECTED, P.QUEUED, P.SURVEY, P.CLOSING, P.ENDED}),
    P.HANDED_OFF: frozenset({P.SURVEY, P.CLOSING, P.ENDED}),
    P.SURVEY: frozenset({P.CLOSING, P.ENDED}),
    P.VOICEMAIL: frozenset({P.CLOSING, P.ENDED}),
    P.CLOSING: frozenset({P.ENDED}),
    P.ENDED: frozenset(),
}

PUBLIC_STATE = {
    P.ARRIVED: "ivr",
    P.ANNOUNCING: "ivr",
    P.MENU: "ivr",
    P.QUEUED: "waiting",
    P.CONNECTED: "talking",
    P.TRANSFERRING: "transferring",
    P.HANDED_OFF: "handed_off",
    P.SURVEY: "rating",
    P.VOICEMAIL: "voicemail",
    P.CLOSING: "ending",
    P.ENDED: "ended",
}

# The column stamped when a phase is entered (first time only).
STAMP = {
    P.ANNOUNCING: "routed_at",
    P.MENU: "routed_at",
    P.QUEUED: "queued_at",
    P.CONNECTED: "answered_at",
    P.ENDED: "ended_at",
}


class IllegalCallTransition(CtiError):
    def __init__(self, call_id: CallId, current: CallPhase, wanted: CallPhase) -> None:
        super().__init__(f"call {call_id}: {current} -> {wanted} is not allowed")
        self.call_id = call_id
        self.current = current
        self.wanted = wanted


@dataclass
class Offer:
    """One attempt to reach an agent: who, when, and how it ended."""

    agent: str
    seat: str
    channel: ChannelId
    at: datetime
    outcome: str = "ringing"  # ringing | answered | no_answer | busy | failed | cancelled
    ended_at: datetime | None = None


@dataclass
class Call:
    call_id: CallId
    caller_channel: ChannelId
    caller_number: str
    caller_name: str
    dialled: str
    arrived_at: datetime
    config_version: str
    phase: CallPhase = P.ARRIVED
    original_number: str | None = None
    department: str | None = None
    line_name: str | None = None
    route: str | None = None
    language: str = "zh"
    queue: str | None = None
    priority: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    menu_path: list[dict[str, Any]] = field(default_factory=list)
    stamps: dict[str, datetime] = field(default_factory=dict)
    offers: list[Offer] = field(default_factory=list)
    agent: str | None = None
    agent_channel: ChannelId | None = None
    first_agent: str | None = None
    bridge_id: BridgeId | None = None
    recording_name: str | None = None
    hangup_by: str | None = None
    end_reason: str | None = None
    outcome: str | None = None
    rating: int | None = None
    rating_label: str | None = None
    playback: str | None = None  # the playback the engine waits for, if any
    playback_skippable: bool = False  # a key press may skip it (merged-line announcement)
    decision: Any = None  # the routing decision (cti.config.RouteDecision)
    variables: dict[str, str] = field(default_factory=dict)
    persisted: str = ""  # the HOTLINE_STATE last written on the caller channel
    legs: list[dict[str, Any]] = field(default_factory=list)
    held: bool = False  # the caller is on hold (out of the bridge, music)
    muted: bool = False  # the agent's leg is muted towards the call

    def __repr__(self) -> str:
        return f"<Call {self.call_id} {self.phase} queue={self.queue} agent={self.agent}>"

    @property
    def public_state(self) -> str:
        return PUBLIC_STATE[self.phase]

    @property
    def ended(self) -> bool:
        return self.phase is P.ENDED

    def move(self, wanted: CallPhase, at: datetime) -> None:
        if wanted not in TRANSITIONS[self.phase]:
            raise IllegalCallTransition(self.call_id, self.phase, wanted)
        self.phase = wanted
        column = STAMP.get(wanted)
        if column is not None:
            self.stamps.setdefault(column, at)

    def stamp(self, column: str, at: datetime) -> None:
        self.stamps.setdefault(column, at)

    @property
    def ringing_offer(self) -> Offer | None:
        for offer in reversed(self.offers):
            if offer.outcome == "ringing":
                return offer
        return None

    def record(self) -> dict[str, Any]:
        """The row of the ``calls`` table, as of now."""
        return {
            "call_id": self.call_id,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "dialled": self.dialled,
            "original_number": self.original_number,
            "department": self.department,
            "line_name": self.line_name,
            "route": self.route,
            "menu_path": self.menu_path,
            "tags": self.tags,
            "queue": self.queue,
            "priority": self.priority,
            "first_agent": self.first_agent,
            "last_agent": self.agent,
            "arrived_at": self.arrived_at,
            "routed_at": self.stamps.get("routed_at"),
            "menu_exited_at": self.stamps.get("menu_exited_at"),
            "queued_at": self.stamps.get("queued_at"),
            "first_offered_at": self.stamps.get("first_offered_at"),
            "answered_at": self.stamps.get("answered_at"),
            "ended_at": self.stamps.get("ended_at"),
            "hangup_by": self.hangup_by,
            "end_reason": self.end_reason,
            "outcome": self.outcome,
            "rating": self.rating,
            "rating_label": self.rating_label,
            "rated_at": self.stamps.get("rated_at"),
            "recording_ref": self.recording_name,
            "config_version": self.config_version,
        }
