"""The softswitch requests the call flows make, through the typed ARI client.

A thin adapter: one method per request the orchestrator needs, with the
errors of the ARI client folded into :class:`PbxError` subclasses the
orchestrator understands.  A request about a channel or bridge that is already
gone raises :class:`LegGone` (or is ignored where "gone" is the goal, as for a
hang-up), which the call flows treat as "nothing left to do".
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from cti.ari.client import AriClient
from cti.ari.errors import AriConflict, AriError, AriNotFound
from cti.errors import CtiError
from cti.ids import BridgeId, ChannelId, PlaybackId, RecordingName

T = TypeVar("T")


class PbxError(CtiError):
    """A softswitch request failed."""


class LegGone(PbxError):
    """The channel or bridge the request was about no longer exists."""


async def _checked(request: Awaitable[T]) -> T:
    try:
        return await request
    except AriNotFound as exc:
        raise LegGone(str(exc)) from exc
    except AriError as exc:
        raise PbxError(str(exc)) from exc


class Pbx:
    def __init__(self, ari: AriClient, node: str = "") -> None:
        self.ari = ari
        self.app = ari.app
        self.node = node  # the Asterisk node's name, with several
        self._suffix = itertools.count(2)

    def __repr__(self) -> str:
        return f"<Pbx app={self.app} node={self.node}>"

    async def set_var(self, channel: ChannelId, name: str, value: str) -> None:
        await _checked(self.ari.channels.set_variable(channel, name, value))

    async def get_var(self, channel: ChannelId, name: str) -> str | None:
        """A variable or function; ``None`` when it is not set."""
        try:
            return await _checked(self.ari.channels.get_variable(channel, name))
        except LegGone:
            return None

    async def answer(self, channel: ChannelId) -> None:
        await _checked(self.ari.channels.answer(channel))

    async def hangup(self, channel: ChannelId, reason: str = "normal") -> bool:
        """Hang up ``channel``; False when it was already gone."""
        try:
            await _checked(self.ari.channels.hangup(channel, reason=reason))  # type: ignore[arg-type]
        except LegGone:
            return False
        return True

    async def play(self, channel: ChannelId, media: list[str], playback_id: str) -> None:
        await _checked(self.ari.channels.play_with_id(channel, PlaybackId(playback_id), media))

    async def stop_playback(self, playback_id: str) -> None:
        with contextlib.suppress(LegGone):
            await _checked(self.ari.playbacks.stop(PlaybackId(playback_id)))

    async def start_moh(self, channel: ChannelId, moh_class: str = "default") -> None:
        await _checked(self.ari.channels.start_moh(channel, moh_class=moh_class))

    async def stop_moh(self, channel: ChannelId) -> None:
        await _checked(self.ari.channels.stop_moh(channel))

    async def originate(
        self,
        endpoint: str,
        *,
        app_args: str,
        caller_id: str,
        timeout: int,
        channel_id: ChannelId,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        await _checked(
            self.ari.channels.originate(
                endpoint,
                app=self.app,
                app_args=app_args,
                caller_id=caller_id,
                timeout=timeout,
                channel_id=channel_id,
                variables=variables,
            )
        )

    async def create_bridge(self, bridge_id: BridgeId, name: str) -> BridgeId:
        """A mixing bridge; a new id when this one exists already.

        Bridges outlive the application that made them, so an id may be taken
        (``409 Bridge with id ... already exists``, supervisor_snoop.jsonl).
        """
        candidate = bridge_id
        for _ in range(5):
            try:
                await self.ari.bridges.create(type="mixing", bridge_id=candidate, name=name)
                return candidate
            except AriConflict:
                candidate = BridgeId(f"{bridge_id}-{next(self._suffix)}")
            except AriError as exc:
                raise PbxError(str(exc)) from exc
        raise PbxError(f"no free bridge id near {bridge_id}")

    async def add_to_bridge(self, bridge: BridgeId, channels: list[ChannelId]) -> None:
        await _checked(self.ari.bridges.add_channel(bridge, channels))

    async def remove_from_bridge(self, bridge: BridgeId, channel: ChannelId) -> None:
        await _checked(self.ari.bridges.remove_channel(bridge, channel))

    async def destroy_bridge(self, bridge: BridgeId, *, recording: str | None = None) -> None:
        """Destroy ``bridge``, first stopping ``recording``, its live bridge recording.

        Asterisk publishes a bridge recording's ``RecordingFinished`` on the
        bridge's topic, which the application leaves when the bridge goes: a
        recording still running when its bridge is destroyed often ends
        unreported.  Stopped first, its ``RecordingFinished`` arrives while the
        bridge is there.  A stop that fails (the recording already over) does
        not keep the bridge.
        """
        if recording is not None:
            with contextlib.suppress(PbxError):
                await _checked(self.ari.recordings.stop(RecordingName(recording)))
        with contextlib.suppress(LegGone):
            await _checked(self.ari.bridges.destroy(bridge))

    async def record_bridge(self, bridge: BridgeId, name: str) -> None:
        await _checked(
            self.ari.bridges.record(
                bridge, RecordingName(name), "wav", if_exists="overwrite", beep=False
            )
        )

    async def record_channel(self, channel: ChannelId, name: str, max_seconds: int) -> None:
        await _checked(
            self.ari.channels.record(
                channel,
                RecordingName(name),
                "wav",
                max_duration_seconds=max_seconds,
                if_exists="overwrite",
                beep=True,
            )
        )
