"""Taking calls back after a restart, from the pictures on their channels.

Theory of operation
-------------------
Asterisk is the truth about the calls in progress: it keeps the
application's channels and bridges when the engine goes away.  After a
(re)connection the shell lists the channels the switchboard does not know,
reads each caller's picture (``HOTLINE_STATE``, :mod:`switchboard.picture`)
and the agent legs carrying ``HOTLINE_CALL_ID`` and ``HOTLINE_AGENT``, and
reports them with :class:`CallsFound`, legs without a call with
:class:`StrayLegs`.  :func:`adopt` decides, by the phase the picture shows:

* **connected** with its agent leg up and the agent at a seat: the call, its
  leg and its bridge are taken as they are and the ACD is told
  (``CallAdopted``); without its agent leg the conversation is over and the
  caller is offered the survey;
* **handed_off** (the caller talks to a party outside the centre, 110 or a
  parallel hotline) with that party's leg up: the conversation goes on in
  its bridge, and when the party leaves the caller is offered the survey;
  without it, the survey at once;
* **transferring** (a blind transfer still ringing): its target is hung up
  and the caller goes back to its queue with its waiting time, as when a
  transfer fails;
* **queued**: a ringing agent leg is hung up and the caller re-enters the
  queue with its waiting time, so it keeps its place;
* **menu**: the menu session is restored from its snapshot and resumes at
  its node;
* **arrived / announcing**: the route is taken again from its start;
* **survey**: the survey starts again;
* anything else (closing, voicemail): the caller is hung up.

A call out (``direction: outbound`` in its picture) is taken back as an
:class:`~switchboard.outbound.OutboundCall`: a conversation as above (its
ACD handle only when it counts in a queue), and after it a callback's
citizen still gets the survey; a dial that was still ringing ends as
``failed`` (``engine_restart``), its legs hung up, and the agent dials again.

Every agent leg not taken back is hung up, so no phone is left on a dead
line.  Agents come back first, as ``AgentRequest(AgentLogin)`` (and a pause),
so adopted conversations find their agents at their seats.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import acd
import ivr
from switchboard.callstate import Offer, OfferOutcome
from switchboard.commands import HangUp, ReadRedirecting
from switchboard.config import FlowConfig
from switchboard.events import CallerArrived, FoundCall, FoundLeg
from switchboard.ids import BridgeId, CallId, ChannelId, RecordingName
from switchboard.inbound import InboundCall
from switchboard.outbound import DIRECTION, OutboundCall, Placement
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase
from switchboard.picture import CallPicture

P = CallPhase


def adopt(
    found: FoundCall,
    picture: CallPicture,
    config: FlowConfig,
    seat_of: Callable[[acd.AgentId], acd.SeatId | None],
    now: float,
    out: Outbox,
    place: Callable[[InboundCall], None],
) -> InboundCall:
    """The call of ``picture``, placed where it stood and set going again.

    ``place`` registers the call with the switchboard before it acts, so the
    ACD's answers about it find it.
    """
    if picture.tags.get("direction") == DIRECTION:
        call: InboundCall = _rebuild_out(found, picture, config, seat_of, now)
    else:
        call = _rebuild(found, picture, config, now)
    place(call)
    if isinstance(call, OutboundCall) and picture.phase == P.QUEUED.value:
        _end_dial(call, found, picture, now, out)
    else:
        _set_going(call, found, picture, config, seat_of, now, out)
    # Its record as taken back, and the new incarnation on the channel.
    call.write(out)
    return call


def _set_going(
    call: InboundCall,
    found: FoundCall,
    picture: CallPicture,
    config: FlowConfig,
    seat_of: Callable[[acd.AgentId], acd.SeatId | None],
    now: float,
    out: Outbox,
) -> None:
    f = call.facts
    legs = list(found.legs)
    phase = picture.phase
    call.note("adopted", now, out, {"phase": phase})
    if phase == P.CONNECTED.value:
        leg = next(
            (
                lg
                for lg in legs
                if not lg.outside
                and (lg.channel == picture.agent_leg or (lg.up and lg.agent == picture.agent))
            ),
            None,
        )
        seat = seat_of(leg.agent) if leg is not None else None
        f.phase = P.CONNECTED  # placed, not moved: the call was connected already
        if leg is not None and seat is not None:
            legs.remove(leg)
            answered = f.stamps.get("answered_at", now)
            queued = f.stamps.get("queued_at", f.arrived_at)
            f.agent, f.agent_leg = leg.agent, leg.channel
            f.bridge = BridgeId(picture.bridge) if picture.bridge else None
            f.offers.append(
                Offer(leg.agent, seat, leg.channel, answered, 0.0, OfferOutcome.ANSWERED)
            )
            _hang_up(call, legs, out)
            if isinstance(call, OutboundCall) and f.queue is None:
                return  # a call out that counts in no queue: the ACD never had it
            out.acd(
                acd.CallAdopted(
                    acd.CallId(f.call_id),
                    acd.QueueId(f.queue or ""),
                    leg.agent,
                    f.caller_number,
                    waited_s=max(0.0, answered - queued),
                    talked_s=max(0.0, now - answered),
                )
            )
            return
        _hang_up(call, legs, out)
        call.to_survey(now, out)
        return
    if phase == P.TRANSFERRING.value and f.queue:
        # A blind transfer still ringing: its target is hung up, and the caller goes
        # back to its queue with the wait it had, as when a transfer fails.
        f.phase = P.TRANSFERRING  # placed: the agent had left
        f.bridge = BridgeId(picture.bridge) if picture.bridge else None
        _hang_up(call, legs, out)
        call.transfers.requeue(now, out)
        return
    if phase == P.HANDED_OFF.value:
        f.phase = P.HANDED_OFF  # placed: the hand-off was done
        party = next((lg for lg in legs if lg.outside and lg.up), None)
        if party is not None and picture.bridge:
            legs.remove(party)
            f.bridge = BridgeId(picture.bridge)
            call.transfers.adopt_party(party.channel)
            _hang_up(call, legs, out)
            return
        _hang_up(call, legs, out)
        call.to_survey(now, out)
        return
    _hang_up(call, legs, out)
    if phase == P.QUEUED.value and f.queue:
        f.phase = P.QUEUED
        waited = now - f.stamps.get("queued_at", f.arrived_at)
        out.acd(
            acd.CallerArrived(
                acd.CallId(f.call_id),
                acd.QueueId(f.queue),
                caller_number=f.caller_number,
                waited_so_far_s=max(0.0, waited),
                priority=f.priority or None,
            )
        )
    elif phase == P.MENU.value and picture.ivr is not None:
        f.phase = P.MENU
        try:
            session = ivr.IvrSession.restore(config.menus, config.calendar, json.loads(picture.ivr))
        except (ivr.SnapshotError, ValueError):
            f.phase = P.CLOSING  # the menus changed under it: nothing to resume
            call.hang_up_caller(now, out)
            return
        call.sessions.resume_menu(session, now, out)
    elif phase in (P.ARRIVED.value, P.ANNOUNCING.value):
        out.emit(ReadRedirecting(f.call_id, f.caller_channel))
    elif phase == P.SURVEY.value:
        f.phase = P.CONNECTED
        call.to_survey(now, out)
    else:
        f.phase = P.CLOSING
        call.hang_up_caller(now, out)


def _end_dial(
    call: OutboundCall, found: FoundCall, picture: CallPicture, now: float, out: Outbox
) -> None:
    """A call out whose dial rang on when the engine went: its legs are hung up, and
    it ends as ``failed`` when the citizen's leg is gone (as any call whose caller left)."""
    f = call.facts
    call.note("adopted", now, out, {"phase": picture.phase})
    legs = list(found.legs)
    if picture.agent_leg and all(leg.channel != picture.agent_leg for leg in legs):
        out.emit(HangUp(call.call_id, ChannelId(picture.agent_leg)))
    _hang_up(call, legs, out)
    f.phase = P.QUEUED  # placed, not moved: the dial was under way
    f.outcome, f.end_reason = "failed", "engine_restart"
    f.hangup_by = "engine"
    out.emit(HangUp(call.call_id, f.caller_channel, "normal"))


def _rebuild_out(
    found: FoundCall,
    picture: CallPicture,
    config: FlowConfig,
    seat_of: Callable[[acd.AgentId], acd.SeatId | None],
    now: float,
) -> OutboundCall:
    tags = picture.tags
    agent = acd.AgentId(tags.get("agent") or picture.agent or "") or None
    placement = Placement(
        call_id=CallId(picture.call_id),
        agent=agent,
        seat=seat_of(agent) if agent is not None else None,
        number=picture.caller_number,
        queue=picture.queue,
        callback=tags.get("callback"),
        missed_call_id=tags.get("missed_call_id"),
        visit=tags.get("return_visit"),
    )
    call = OutboundCall(placement, found.channel, config, picture.arrived_at or now)
    _restore(call, picture, config)
    return call


def _rebuild(found: FoundCall, picture: CallPicture, config: FlowConfig, now: float) -> InboundCall:
    arrived = CallerArrived(
        CallId(picture.call_id),
        found.channel,
        picture.dialled,
        picture.caller_number,
        picture.caller_name,
    )
    call = InboundCall(arrived, config, picture.arrived_at or now)
    _restore(call, picture, config)
    return call


def _restore(call: InboundCall, picture: CallPicture, config: FlowConfig) -> None:
    """The facts of ``picture`` on the rebuilt ``call``."""
    f = call.facts
    f.original_number = picture.original_number
    f.department = picture.department
    f.line_name = picture.line_name
    f.route = picture.route
    f.queue = picture.queue
    f.priority = picture.priority
    f.language = picture.language
    f.first_agent = acd.AgentId(picture.first_agent) if picture.first_agent else None
    f.recording = RecordingName(picture.recording) if picture.recording else None
    f.tags = dict(picture.tags)
    f.stamps = dict(picture.stamps)
    f.config_version = picture.config_version or config.version
    f.incarnation = picture.incarnation + 1


def _hang_up(call: InboundCall, legs: list[FoundLeg], out: Outbox) -> None:
    for leg in legs:
        out.emit(HangUp(call.call_id, leg.channel))
    legs.clear()
