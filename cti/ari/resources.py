"""The smaller ARI resources: playbacks, recordings, applications, endpoints,
device states and Asterisk itself.

Python arguments are the Swagger parameters in snake case, sent under their
exact Swagger names.  A 404 here raises :class:`~cti.ari.errors.AriNotFound`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cti.ari.http import AriHttp, parse_model, parse_models
from cti.ari.models import (
    Application,
    AsteriskInfo,
    AsteriskPing,
    DeviceState,
    Endpoint,
    LiveRecording,
    Playback,
    StoredRecording,
    Variable,
)
from cti.ids import PlaybackId, RecordingName

PlaybackOperation = Literal["restart", "pause", "unpause", "reverse", "forward"]
DeviceStateValue = Literal[
    "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"
]
InfoPart = Literal["build", "system", "config", "status"]


class PlaybacksApi:
    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def get(self, playback_id: PlaybackId) -> Playback:
        template = "/playbacks/{playbackId}"
        data = await self._http.request("GET", template, {"playbackId": playback_id})
        return parse_model(Playback, data, "GET", template)

    async def stop(self, playback_id: PlaybackId) -> None:
        await self._http.request("DELETE", "/playbacks/{playbackId}", {"playbackId": playback_id})

    async def control(self, playback_id: PlaybackId, operation: PlaybackOperation) -> None:
        await self._http.request(
            "POST",
            "/playbacks/{playbackId}/control",
            {"playbackId": playback_id},
            params={"operation": operation},
        )


class RecordingsApi:
    """Live recordings (``/recordings/live``) and stored ones (``/recordings/stored``)."""

    _STORED = "/recordings/stored/{recordingName}"
    _LIVE = "/recordings/live/{recordingName}"

    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def list_stored(self) -> builtins.list[StoredRecording]:
        data = await self._http.request("GET", "/recordings/stored")
        return parse_models(StoredRecording, data, "GET", "/recordings/stored")

    async def get_stored(self, name: RecordingName) -> StoredRecording:
        data = await self._http.request("GET", self._STORED, {"recordingName": name})
        return parse_model(StoredRecording, data, "GET", self._STORED)

    async def delete_stored(self, name: RecordingName) -> None:
        await self._http.request("DELETE", self._STORED, {"recordingName": name})

    async def get_stored_file(self, name: RecordingName) -> bytes:
        """The whole file (Asterisk ignores ``Range``: always 200 and the whole body)."""
        return await self._http.request_bytes(
            "GET", self._STORED + "/file", {"recordingName": name}
        )

    async def download_stored_file(self, name: RecordingName, destination: Path) -> int:
        """Stream the file into ``destination``; return its size in bytes."""
        return await self._http.download(
            self._STORED + "/file", {"recordingName": name}, destination
        )

    async def copy_stored(
        self, name: RecordingName, destination_recording_name: RecordingName
    ) -> StoredRecording:
        template = self._STORED + "/copy"
        data = await self._http.request(
            "POST",
            template,
            {"recordingName": name},
            params={"destinationRecordingName": destination_recording_name},
        )
        return parse_model(StoredRecording, data, "POST", template)

    async def get_live(self, name: RecordingName) -> LiveRecording:
        data = await self._http.request("GET", self._LIVE, {"recordingName": name})
        return parse_model(LiveRecording, data, "GET", self._LIVE)

    async def cancel(self, name: RecordingName) -> None:
        """Stop and discard the recording."""
        await self._http.request("DELETE", self._LIVE, {"recordingName": name})

    async def stop(self, name: RecordingName) -> None:
        """Stop and keep the recording (``RecordingFinished`` follows)."""
        await self._http.request("POST", self._LIVE + "/stop", {"recordingName": name})

    async def pause(self, name: RecordingName) -> None:
        await self._http.request("POST", self._LIVE + "/pause", {"recordingName": name})

    async def unpause(self, name: RecordingName) -> None:
        await self._http.request("DELETE", self._LIVE + "/pause", {"recordingName": name})

    async def mute(self, name: RecordingName) -> None:
        await self._http.request("POST", self._LIVE + "/mute", {"recordingName": name})

    async def unmute(self, name: RecordingName) -> None:
        await self._http.request("DELETE", self._LIVE + "/mute", {"recordingName": name})


class ApplicationsApi:
    _ONE = "/applications/{applicationName}"

    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def list(self) -> builtins.list[Application]:
        data = await self._http.request("GET", "/applications")
        return parse_models(Application, data, "GET", "/applications")

    async def get(self, application_name: str) -> Application:
        """The application's channels, bridges, endpoints and devices."""
        data = await self._http.request("GET", self._ONE, {"applicationName": application_name})
        return parse_model(Application, data, "GET", self._ONE)

    async def subscribe(
        self, application_name: str, event_source: str | Sequence[str]
    ) -> Application:
        """Receive events of ``event_source`` (``channel:ID``, ``bridge:ID``,
        ``endpoint:PJSIP/8001``, ``deviceState:NAME``)."""
        template = self._ONE + "/subscription"
        data = await self._http.request(
            "POST",
            template,
            {"applicationName": application_name},
            params={"eventSource": event_source},
        )
        return parse_model(Application, data, "POST", template)

    async def unsubscribe(
        self, application_name: str, event_source: str | Sequence[str]
    ) -> Application:
        template = self._ONE + "/subscription"
        data = await self._http.request(
            "DELETE",
            template,
            {"applicationName": application_name},
            params={"eventSource": event_source},
        )
        return parse_model(Application, data, "DELETE", template)


class EndpointsApi:
    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def list(self) -> builtins.list[Endpoint]:
        data = await self._http.request("GET", "/endpoints")
        return parse_models(Endpoint, data, "GET", "/endpoints")

    async def list_by_tech(self, tech: str) -> builtins.list[Endpoint]:
        data = await self._http.request("GET", "/endpoints/{tech}", {"tech": tech})
        return parse_models(Endpoint, data, "GET", "/endpoints/{tech}")

    async def get(self, tech: str, resource: str) -> Endpoint:
        template = "/endpoints/{tech}/{resource}"
        data = await self._http.request("GET", template, {"tech": tech, "resource": resource})
        return parse_model(Endpoint, data, "GET", template)


class DeviceStatesApi:
    """Custom device states (``Stasis:NAME``) the engine may publish for phones' BLF."""

    _ONE = "/deviceStates/{deviceName}"

    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def list(self) -> builtins.list[DeviceState]:
        data = await self._http.request("GET", "/deviceStates")
        return parse_models(DeviceState, data, "GET", "/deviceStates")

    async def get(self, device_name: str) -> DeviceState:
        data = await self._http.request("GET", self._ONE, {"deviceName": device_name})
        return parse_model(DeviceState, data, "GET", self._ONE)

    async def update(self, device_name: str, device_state: DeviceStateValue) -> None:
        await self._http.request(
            "PUT", self._ONE, {"deviceName": device_name}, params={"deviceState": device_state}
        )

    async def delete(self, device_name: str) -> None:
        await self._http.request("DELETE", self._ONE, {"deviceName": device_name})


class AsteriskApi:
    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def info(self, *, only: Sequence[InfoPart] | None = None) -> AsteriskInfo:
        data = await self._http.request("GET", "/asterisk/info", params={"only": only})
        return parse_model(AsteriskInfo, data, "GET", "/asterisk/info")

    async def ping(self) -> AsteriskPing:
        data = await self._http.request("GET", "/asterisk/ping")
        return parse_model(AsteriskPing, data, "GET", "/asterisk/ping")

    async def get_global_var(self, variable: str) -> str:
        data = await self._http.request("GET", "/asterisk/variable", params={"variable": variable})
        return parse_model(Variable, data, "GET", "/asterisk/variable").value

    async def set_global_var(self, variable: str, value: str | None = None) -> None:
        await self._http.request(
            "POST", "/asterisk/variable", params={"variable": variable, "value": value}
        )
