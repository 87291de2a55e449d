"""Typed ARI WebSocket events (``events.json`` of Asterisk 22.10.1).

:func:`parse_event` turns one decoded JSON object into the event class named
by its ``type``.  An event of a type the engine does not use, or one that does
not match its model, becomes a :class:`GenericEvent` carrying every field; it
is never an exception.  :func:`decode_event` also takes the raw WebSocket text
and returns ``None`` (after logging) for anything that is not a JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import ValidationError

from cti.ari.models import AriModel, Bridge, Channel, LiveRecording, Playback

log = structlog.get_logger(__name__)


class AriEvent(AriModel):
    """Fields every ARI event carries (``Message`` and ``Event`` in Swagger)."""

    type: str
    application: str
    timestamp: datetime
    asterisk_id: str | None = None


class GenericEvent(AriEvent):
    """Any other event, every field kept (read them with ``model_extra``)."""

    application: str = ""
    timestamp: datetime | str | None = None  # type: ignore[assignment]


class StasisStart(AriEvent):
    """A channel entered the application; ``args`` are the Stasis arguments
    (``inbound,12345`` from the dialplan, ``agent,c-0001`` on originate)."""

    type: Literal["StasisStart"]
    args: tuple[str, ...]
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(AriEvent):
    type: Literal["StasisEnd"]
    channel: Channel


class ChannelStateChange(AriEvent):
    type: Literal["ChannelStateChange"]
    channel: Channel


class ChannelDtmfReceived(AriEvent):
    type: Literal["ChannelDtmfReceived"]
    digit: str
    duration_ms: int
    channel: Channel


class ChannelHangupRequest(AriEvent):
    type: Literal["ChannelHangupRequest"]
    channel: Channel
    cause: int | None = None
    tech_cause: int | None = None
    soft: bool | None = None


class ChannelDestroyed(AriEvent):
    """The channel is gone; ``cause`` 16 normal, 17 busy, 19 no answer."""

    type: Literal["ChannelDestroyed"]
    cause: int
    cause_txt: str
    channel: Channel
    tech_cause: int | None = None


class ChannelVarset(AriEvent):
    """A variable was set; no ``channel`` for a global variable."""

    type: Literal["ChannelVarset"]
    variable: str
    value: str
    channel: Channel | None = None


class Dial(AriEvent):
    """Progress of a dial: ``dialstatus`` empty at the start, then
    ``RINGING``, ``ANSWER``, ``BUSY``, ``NOANSWER``, ``CANCEL``..."""

    type: Literal["Dial"]
    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    forward: str | None = None
    forwarded: Channel | None = None
    dialstring: str | None = None


class ChannelEnteredBridge(AriEvent):
    type: Literal["ChannelEnteredBridge"]
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(AriEvent):
    type: Literal["ChannelLeftBridge"]
    bridge: Bridge
    channel: Channel


class BridgeCreated(AriEvent):
    type: Literal["BridgeCreated"]
    bridge: Bridge


class BridgeDestroyed(AriEvent):
    type: Literal["BridgeDestroyed"]
    bridge: Bridge


class ChannelConnectedLine(AriEvent):
    type: Literal["ChannelConnectedLine"]
    channel: Channel


class PlaybackStarted(AriEvent):
    type: Literal["PlaybackStarted"]
    playback: Playback


class PlaybackFinished(AriEvent):
    type: Literal["PlaybackFinished"]
    playback: Playback


class RecordingStarted(AriEvent):
    type: Literal["RecordingStarted"]
    recording: LiveRecording


class RecordingFinished(AriEvent):
    type: Literal["RecordingFinished"]
    recording: LiveRecording


class RecordingFailed(AriEvent):
    type: Literal["RecordingFailed"]
    recording: LiveRecording


EVENT_TYPES: dict[str, type[AriEvent]] = {
    cls.__name__: cls
    for cls in (
        StasisStart,
        StasisEnd,
        ChannelStateChange,
        ChannelDtmfReceived,
        ChannelHangupRequest,
        ChannelDestroyed,
        ChannelVarset,
        Dial,
        ChannelEnteredBridge,
        ChannelLeftBridge,
        BridgeCreated,
        BridgeDestroyed,
        ChannelConnectedLine,
        PlaybackStarted,
        PlaybackFinished,
        RecordingStarted,
        RecordingFinished,
        RecordingFailed,
    )
}
"""The typed events, by their ARI ``type``."""


def parse_event(data: Mapping[str, Any]) -> AriEvent:
    """The typed event for ``data``, or a :class:`GenericEvent` (an unknown
    type, or a known type that does not match its model, which is logged).
    Raises :class:`ValueError` only when ``data`` has no string ``type``."""
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ValueError("ARI event without a type")
    cls = EVENT_TYPES.get(kind)
    if cls is not None:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            log.warning(
                "ari_event_invalid",
                event_type=kind,
                errors=[f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()],
            )
    try:
        return GenericEvent.model_validate(data)
    except ValidationError:
        return GenericEvent.model_validate({"type": kind})


def decode_event(text: str | bytes) -> AriEvent | None:
    """Decode one WebSocket message; ``None`` (logged) for malformed JSON."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("ari_event_malformed", reason=str(exc), excerpt=_excerpt(text))
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        log.warning("ari_event_malformed", reason="not an event object", excerpt=_excerpt(text))
        return None
    return parse_event(data)


def _excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[:200]
