"""The simulated world's objects and their ARI JSON shapes.

Shapes follow the Swagger models of Asterisk 22 (``Channel``, ``Bridge``,
``Playback``, ``LiveRecording``) and the recorded transcripts: a channel's
``creationtime`` is ``2026-11-21T23:13:07.662+0000``, an originated leg's
dialplan is ``AppDial2`` / ``(Outgoing Line)`` until it enters Stasis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .scripts import CallerScript, PhoneScript, RemoteScript

# AMI ChannelState numbers of the ARI state names.
STATE_CODES: dict[str, int] = {
    "Down": 0,
    "Rsrved": 1,
    "OffHook": 2,
    "Dialing": 3,
    "Ring": 4,
    "Ringing": 5,
    "Up": 6,
    "Busy": 7,
}

# Q.850 causes and their texts as Asterisk spells them.
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format (addr incomplete)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    58: "Bearer capability not available",
    88: "Incompatible destination",
    127: "Interworking, unspecified",
}

# DELETE /channels/{id}?reason=... -> cause.
HANGUP_REASONS: dict[str, int] = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 27,
    "answered_elsewhere": 26,
}


class Kind(StrEnum):
    """What is on the far side of a channel."""

    CALLER = "caller"
    PHONE = "phone"
    REMOTE = "remote"
    SNOOP = "snoop"
    LOCAL = "local"


def iso_timestamp(epoch: float | None = None) -> str:
    """Asterisk's JSON time format: milliseconds and a ``+0000`` offset."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass
class Party:
    """A CallerID: name and number."""

    name: str = ""
    number: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "number": self.number}


@dataclass
class Dialplan:
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str

    def to_json(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "exten": self.exten,
            "priority": self.priority,
            "app_name": self.app_name,
            "app_data": self.app_data,
        }


@dataclass
class ChannelLog:
    """What a test may want to know about one channel, kept after it is gone."""

    channel_id: str
    name: str
    endpoint: str | None
    kind: Kind
    states: list[str] = field(default_factory=list)
    dtmf_received: list[str] = field(default_factory=list)
    dtmf_sent: list[str] = field(default_factory=list)
    media_played: list[str] = field(default_factory=list)
    moh: list[str] = field(default_factory=list)
    heard: list[tuple[str, str]] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    variables_set: list[tuple[str, str]] = field(default_factory=list)
    answered: bool = False
    stasis_args: list[str] | None = None
    hangup_cause: int | None = None
    hangup_by: str | None = None
    destroyed: bool = False

    def hear(self, what: str, detail: str = "") -> None:
        self.heard.append((what, detail))


@dataclass(eq=False)
class Channel:
    """A live channel.  ``app`` is the Stasis application controlling it (None
    outside Stasis); ``originated_by`` keeps an originating application
    subscribed after ``StasisEnd`` (it receives ``ChannelDestroyed``)."""

    id: str
    name: str
    state: str
    protocol_id: str
    caller: Party
    connected: Party
    dialplan: Dialplan
    creationtime: str
    kind: Kind
    endpoint: str | None
    dialstring: str
    log: ChannelLog
    linkedid: str = ""
    language: str = "en"
    variables: dict[str, str] = field(default_factory=dict)
    app: str | None = None
    app_args: list[str] = field(default_factory=list)
    originated_by: str | None = None
    outside_dialplan: Dialplan | None = None
    bridge: str | None = None
    moh: str | None = None
    ringing: bool = False
    held: bool = False
    muted: set[str] = field(default_factory=set)
    had_media: bool = False
    rang: bool = False
    answered_at: float | None = None
    created_at: float = 0.0
    snoop_target: str | None = None
    script: CallerScript | PhoneScript | RemoteScript | None = None
    call_id: str | None = None
    timers: list[Any] = field(default_factory=list)
    playback_queue: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    redirecting: dict[str, str] = field(default_factory=dict)
    ami_origin: Any = None
    inhibit_connected: bool = False
    flags: set[str] = field(default_factory=set)
    pbx_token: int = 0
    hangup_cause: int | None = None
    local_peer: str | None = None
    local_half: int = 0
    dial_timer: Any = None
    channelvars: tuple[str, ...] = ()
    reported_vars: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": self.caller.to_json(),
            "connected": self.connected.to_json(),
            "accountcode": "",
            "dialplan": self.dialplan.to_json(),
            "creationtime": self.creationtime,
            "language": self.language,
        }
        rdnis = self.redirecting.get("from-num", "")
        if rdnis:
            data["caller_rdnis"] = rdnis
        names = [*self.channelvars, *(n for n in self.reported_vars if n not in self.channelvars)]
        if names:
            data["channelvars"] = {name: self.channel_var(name) for name in names}
        return data

    def channel_var(self, name: str) -> str:
        """A variable as ``channelvars`` shows it: functions read, unset ones empty."""
        if name.endswith(")"):
            return function_value(self, name) or ""
        return self.variables.get(name, "")

    @property
    def subscribers(self) -> set[str]:
        apps = {a for a in (self.app, self.originated_by) if a}
        return apps

    def __repr__(self) -> str:
        return f"<Channel {self.id} {self.name} {self.state} app={self.app}>"


def function_value(channel: Channel, name: str) -> str | None:
    """A dialplan function pbxsim knows (``CALLERID``, ``CONNECTEDLINE``,
    ``REDIRECTING``, ``CHANNEL``), read on ``channel``; None for any other."""
    func, _, arg = name.strip()[:-1].partition("(")
    func, arg = func.strip().upper(), arg.strip().lower()
    party = {"CALLERID": channel.caller, "CONNECTEDLINE": channel.connected}.get(func)
    if party is not None and arg in ("num", "number", "name", "all"):
        if arg == "name":
            return party.name
        if arg == "all":
            return f'"{party.name}" <{party.number}>' if party.name else party.number
        return party.number
    if func == "REDIRECTING":
        return channel.redirecting.get(arg, "")
    if func == "CHANNEL":
        values = {
            "name": channel.name,
            "uniqueid": channel.id,
            "linkedid": channel.linkedid,
            "language": channel.language,
            "state": channel.state,
        }
        return values.get(arg)
    return None


@dataclass(eq=False)
class Member:
    """A bridge participant: a channel, or an invisible recorder."""

    name: str
    protocol_id: str
    channel_id: str | None  # None for a recorder


@dataclass(eq=False)
class Bridge:
    id: str
    bridge_type: str  # mixing | holding
    name: str
    creationtime: str
    members: list[Member] = field(default_factory=list)
    subscribed: set[str] = field(default_factory=set)
    moh: str | None = None
    playback_queue: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    flags: tuple[str, ...] = ()

    @property
    def channel_ids(self) -> list[str]:
        return [m.channel_id for m in self.members if m.channel_id is not None]

    @property
    def technology(self) -> str:
        if self.bridge_type == "holding":
            return "holding_bridge"
        return "simple_bridge" if len(self.members) <= 2 else "softmix"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": self.technology,
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            # Asterisk keeps the snapshot's channel ids in a sorted container.
            "channels": sorted(self.channel_ids),
            "creationtime": self.creationtime,
            "video_mode": "talker",
        }

    def __repr__(self) -> str:
        return f"<Bridge {self.id} {self.bridge_type} {self.channel_ids}>"


@dataclass(eq=False)
class Playback:
    id: str
    media: list[str]
    target_uri: str
    language: str = "en"
    state: str = "queued"
    index: int = 0
    timer: Any = None
    skipms: int = 3000
    controllable: bool = False
    ends_at: float | None = None  # simulated time the current item ends (None: never)
    remaining: float | None = None  # what was left of the item when it was paused

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "media_uri": self.media[min(self.index, len(self.media) - 1)],
        }
        if self.index + 1 < len(self.media):
            data["next_media_uri"] = self.media[self.index + 1]
        # A canceled playback shows as done, as state_to_string() spells it.
        state = "done" if self.state == "canceled" else self.state
        data.update(target_uri=self.target_uri, language=self.language, state=state)
        return data

    @property
    def target(self) -> tuple[str, str]:
        kind, _, ident = self.target_uri.partition(":")
        return kind, ident


@dataclass(eq=False)
class LiveRecording:
    name: str
    format: str
    target_uri: str
    state: str = "queued"
    started_at: float = 0.0
    duration: int | None = None
    if_exists: str = "fail"
    terminate_on: str = "none"
    max_duration: int = 0
    recorder: Member | None = None
    timer: Any = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "format": self.format,
            "state": self.state,
            "target_uri": self.target_uri,
        }
        if self.duration is not None:
            data["duration"] = self.duration
        if self.cause is not None:
            data["cause"] = self.cause
        return data

    @property
    def target(self) -> tuple[str, str]:
        kind, _, ident = self.target_uri.partition(":")
        return kind, ident
