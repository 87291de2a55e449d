"""ARI events as switchboard events: :func:`translate`.

One ARI event becomes at most one :mod:`switchboard.events` event, by its
type and, for ``StasisStart``, by its role (the first Stasis argument):

- ``inbound,<exten>[,<redirecting>]`` (or no argument): a caller arrived;
  the redirecting number rides in the third argument, or in ``channelvars``
  when ari.conf lists ``REDIRECTING(from-num)``
  (``channelvars_and_stasis_args.jsonl``); ``None`` when neither says;
- ``agent,<call>,<agent>``: an agent leg answered;
- ``consultee,<call>,<leg>``: a transfer target answered;
- ``supervisor,<call>,<session>`` / ``snoop,<call>,<session>``: a
  supervisor's seat answered, a snoop channel started.

``StasisEnd`` and ``ChannelDestroyed`` say a channel left (the switchboard
forgets a channel on its first leaving, so the second changes nothing);
``Dial`` with a final unanswered status is an agent leg's verdict.  What
the switchboard has no use for translates to ``None``.  Nothing here reads
any call's state: the switchboard decides what an event means to a call.
"""

from __future__ import annotations

from collections.abc import Callable

import acd
from cti import ami
from cti.ari import events as ari
from switchboard import events as ev
from switchboard.ids import CallId, ChannelId, PlaybackId, RecordingName

REDIRECTING = "REDIRECTING(from-num)"

_VERDICTS = {status.value: status for status in ev.DialStatus}


def role(event: ari.StasisStart) -> str:
    """What a ``StasisStart`` is for: its first argument (``inbound`` if none)."""
    return event.args[0] if event.args else "inbound"


def redirecting(event: ari.StasisStart) -> str | None:
    """The number the call was forwarded from, if the event says ('' when not forwarded)."""
    if len(event.args) > 2:
        return event.args[2]
    channelvars = event.channel.channelvars or {}
    if REDIRECTING in channelvars:
        return str(channelvars[REDIRECTING] or "")
    return None


def arrival(event: ari.StasisStart, call_id: CallId) -> ev.CallerArrived:
    """The arrival of a caller (role ``inbound``) as the call ``call_id``."""
    channel = event.channel
    dialled = event.args[1] if len(event.args) > 1 else channel.dialplan.exten
    return ev.CallerArrived(
        call_id=call_id,
        channel=ChannelId(channel.id),
        dialled=dialled,
        caller_number=channel.caller.number or "",
        caller_name=channel.caller.name or "",
        redirecting=redirecting(event),
    )


def _stasis_start(event: ari.StasisStart) -> ev.Event | None:
    args = event.args
    leg = ChannelId(event.channel.id)
    if len(args) < 3:
        return None
    call_id = CallId(args[1])
    match args[0]:
        case "agent":
            return ev.AgentLegAnswered(leg, call_id, acd.AgentId(args[2]))
        case "consultee":
            return ev.ConsulteeAnswered(leg, call_id)
        case "supervisor":
            return ev.SupervisorAnswered(leg, call_id)
        case "snoop":
            return ev.SnoopStarted(leg, call_id)
    return None


def translate(event: ari.AriEvent, new_call: Callable[[], CallId]) -> ev.Event | None:
    """The switchboard event of ``event``; ``new_call`` names a caller's new call."""
    match event:
        case ari.StasisStart():
            if role(event) == "inbound":
                return arrival(event, new_call())
            return _stasis_start(event)
        case ari.StasisEnd():
            return ev.ChannelLeft(ChannelId(event.channel.id))
        case ari.ChannelDestroyed():
            return ev.ChannelLeft(ChannelId(event.channel.id), event.cause)
        case ari.Dial():
            verdict = _VERDICTS.get((event.dialstatus or "").upper())
            if verdict is None:
                return None  # ringing, progress, or ANSWER (its StasisStart follows)
            return ev.LegDialed(ChannelId(event.peer.id), verdict)
        case ari.ChannelDtmfReceived():
            return ev.DtmfReceived(ChannelId(event.channel.id), event.digit)
        case ari.PlaybackFinished():
            return ev.PlaybackFinished(PlaybackId(event.playback.id))
        case ari.RecordingStarted():
            return ev.RecordingStarted(RecordingName(event.recording.name))
        case ari.RecordingFinished():
            return ev.RecordingFinished(RecordingName(event.recording.name))
        case ari.RecordingFailed():
            return ev.RecordingFailed(
                RecordingName(event.recording.name), event.recording.cause or ""
            )
    return None


_REACHABLE = frozenset({"Reachable", "NonQualified", "Created"})
_UNREACHABLE = frozenset({"Removed", "Unreachable"})


def seat_change(event: object, seat_of: Callable[[str], str | None]) -> ev.SeatChanged | None:
    """An AMI event about a seat's phone as a switchboard event (``seat_of(endpoint)``)."""
    match event:
        case ami.ContactStatus():
            seat = seat_of(event.aor) or seat_of(event.endpoint)
            if seat is None:
                return None
            if event.status in _REACHABLE:
                return ev.SeatChanged(acd.SeatReachability(acd.SeatId(seat), True))
            if event.status in _UNREACHABLE:
                return ev.SeatChanged(acd.SeatReachability(acd.SeatId(seat), False))
        case ami.DeviceStateChange():
            seat = seat_of(event.device)
            if seat is not None:
                state = acd.DeviceState.from_ami(event.state)
                return ev.SeatChanged(acd.SeatDeviceState(acd.SeatId(seat), state))
    return None
