"""The simulated Asterisk: every operation mixin composed, plus restart and snapshots."""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import SimConfig
from .core import Clock, Sink
from .dialplan import SHIPPED_DIALPLAN, Plan
from .model import iso_timestamp
from .peers import CallHandle, PeerOps


class World(PeerOps):
    """Channels, bridges, media and peers; synchronous (see ``core`` for the theory)."""

    def __init__(self, config: SimConfig, clock: Clock, sink: Sink) -> None:
        self.calls: dict[str, CallHandle] = {}
        self._call_seq = itertools.count(1)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if config.recordings_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="pbxsim-recordings-")
            self.recordings_dir = Path(self._tempdir.name)
        else:
            self.recordings_dir = Path(config.recordings_dir)
            self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self.storage_broken = False
        self.plan = Plan.load(config.dialplan or SHIPPED_DIALPLAN)
        super().__init__(config, clock, sink)
        for endpoint in self.endpoints():
            self.device_states[f"PJSIP/{endpoint}"] = self.device_state(endpoint)

    def close(self) -> None:
        for channel in list(self.channels.values()):
            self.cancel_timers(channel)
        for handle in self.calls.values():
            for timer in handle.timers:
                timer.cancel()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def restart(self) -> None:
        """Asterisk restarted: every channel gone without a word, bridges and apps forgotten.

        The shell closes the sockets first, so nobody hears the hang-ups.
        Stored recordings (files) and phone registrations survive.
        """
        for app in self.apps.values():
            app.connected = False
        for channel in list(self.channels.values()):
            self.hangup(channel, source="restart", silent=True)
        for handle in self.calls.values():
            for timer in handle.timers:
                timer.cancel()
        for playback in list(self.playbacks.values()):
            if playback.timer is not None:
                playback.timer.cancel()
        for recording in list(self.recordings.values()):
            if recording.timer is not None:
                recording.timer.cancel()
        self.playbacks.clear()
        self.recordings.clear()
        self.bridges.clear()
        self.apps.clear()
        self.global_vars.clear()
        self.boot()
        self.device_states = {f"PJSIP/{e}": self.device_state(e) for e in self.endpoints()}
        self.sink.changed()

    # -- snapshots the REST API returns ----------------------------------------

    def application_json(self, name: str) -> dict[str, Any]:
        app = self.apps[name]
        channel_ids = [c.id for c in self.channels.values() if name in self.channel_apps(c)]
        bridge_ids = [b.id for b in self.bridges.values() if name in self.bridge_apps(b)]
        return {
            "name": name,
            "channel_ids": channel_ids,
            "bridge_ids": bridge_ids,
            "endpoint_ids": sorted(
                s.split(":", 1)[1] for s in app.sources if s.startswith("endpoint:")
            ),
            "device_names": sorted(
                s.split(":", 1)[1] for s in app.sources if s.startswith("deviceState:")
            ),
            "events_allowed": [],
            "events_disallowed": [],
        }

    def asterisk_info(self, only: list[str] | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "build": {
                "os": "Linux",
                "kernel": "6.1.0",
                "options": "",
                "machine": "x86_64",
                "date": iso_timestamp(self.started_at),
                "user": "pbxsim",
            },
            "system": {"version": self.config.version, "entity_id": self.config.asterisk_id},
            "config": {
                "name": self.config.system_name,
                "default_language": "en",
                "setid": {"user": "asterisk", "group": "asterisk"},
            },
            "status": {
                "startup_time": iso_timestamp(self.started_at),
                "last_reload_time": iso_timestamp(self.reloaded_at),
            },
        }
        if only:
            info = {k: v for k, v in info.items() if k in only}
        return info

    def uptime(self) -> int:
        return int(time.time() - self.started_at)
