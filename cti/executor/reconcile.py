"""After a (re)connection: what Asterisk kept, read and told to the switchboard.

Asterisk keeps the application's channels when the engine goes away
(``engine_ws_drop_and_return.jsonl``).  The ARI client compares what the
switchboard knows with what Asterisk lists (:class:`cti.ari.Reconciled`);
this module reads what the switchboard needs of the channels it does not
know: each caller's picture (``HOTLINE_STATE``), the agent legs carrying
``HOTLINE_CALL_ID`` and ``HOTLINE_AGENT``, and the transfers' legs carrying
``HOTLINE_LEG`` (ringing legs too, which are not in the application yet).
The switchboard decides what becomes of them (:mod:`switchboard.adoption`).
The legs nobody can take back are reported as strays, to be hung up: the
citizens' legs of automatic return visits (``HOTLINE_TICKET_ID``), the
supervisors' monitoring legs (``HOTLINE_MONITOR``) and the snoops they
listened through.  The application's bridges no call took back are
destroyed (:meth:`cti.executor.intake.Intake`).
"""

from __future__ import annotations

from collections.abc import Mapping

import acd
from cti.ari.models import Channel
from cti.ari.reconcile import ReconcileReport
from cti.engine.pbx import Pbx
from switchboard import events as ev
from switchboard.ids import CallId, ChannelId
from switchboard.picture import STATE_VAR, CallPicture, PictureError

_RINGING = frozenset({"Down", "Ring", "Ringing"})
SNOOP = "Snoop/"
"""How Asterisk names a snoop channel (``supervisor_snoop.jsonl``)."""


async def pbx_startup(pbx: Pbx) -> str | None:
    """When Asterisk last started (``/asterisk/info``), to recognise its restarts."""
    try:
        info = await pbx.ari.asterisk.info()
    except Exception:
        return None
    status = info.status or {}
    return str(status.get("startup_time") or "") or None


async def _leg(
    pbx: Pbx,
    channel: Channel,
    legs: dict[str, list[ev.FoundLeg]],
    strays: dict[str, list[ChannelId]],
) -> None:
    leg = ChannelId(channel.id)
    call_id = await pbx.get_var(leg, "HOTLINE_CALL_ID")
    if not call_id:
        return
    agent = await pbx.get_var(leg, "HOTLINE_AGENT")
    up = channel.state == "Up"
    if agent:
        legs.setdefault(call_id, []).append(ev.FoundLeg(leg, acd.AgentId(agent), up))
    elif await pbx.get_var(leg, "HOTLINE_LEG"):
        legs.setdefault(call_id, []).append(ev.FoundLeg(leg, acd.AgentId(""), up, outside=True))
    elif await pbx.get_var(leg, "HOTLINE_TICKET_ID") or await pbx.get_var(leg, "HOTLINE_MONITOR"):
        # An automatic return visit's citizen (the visit is due again) or a
        # supervisor's monitoring leg (they listen again if they wish): nobody
        # takes them back, so they are hung up rather than left on a silent line.
        strays.setdefault(call_id, []).append(leg)


def _call_of(picture: str) -> str:
    try:
        return CallPicture.from_json(picture).call_id
    except PictureError:
        return ""


async def found_calls(
    pbx: Pbx, report: ReconcileReport, known: frozenset[ChannelId]
) -> tuple[ev.CallsFound, list[ev.StrayLegs]]:
    """The calls of a previous process found on Asterisk, and the legs of no call found."""
    listed: Mapping[ChannelId, Channel] = report.listed_channels
    unknown = report.channels.unknown
    pictures: list[tuple[ChannelId, str]] = []
    legs: dict[str, list[ev.FoundLeg]] = {}
    loose: dict[str, list[ChannelId]] = {}
    for channel_id in sorted(unknown):
        channel = listed.get(channel_id)
        if channel is None:
            continue
        picture = await pbx.get_var(channel_id, STATE_VAR)
        if picture:
            pictures.append((channel_id, picture))
        elif channel.name.startswith(SNOOP):
            # A supervisor's snoop: the engine snoops only to monitor, and no
            # monitoring outlives it (the supervisor's leg is hung up too).
            loose.setdefault("", []).append(channel_id)
        else:
            await _leg(pbx, channel, legs, loose)
    for channel in listed.values():
        if channel.id not in unknown and channel.id not in known and channel.state in _RINGING:
            await _leg(pbx, channel, legs, loose)
    calls = [
        ev.FoundCall(channel_id, picture, tuple(legs.pop(_call_of(picture), [])))
        for channel_id, picture in pictures
    ]
    strays = [
        ev.StrayLegs(CallId(call_id), tuple(leg.channel for leg in call_legs))
        for call_id, call_legs in legs.items()
    ]
    strays += [ev.StrayLegs(CallId(call_id), tuple(chans)) for call_id, chans in loose.items()]
    return ev.CallsFound(tuple(calls)), strays
