"""The world's shared state and its two outputs: ARI events and AMI events.

Theory of operation
-------------------
The world is synchronous.  Every operation (an ARI request, an AMI action, a
peer's timer firing) mutates the state and emits, in order, the ARI events of
each application subscribed to the objects involved and the AMI events for
every logged-in manager session.  The async shell (``PbxSim``) feeds it
requests and timers and carries its events to WebSocket and TCP clients.  No
operation awaits, so the event order of one operation is always the order in
which Asterisk emits them in the recorded transcripts.

Subscription rules (from the transcripts):
- an application receives a channel's events while the channel is in its
  Stasis application, and, for a channel it originated, until the channel is
  destroyed (``ChannelDestroyed`` arrives after ``StasisEnd`` only for those);
- it receives a bridge's events while one of its channels is in the bridge,
  or when it subscribed explicitly (``POST /applications/{app}/subscription``);
- events of an application whose WebSocket is closed are dropped, the
  application itself (its channels, bridges, variables) lives on.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import SimConfig
from .model import (
    STATE_CODES,
    Bridge,
    Channel,
    ChannelLog,
    LiveRecording,
    Playback,
    iso_timestamp,
)
from .scripts import PhoneScript, RemoteScript


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time as the world sees it: simulated seconds (already scaled by the shell)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...

    def monotonic(self) -> float: ...


class Sink(Protocol):
    """Where the world's output goes."""

    def ari_event(self, app: str, event: dict[str, Any]) -> bool: ...

    def ami_event(self, fields: list[tuple[str, str]]) -> None: ...

    def changed(self) -> None: ...


@dataclass
class App:
    """A Stasis application: ``connected`` while its WebSocket is open."""

    name: str
    connected: bool = False
    subscribe_all: bool = False
    sources: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class EventRecord:
    """One ARI event the world produced, and whether a socket took it;
    ``at`` is the wall-clock time (``time.time()``) it was emitted."""

    app: str
    event: dict[str, Any]
    delivered: bool
    at: float = 0.0


AMI_UNKNOWN = "<unknown>"


class WorldBase:
    """State, identifiers and the event plumbing shared by the operation mixins."""

    def __init__(self, config: SimConfig, clock: Clock, sink: Sink) -> None:
        self.config = config
        self.clock = clock
        self.sink = sink
        self.random = random.Random(config.seed)
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Playback] = {}
        self.recordings: dict[str, LiveRecording] = {}
        self.apps: dict[str, App] = {}
        self.phones: dict[str, PhoneScript] = {p.endpoint: p for p in config.phones}
        self.registered: set[str] = {p.endpoint for p in config.phones if p.registered}
        self.remotes: dict[tuple[str, str], RemoteScript] = {
            (r.trunk, r.number): r for r in config.remotes
        }
        self.sound_durations: dict[str, float] = dict(config.sound_durations)
        self.global_vars: dict[str, str] = {}
        self.device_states: dict[str, str] = {}
        self.events: list[EventRecord] = []
        self.logs: dict[str, ChannelLog] = {}
        self.boot()

    def boot(self) -> None:
        """(Re)start counters as a freshly started Asterisk has them."""
        self.started_at = time.time()
        self.reloaded_at = self.started_at
        self._unique_seq = itertools.count()
        self._pjsip_seq = itertools.count()
        self._snoop_seq = itertools.count()
        self._local_seq = itertools.count()
        self._recorder_seq = itertools.count()

    # -- identifiers -------------------------------------------------------

    def new_unique_id(self) -> str:
        unique = f"{int(time.time())}.{next(self._unique_seq)}"
        if self.config.system_name_in_ids:
            return f"{self.config.system_name}-{unique}"
        return unique

    def new_pjsip_name(self, endpoint: str) -> str:
        return f"PJSIP/{endpoint}-{next(self._pjsip_seq):08x}"

    def new_snoop_name(self, target: str) -> str:
        return f"Snoop/{target}-{next(self._snoop_seq):08x}"

    def new_recorder_name(self) -> str:
        return f"Recorder/ARI-{next(self._recorder_seq):08x};2"

    def new_call_id(self) -> str:
        """A SIP Call-ID for an outgoing leg (chan_pjsip uses a UUID)."""
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def now(self) -> float:
        return self.clock.monotonic()

    # -- ARI events ----------------------------------------------------------

    def app(self, name: str) -> App:
        found = self.apps.get(name)
        if found is None:
            found = self.apps[name] = App(name)
        return found

    def bridge_apps(self, bridge: Bridge) -> set[str]:
        apps = {f"{a}" for a, app in self.apps.items() if f"bridge:{bridge.id}" in app.sources}
        for channel_id in bridge.channel_ids:
            channel = self.channels.get(channel_id)
            if channel is not None:
                apps |= channel.subscribers
        return apps

    def channel_apps(self, channel: Channel) -> set[str]:
        apps = set(channel.subscribers)
        apps |= {a for a, app in self.apps.items() if f"channel:{channel.id}" in app.sources}
        return apps

    def emit(self, apps: Iterable[str], kind: str, **body: Any) -> None:
        """Send one event, as each subscribed application receives it."""
        emitted_at = time.time()
        stamp = iso_timestamp(emitted_at)
        for app_name in sorted(set(apps)):
            event: dict[str, Any] = {"type": kind, "timestamp": stamp}
            event.update(body)
            event["asterisk_id"] = self.config.asterisk_id
            event["application"] = app_name
            app = self.apps.get(app_name)
            delivered = bool(app and app.connected) and self.sink.ari_event(app_name, event)
            if self.config.keep_history:
                self.events.append(EventRecord(app_name, event, delivered, emitted_at))
        self.sink.changed()

    def emit_channel(self, channel: Channel, kind: str, **body: Any) -> None:
        apps = self.channel_apps(channel)
        if apps:
            self.emit(apps, kind, **body, channel=channel.to_json())

    def set_var(self, channel: Channel, name: str, value: str, *, report: bool = True) -> None:
        """Set a channel variable: ``ChannelVarset`` and AMI ``VarSet``."""
        channel.variables[name] = value
        if report:
            self.emit_channel(channel, "ChannelVarset", variable=name, value=value)
        self.ami("VarSet", "dialplan,all", self.ami_channel(channel), Variable=name, Value=value)

    def clear_var(self, channel: Channel, name: str) -> None:
        """Delete a variable; Asterisk reports it (as "") only if it existed."""
        if name in channel.variables:
            del channel.variables[name]
            self.emit_channel(channel, "ChannelVarset", variable=name, value="")
            self.ami("VarSet", "dialplan,all", self.ami_channel(channel), Variable=name, Value="")

    # -- AMI events ------------------------------------------------------------

    def ami(
        self,
        event: str,
        privilege: str,
        fields: list[tuple[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        frame = [("Event", event), ("Privilege", privilege), *(fields or [])]
        frame.extend((key.replace("_", "-"), str(value)) for key, value in extra.items())
        self.sink.ami_event(frame)

    def ami_channel(self, channel: Channel, prefix: str = "") -> list[tuple[str, str]]:
        """The channel block AMI puts in every channel event."""
        return [
            (f"{prefix}Channel", channel.name),
            (f"{prefix}ChannelState", str(STATE_CODES.get(channel.state, 10))),
            (f"{prefix}ChannelStateDesc", channel.state),
            (f"{prefix}CallerIDNum", channel.caller.number or AMI_UNKNOWN),
            (f"{prefix}CallerIDName", channel.caller.name or AMI_UNKNOWN),
            (f"{prefix}ConnectedLineNum", channel.connected.number or AMI_UNKNOWN),
            (f"{prefix}ConnectedLineName", channel.connected.name or AMI_UNKNOWN),
            (f"{prefix}Language", channel.language),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", channel.dialplan.context),
            (f"{prefix}Exten", channel.dialplan.exten),
            (f"{prefix}Priority", str(channel.dialplan.priority)),
            (f"{prefix}Uniqueid", channel.id),
            (f"{prefix}Linkedid", channel.linkedid or channel.id),
        ]

    # -- device states -----------------------------------------------------

    def device_state(self, endpoint: str) -> str:
        """A PJSIP endpoint's device state, as chan_pjsip aggregates it."""
        if endpoint in self.phones and not self.reachable(endpoint):
            return "UNAVAILABLE"
        states = {c.state for c in self.channels.values() if c.endpoint == endpoint}
        phone = self.phones.get(endpoint)
        if "Up" in states or (phone is not None and phone.busy_outside):
            return "INUSE"
        if "Ringing" in states:
            return "RINGING"
        return "NOT_INUSE"

    def reachable(self, endpoint: str) -> bool:
        """A phone can be called: registered, or reached through a static contact."""
        phone = self.phones.get(endpoint)
        return phone is not None and (endpoint in self.registered or phone.static_contact)

    def refresh_device(self, endpoint: str | None) -> None:
        """Emit ``DeviceStateChange`` when an endpoint's aggregate state moved."""
        if endpoint is None:
            return
        state = self.device_state(endpoint)
        device = f"PJSIP/{endpoint}"
        if self.device_states.get(device) != state:
            self.device_states[device] = state
            self.ami("DeviceStateChange", "call,all", Device=device, State=state)

    def endpoints(self) -> list[str]:
        """Every PJSIP endpoint: trunks first as chan_pjsip lists them, then phones."""
        trunks = set(self.config.carrier_trunks) | {t for t, _ in self.remotes}
        return sorted(set(self.phones) | trunks)

    def is_trunk(self, endpoint: str) -> bool:
        return endpoint in self.config.carrier_trunks or any(t == endpoint for t, _ in self.remotes)
