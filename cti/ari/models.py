"""ARI resource models (Swagger ``models`` of Asterisk 22.10.1).

Field names, and which fields are required, follow
``tests/fixtures/asterisk/ari/{channels,bridges,playbacks,recordings,
applications,endpoints,asterisk,deviceStates}.json``.  Models are frozen and
keep any field Asterisk sends that is not modelled here (``extra="allow"``),
so nothing is lost when a newer Asterisk adds one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from cti.ids import BridgeId, ChannelId, PlaybackId, RecordingName


class AriModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class CallerId(AriModel):
    name: str
    number: str


class DialplanCep(AriModel):
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str


class Channel(AriModel):
    """A channel; ``state`` is ``Down``, ``Ring``, ``Ringing``, ``Up``..."""

    id: ChannelId
    protocol_id: str
    name: str
    state: str
    caller: CallerId
    connected: CallerId
    accountcode: str
    dialplan: DialplanCep
    creationtime: datetime
    language: str
    channelvars: dict[str, Any] | None = None
    caller_rdnis: str | None = None
    tenantid: str | None = None

    def __repr__(self) -> str:
        return f"<Channel {self.id} {self.name} {self.state}>"


class Bridge(AriModel):
    """A bridge; ``bridge_type`` is ``mixing`` or ``holding``."""

    id: BridgeId
    technology: str
    bridge_type: str
    bridge_class: str
    creator: str
    name: str
    channels: tuple[ChannelId, ...]
    creationtime: datetime
    video_mode: str | None = None
    video_source_id: str | None = None
    bridgevars: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Bridge {self.id} {self.bridge_type} channels={list(self.channels)}>"


class Playback(AriModel):
    """A playback; ``state`` is ``queued``, ``playing``, ``done``, ``failed``..."""

    id: PlaybackId
    media_uri: str
    target_uri: str
    state: str
    next_media_uri: str | None = None
    language: str | None = None


class LiveRecording(AriModel):
    """A recording in progress or just ended; ``state`` is ``queued``,
    ``recording``, ``paused``, ``done``, ``failed``, ``canceled``."""

    name: RecordingName
    format: str
    target_uri: str
    state: str
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None


class StoredRecording(AriModel):
    name: RecordingName
    format: str


class Application(AriModel):
    name: str
    channel_ids: tuple[ChannelId, ...]
    bridge_ids: tuple[BridgeId, ...]
    endpoint_ids: tuple[str, ...]
    device_names: tuple[str, ...]
    events_allowed: tuple[dict[str, Any], ...]
    events_disallowed: tuple[dict[str, Any], ...]


class Endpoint(AriModel):
    technology: str
    resource: str
    channel_ids: tuple[ChannelId, ...]
    state: str | None = None


class Variable(AriModel):
    value: str


class AsteriskPing(AriModel):
    asterisk_id: str
    ping: str
    timestamp: str


class AsteriskInfo(AriModel):
    """``GET /asterisk/info``: each part present only when asked for (``only``)."""

    build: dict[str, Any] | None = None
    system: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class DeviceState(AriModel):
    name: str
    state: str
