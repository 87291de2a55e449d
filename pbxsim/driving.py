"""The Python API by which tests, the demo and the benchmark drive pbxsim's peers and
watch what happened (a mixin of ``PbxSim``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from .ami import AmiServer
from .ami_actions import Frame
from .errors import SimTimeout
from .model import ChannelLog
from .peers import CallHandle
from .scripts import CallerScript, PhoneScript, RemoteScript, Scenario
from .world import World


class Driving:
    """Peers on command, and observation with deadlines."""

    world: World
    ami_server: AmiServer
    _changed: asyncio.Event

    def changed(self) -> None:
        raise NotImplementedError

    # -- the Python API: peers -----------------------------------------------

    def place_call(self, script: CallerScript) -> CallHandle:
        """A scripted caller dials in; read ``handle.channel_id`` once it arrived."""
        handle = self.world.place_call(script)
        self.changed()
        return handle

    def place_seat_call(self, script: CallerScript) -> CallHandle:
        """An agent dials ``script.dialled`` from the seat phone ``script.trunk``."""
        handle = self.world.place_seat_call(script)
        self.changed()
        return handle

    def hangup_call(self, call: CallHandle | str) -> bool:
        """The caller hangs up now (False if the call is already over or not arrived)."""
        handle = self.world.calls[call if isinstance(call, str) else call.id]
        channel = self.world.channels.get(handle.channel_id or "")
        if channel is None:
            for timer in handle.timers:
                timer.cancel()
            return False
        self.world.hangup(channel, source="remote")
        return True

    def send_dtmf(self, call: CallHandle | str, digits: str, duration_ms: int = 160) -> None:
        """The caller keys ``digits`` now."""
        handle = self.world.calls[call if isinstance(call, str) else call.id]
        channel = self.world.channels.get(handle.channel_id or "")
        if channel is not None:
            self.world.send_digits(channel, digits, duration_ms)

    def set_phone(self, script: PhoneScript) -> None:
        self.world.set_phone(script)
        self.changed()

    def register_phone(self, endpoint: str) -> None:
        self.world.register(endpoint)
        self.changed()

    def unregister_phone(self, endpoint: str) -> None:
        self.world.unregister(endpoint)
        self.changed()

    def set_phone_busy_outside(self, endpoint: str, busy: bool = True) -> None:
        self.world.set_busy_outside(endpoint, busy)
        self.changed()

    def hangup_phone(self, endpoint: str) -> int:
        """The agent puts the handset down: every call of that phone ends."""
        return self.world.hangup_phone(endpoint)

    def set_remote(self, script: RemoteScript) -> None:
        self.world.remotes[(script.trunk, script.number)] = script

    def set_sound_duration(self, media: str, seconds: float) -> None:
        self.world.sound_durations[media] = seconds

    def load_scenario(self, scenario: Scenario | dict[str, Any]) -> list[CallHandle]:
        """Phones, remotes, durations, then the callers (each at its ``start_after``)."""
        if not isinstance(scenario, Scenario):
            scenario = Scenario.from_dict(scenario)
        for phone in scenario.phones:
            self.set_phone(phone)
        for remote in scenario.remotes:
            self.set_remote(remote)
        self.world.sound_durations.update(scenario.sound_durations)
        return [self.place_call(caller) for caller in scenario.callers]

    # -- observability -------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every ARI event delivered to a WebSocket, in order."""
        return [r.event for r in self.world.events if r.delivered]

    @property
    def ami_frames(self) -> list[Frame]:
        return self.ami_server.frames_sent

    def channel_log(self, channel_id: str) -> ChannelLog:
        return self.world.logs[channel_id]

    def phone_logs(self, endpoint: str) -> list[ChannelLog]:
        return [entry for entry in self.world.logs.values() if entry.endpoint == endpoint]

    def call_log(self, call: CallHandle | str) -> ChannelLog | None:
        handle = self.world.calls[call if isinstance(call, str) else call.id]
        return self.world.logs.get(handle.channel_id or "")

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, what: str | None = None
    ) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SimTimeout(what or str(getattr(predicate, "__name__", "condition")), timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    async def wait_for_event(
        self,
        kind: str,
        timeout: float = 5.0,
        match: Callable[[dict[str, Any]], bool] | None = None,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first delivered ARI event of type ``kind`` (from index ``start``) matching ``match``."""

        def found() -> dict[str, Any] | None:
            for event in self.events[start:]:
                if event["type"] == kind and (match is None or match(event)):
                    return event
            return None

        result: dict[str, Any] = await self.wait_for(found, timeout, what=f"ARI event {kind}")
        return result
