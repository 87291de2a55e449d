"""The phases of an inbound call: a ``StrEnum`` and the table of allowed moves.

Theory of operation
-------------------
A call is born ``arrived`` (in the application, not yet routed: it waits
here only when the arrival could not say the redirecting number).  Its
route may play prompts first (``announcing``: a merged line's announcement,
the recording notice), then runs a menu (``menu``) or puts the caller in a
queue (``queued``, music on hold).  An agent who answers makes it
``connected``; when the agent hangs up the caller rates the call
(``survey``).  A menu or an overflow may record a message (``voicemail``);
a last prompt before the switchboard hangs up is ``closing``.  Every phase
may end (``ended``): the caller hung up, or the switchboard did.

    arrived -> announcing -> menu -> queued -> connected -> survey -> closing -> ended
                    \\          \\        \\          \\         \\
                     +----------+--------+----------+---------+--> ended (any time)

``queued -> queued`` is an overflow into another queue.  Transfers add two
phases (:mod:`switchboard.transfers`): ``transferring`` when the agent has
left and the caller waits for a transfer target to answer, and
``handed_off`` when the caller talks to a party outside the centre (a
parallel hotline, 110) with no agent of ours on the line.  A colleague who
takes the call over makes it ``connected`` again; a transfer to a queue
makes it ``queued``.  A move not in :data:`TRANSITIONS` raises
:class:`IllegalTransition`: the flow never patches its state around a
surprise.  The API shows :data:`PUBLIC_STATE`, a coarser view.
"""

from __future__ import annotations

from enum import StrEnum

from switchboard.ids import CallId


class CallPhase(StrEnum):
    """Where an inbound call stands."""

    ARRIVED = "arrived"
    ANNOUNCING = "announcing"
    MENU = "menu"
    QUEUED = "queued"
    CONNECTED = "connected"
    TRANSFERRING = "transferring"  # the agent has left; a transfer target rings
    HANDED_OFF = "handed_off"  # the caller talks to an outside party; no agent of ours
    SURVEY = "survey"
    VOICEMAIL = "voicemail"
    CLOSING = "closing"
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

PUBLIC_STATE: dict[CallPhase, str] = {
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

#: The record's column stamped when a phase is first entered.
STAMP: dict[CallPhase, str] = {
    P.ANNOUNCING: "routed_at",
    P.MENU: "routed_at",
    P.QUEUED: "queued_at",
    P.CONNECTED: "answered_at",
    P.ENDED: "ended_at",
}


class SwitchboardError(Exception):
    """The root of the switchboard's exceptions."""


class IllegalTransition(SwitchboardError):
    """A call was asked to make a move its phase table does not allow (a bug)."""

    def __init__(self, call_id: CallId, current: CallPhase, wanted: CallPhase) -> None:
        super().__init__(f"call {call_id}: {current} -> {wanted} is not allowed")
        self.call_id = call_id
        self.current = current
        self.wanted = wanted
