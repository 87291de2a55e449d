"""ARI events as switchboard events: :func:`translate`.

One ARI event becomes at most one :mod:`switchboard.events` event, by its
type and, for ``StasisStart``, by its role (the first Stasis argument):

- ``seat,<exten>``: a seat phone dialled a number (:func:`seat_dialled`,
  which needs the seats, so the intake translates it);
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

A leg placed with ``DialOut`` (created into the application, then dialled)
is followed by :class:`DialOuts` until its dial has a verdict
(``create_then_dial_answer_busy_timeout.jsonl``): its ``StasisStart``
comes after the create, before any dialling, and means nothing to the
switchboard; but only from then on is the channel in the application: a
dial sent as soon as the create answered can be refused ``409 Channel not
in Stasis application`` (Asterisk 22 answers the create before the channel
has entered), so the dial waits for it (:meth:`DialOuts.in_application`); ``Dial``
``ANSWER`` is ``OutboundAnswered``; ``Dial`` BUSY (and the other final
statuses) is ``LegDialed``; a dial timeout says no ``Dial`` at all, only
``StasisEnd`` then ``ChannelDestroyed`` cause 19, so the verdict is read
from the cause of the ``ChannelDestroyed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import acd
from cti import ami
from cti.ari import events as ari
from switchboard import events as ev
from switchboard.ids import CallId, ChannelId, PlaybackId, RecordingName

REDIRECTING = "REDIRECTING(from-num)"

_VERDICTS = {status.value: status for status in ev.DialStatus}
_CAUSES = {17: ev.DialStatus.BUSY, 18: ev.DialStatus.NOANSWER, 19: ev.DialStatus.NOANSWER}
_CAUSE_CONGESTION = frozenset({34, 38, 41, 42})


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


def seat_dialled(
    event: ari.StasisStart, call_id: CallId, seat_of: Callable[[str], str | None]
) -> ev.SeatDialled:
    """A seat phone's call (role ``seat``, ``Stasis(hotline,seat,${EXTEN})``) as a call out.

    The seat is found from the channel's endpoint (``PJSIP/8001-00000003``
    -> ``PJSIP/8001``), else from its caller number.
    """
    channel = event.channel
    endpoint = channel.name.rsplit("-", 1)[0] if "-" in channel.name else channel.name
    seat = seat_of(endpoint) or seat_of(channel.caller.number or "")
    dialled = event.args[1] if len(event.args) > 1 else channel.dialplan.exten
    return ev.SeatDialled(
        call_id, ChannelId(channel.id), acd.SeatId(seat) if seat else None, dialled
    )


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


def cause_verdict(cause: int | None) -> ev.DialStatus:
    """The verdict of a dial the hang-up ``cause`` (Q.850) ended without an answer."""
    if cause in _CAUSES:
        return _CAUSES[cause]
    if cause in _CAUSE_CONGESTION:
        return ev.DialStatus.CONGESTION
    if cause in (16, 32):  # cleared by our own hang-up while it rang
        return ev.DialStatus.CANCEL
    return ev.DialStatus.CHANUNAVAIL


class DialOuts:
    """The ``DialOut`` legs whose dial has no verdict yet, and their events translated."""

    def __init__(self) -> None:
        self._open: dict[ChannelId, CallId] = {}
        self._entered: dict[ChannelId, asyncio.Event] = {}

    def __repr__(self) -> str:
        return f"<DialOuts open={len(self._open)}>"

    def __len__(self) -> int:
        return len(self._open)

    def placed(self, leg: ChannelId, call_id: CallId) -> None:
        """A leg is about to be created; its dial's verdict is awaited from now on."""
        self._open[leg] = call_id
        self._entered[leg] = asyncio.Event()

    def settled(self, leg: ChannelId) -> bool:
        """Stop following ``leg`` (its verdict was reported); True if it was followed."""
        self._release(leg)
        return self._open.pop(leg, None) is not None

    async def in_application(self, leg: ChannelId, timeout: float) -> bool:
        """Wait until the created ``leg`` entered the application (its ``StasisStart``).

        True once it did; also True, at once, for a leg no longer followed
        (its verdict came meanwhile: the dial will say what is left of it);
        False when ``timeout`` seconds passed without it.
        """
        entered = self._entered.get(leg)
        if entered is None:
            return True
        try:
            async with asyncio.timeout(timeout):
                await entered.wait()
        except TimeoutError:
            return False
        return True

    def _release(self, leg: ChannelId) -> None:
        entered = self._entered.pop(leg, None)
        if entered is not None:
            entered.set()

    def concerns(self, event: ari.AriEvent) -> bool:
        """Whether ``event`` is about a followed leg (then :meth:`translate` reads it)."""
        match event:
            case ari.Dial():
                return ChannelId(event.peer.id) in self._open
            case ari.StasisStart() | ari.StasisEnd() | ari.ChannelDestroyed():
                return ChannelId(event.channel.id) in self._open
        return False

    def translate(self, event: ari.AriEvent) -> ev.Event | None:
        """The switchboard event of an event :meth:`concerns` says is about a followed leg."""
        match event:
            case ari.Dial():
                leg = ChannelId(event.peer.id)
                status = (event.dialstatus or "").upper()
                if status == "ANSWER":
                    self._release(leg)
                    return ev.OutboundAnswered(leg, self._open.pop(leg))
                verdict = _VERDICTS.get(status)
                if verdict is None:
                    return None  # the dial string, RINGING, PROGRESS
                self._release(leg)
                self._open.pop(leg, None)
                return ev.LegDialed(leg, verdict)
            case ari.ChannelDestroyed():
                leg = ChannelId(event.channel.id)
                self._release(leg)
                self._open.pop(leg, None)
                return ev.LegDialed(leg, cause_verdict(event.cause))
            case ari.StasisStart():
                # The created channel is in the application: it may be dialled now.
                self._release(ChannelId(event.channel.id))
        # The StasisEnd of a dial that timed out (its ChannelDestroyed, with
        # the cause, follows).
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
