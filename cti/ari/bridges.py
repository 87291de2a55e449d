"""``/bridges`` requests (``bridges.json``).

Python arguments are the Swagger parameters in snake case, sent under their
exact Swagger names.  A 404 raises :class:`~cti.ari.errors.BridgeGone`; a
bridge id that is already taken (bridges outlive the application that made
them, see ``supervisor_snoop.jsonl``) raises
:class:`~cti.ari.errors.AriConflict`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from cti.ari.channels import IfExists, TerminateOn
from cti.ari.http import AriHttp, parse_model, parse_models
from cti.ari.models import Bridge, LiveRecording, Playback, Variable
from cti.ids import BridgeId, ChannelId, PlaybackId, RecordingName

_ONE = "/bridges/{bridgeId}"


class BridgesApi:
    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def _void(
        self, method: str, suffix: str, bridge_id: str, params: Mapping[str, object] | None = None
    ) -> None:
        await self._http.request(method, _ONE + suffix, {"bridgeId": bridge_id}, params=params)

    async def list(self) -> builtins.list[Bridge]:
        data = await self._http.request("GET", "/bridges")
        return parse_models(Bridge, data, "GET", "/bridges")

    async def create(
        self,
        *,
        type: str | None = None,
        bridge_id: BridgeId | None = None,
        name: str | None = None,
    ) -> Bridge:
        """``POST /bridges``; ``type`` is ``mixing`` (the default) or
        ``holding``, optionally with flags (``mixing,dtmf_events``)."""
        params = {"type": type, "bridgeId": bridge_id, "name": name}
        data = await self._http.request("POST", "/bridges", params=params)
        return parse_model(Bridge, data, "POST", "/bridges")

    async def create_with_id(
        self, bridge_id: BridgeId, *, type: str | None = None, name: str | None = None
    ) -> Bridge:
        """``POST /bridges/{bridgeId}``: create, or update an existing bridge's type."""
        data = await self._http.request(
            "POST", _ONE, {"bridgeId": bridge_id}, params={"type": type, "name": name}
        )
        return parse_model(Bridge, data, "POST", _ONE)

    async def get(self, bridge_id: BridgeId) -> Bridge:
        data = await self._http.request("GET", _ONE, {"bridgeId": bridge_id})
        return parse_model(Bridge, data, "GET", _ONE)

    async def destroy(self, bridge_id: BridgeId) -> None:
        await self._void("DELETE", "", bridge_id)

    async def add_channel(
        self,
        bridge_id: BridgeId,
        channel: ChannelId | Sequence[ChannelId],
        *,
        role: str | None = None,
        absorb_dtmf: bool | None = None,
        mute: bool | None = None,
        inhibit_connected_line_updates: bool | None = None,
    ) -> None:
        """Add one or several channels (sent as ``channel=a,b``)."""
        params = {
            "channel": channel,
            "role": role,
            "absorbDTMF": absorb_dtmf,
            "mute": mute,
            "inhibitConnectedLineUpdates": inhibit_connected_line_updates,
        }
        await self._void("POST", "/addChannel", bridge_id, params)

    async def remove_channel(
        self, bridge_id: BridgeId, channel: ChannelId | Sequence[ChannelId]
    ) -> None:
        await self._void("POST", "/removeChannel", bridge_id, {"channel": channel})

    async def start_moh(self, bridge_id: BridgeId, *, moh_class: str | None = None) -> None:
        await self._void("POST", "/moh", bridge_id, {"mohClass": moh_class})

    async def stop_moh(self, bridge_id: BridgeId) -> None:
        await self._void("DELETE", "/moh", bridge_id)

    async def play(
        self,
        bridge_id: BridgeId,
        media: str | Sequence[str],
        *,
        announcer_format: str | None = None,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
        playback_id: PlaybackId | None = None,
    ) -> Playback:
        params = {
            "media": media,
            "announcer_format": announcer_format,
            "lang": lang,
            "offsetms": offsetms,
            "skipms": skipms,
            "playbackId": playback_id,
        }
        data = await self._http.request(
            "POST", _ONE + "/play", {"bridgeId": bridge_id}, params=params
        )
        return parse_model(Playback, data, "POST", _ONE + "/play")

    async def play_with_id(
        self,
        bridge_id: BridgeId,
        playback_id: PlaybackId,
        media: str | Sequence[str],
        *,
        announcer_format: str | None = None,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
    ) -> Playback:
        template = _ONE + "/play/{playbackId}"
        params = {
            "media": media,
            "announcer_format": announcer_format,
            "lang": lang,
            "offsetms": offsetms,
            "skipms": skipms,
        }
        data = await self._http.request(
            "POST", template, {"bridgeId": bridge_id, "playbackId": playback_id}, params=params
        )
        return parse_model(Playback, data, "POST", template)

    async def record(
        self,
        bridge_id: BridgeId,
        name: RecordingName,
        format: str,
        *,
        recorder_format: str | None = None,
        max_duration_seconds: int | None = None,
        max_silence_seconds: int | None = None,
        if_exists: IfExists | None = None,
        beep: bool | None = None,
        terminate_on: TerminateOn | None = None,
    ) -> LiveRecording:
        """Record the bridge's mix; ``RecordingStarted`` and, after
        ``recordings.stop``, ``RecordingFinished`` follow.  A missing spool
        directory answers 500 (``record_dir_missing_500.jsonl``)."""
        params = {
            "name": name,
            "format": format,
            "recorder_format": recorder_format,
            "maxDurationSeconds": max_duration_seconds,
            "maxSilenceSeconds": max_silence_seconds,
            "ifExists": if_exists,
            "beep": beep,
            "terminateOn": terminate_on,
        }
        data = await self._http.request(
            "POST", _ONE + "/record", {"bridgeId": bridge_id}, params=params
        )
        return parse_model(LiveRecording, data, "POST", _ONE + "/record")

    async def get_variable(self, bridge_id: BridgeId, variable: str) -> str:
        data = await self._http.request(
            "GET", _ONE + "/variable", {"bridgeId": bridge_id}, params={"variable": variable}
        )
        return parse_model(Variable, data, "GET", _ONE + "/variable").value

    async def set_variable(
        self,
        bridge_id: BridgeId,
        variable: str,
        value: str | None = None,
        *,
        report_events: bool | None = None,
    ) -> None:
        params = {"variable": variable, "value": value, "report_events": report_events}
        await self._void("POST", "/variable", bridge_id, params)

    async def get_variables(self, bridge_id: BridgeId, variables: Sequence[str]) -> dict[str, Any]:
        data = await self._http.request(
            "GET", _ONE + "/variables", {"bridgeId": bridge_id}, params={"variables": variables}
        )
        found = data.get("variables") if isinstance(data, dict) else None
        return dict(found or {})
