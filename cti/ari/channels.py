"""``/channels`` requests (``channels.json``).

Python arguments are the Swagger parameters in snake case; each is sent under
its exact Swagger name (``app_args`` -> ``appArgs``, ``moh_class`` ->
``mohClass``, ``report_events`` stays ``report_events``).  A 404 raises
:class:`~cti.ari.errors.ChannelGone` with the channel id.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from cti.ari.http import AriHttp, parse_model, parse_models
from cti.ari.models import Channel, LiveRecording, Playback, Variable
from cti.ids import ChannelId, PlaybackId, RecordingName

HangupReason = Literal[
    "normal",
    "busy",
    "congestion",
    "no_answer",
    "timeout",
    "rejected",
    "unallocated",
    "normal_unspecified",
    "number_incomplete",
    "codec_mismatch",
    "interworking",
    "failure",
    "answered_elsewhere",
]
Direction = Literal["both", "in", "out"]
SpyDirection = Literal["none", "both", "out", "in"]
IfExists = Literal["fail", "overwrite", "append"]
TerminateOn = Literal["none", "any", "*", "#"]

_ONE = "/channels/{channelId}"


class ChannelsApi:
    def __init__(self, http: AriHttp) -> None:
        self._http = http

    async def _void(
        self, method: str, suffix: str, channel_id: str, params: Mapping[str, object] | None = None
    ) -> None:
        await self._http.request(method, _ONE + suffix, {"channelId": channel_id}, params=params)

    async def list(self) -> builtins.list[Channel]:
        """Every channel Asterisk has, in or out of the application."""
        data = await self._http.request("GET", "/channels")
        return parse_models(Channel, data, "GET", "/channels")

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | None = None,
        extension: str | None = None,
        context: str | None = None,
        priority: int | None = None,
        label: str | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
    ) -> Channel:
        """``POST /channels``: dial ``endpoint`` (``PJSIP/8001``).  With ``app``
        the answered leg enters Stasis with ``app_args``; until it answers the
        returned channel is ``Down`` and no ``StasisStart`` arrives.  A
        ``timeout`` (seconds) ends an unanswered leg with ``ChannelDestroyed``."""
        params = {
            "endpoint": endpoint,
            "extension": extension,
            "context": context,
            "priority": priority,
            "label": label,
            "app": app,
            "appArgs": app_args,
            "callerId": caller_id,
            "timeout": timeout,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
        }
        body = {"variables": dict(variables)} if variables else None
        data = await self._http.request("POST", "/channels", params=params, body=body)
        return parse_model(Channel, data, "POST", "/channels")

    async def create(
        self,
        endpoint: str,
        app: str,
        *,
        app_args: str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """``POST /channels/create``: a channel in Stasis that is not dialled yet
        (see :meth:`dial`)."""
        params = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
        }
        body = {"variables": dict(variables)} if variables else None
        data = await self._http.request("POST", "/channels/create", params=params, body=body)
        return parse_model(Channel, data, "POST", "/channels/create")

    async def get(self, channel_id: ChannelId) -> Channel:
        data = await self._http.request("GET", _ONE, {"channelId": channel_id})
        return parse_model(Channel, data, "GET", _ONE)

    async def hangup(
        self,
        channel_id: ChannelId,
        *,
        reason: HangupReason | None = None,
        reason_code: str | None = None,
    ) -> None:
        await self._void("DELETE", "", channel_id, {"reason": reason, "reason_code": reason_code})

    async def continue_in_dialplan(
        self,
        channel_id: ChannelId,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        params = {"context": context, "extension": extension, "priority": priority, "label": label}
        await self._void("POST", "/continue", channel_id, params)

    async def move(self, channel_id: ChannelId, app: str, *, app_args: str | None = None) -> None:
        await self._void("POST", "/move", channel_id, {"app": app, "appArgs": app_args})

    async def redirect(self, channel_id: ChannelId, endpoint: str) -> None:
        await self._void("POST", "/redirect", channel_id, {"endpoint": endpoint})

    async def answer(self, channel_id: ChannelId) -> None:
        await self._void("POST", "/answer", channel_id)

    async def ring(self, channel_id: ChannelId) -> None:
        await self._void("POST", "/ring", channel_id)

    async def ring_stop(self, channel_id: ChannelId) -> None:
        await self._void("DELETE", "/ring", channel_id)

    async def progress(self, channel_id: ChannelId) -> None:
        await self._void("POST", "/progress", channel_id)

    async def send_dtmf(
        self,
        channel_id: ChannelId,
        dtmf: str,
        *,
        before: int | None = None,
        between: int | None = None,
        duration: int | None = None,
        after: int | None = None,
    ) -> None:
        params = {
            "dtmf": dtmf,
            "before": before,
            "between": between,
            "duration": duration,
            "after": after,
        }
        await self._void("POST", "/dtmf", channel_id, params)

    async def mute(self, channel_id: ChannelId, *, direction: Direction | None = None) -> None:
        await self._void("POST", "/mute", channel_id, {"direction": direction})

    async def unmute(self, channel_id: ChannelId, *, direction: Direction | None = None) -> None:
        await self._void("DELETE", "/mute", channel_id, {"direction": direction})

    async def hold(self, channel_id: ChannelId) -> None:
        await self._void("POST", "/hold", channel_id)

    async def unhold(self, channel_id: ChannelId) -> None:
        await self._void("DELETE", "/hold", channel_id)

    async def start_moh(self, channel_id: ChannelId, *, moh_class: str | None = None) -> None:
        await self._void("POST", "/moh", channel_id, {"mohClass": moh_class})

    async def stop_moh(self, channel_id: ChannelId) -> None:
        await self._void("DELETE", "/moh", channel_id)

    async def start_silence(self, channel_id: ChannelId) -> None:
        await self._void("POST", "/silence", channel_id)

    async def stop_silence(self, channel_id: ChannelId) -> None:
        await self._void("DELETE", "/silence", channel_id)

    async def play(
        self,
        channel_id: ChannelId,
        media: str | Sequence[str],
        *,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
        playback_id: PlaybackId | None = None,
    ) -> Playback:
        """Play ``media`` (``sound:hello-world``, or several one after another);
        ``PlaybackStarted`` and ``PlaybackFinished`` follow as events."""
        params = {
            "media": media,
            "lang": lang,
            "offsetms": offsetms,
            "skipms": skipms,
            "playbackId": playback_id,
        }
        data = await self._http.request(
            "POST", _ONE + "/play", {"channelId": channel_id}, params=params
        )
        return parse_model(Playback, data, "POST", _ONE + "/play")

    async def play_with_id(
        self,
        channel_id: ChannelId,
        playback_id: PlaybackId,
        media: str | Sequence[str],
        *,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
    ) -> Playback:
        template = _ONE + "/play/{playbackId}"
        params = {"media": media, "lang": lang, "offsetms": offsetms, "skipms": skipms}
        data = await self._http.request(
            "POST", template, {"channelId": channel_id, "playbackId": playback_id}, params=params
        )
        return parse_model(Playback, data, "POST", template)

    async def record(
        self,
        channel_id: ChannelId,
        name: RecordingName,
        format: str,
        *,
        max_duration_seconds: int | None = None,
        max_silence_seconds: int | None = None,
        if_exists: IfExists | None = None,
        beep: bool | None = None,
        terminate_on: TerminateOn | None = None,
    ) -> LiveRecording:
        params = {
            "name": name,
            "format": format,
            "maxDurationSeconds": max_duration_seconds,
            "maxSilenceSeconds": max_silence_seconds,
            "ifExists": if_exists,
            "beep": beep,
            "terminateOn": terminate_on,
        }
        data = await self._http.request(
            "POST", _ONE + "/record", {"channelId": channel_id}, params=params
        )
        return parse_model(LiveRecording, data, "POST", _ONE + "/record")

    async def get_variable(self, channel_id: ChannelId, variable: str) -> str:
        """A channel variable or function (``HOTLINE_CALL_ID``,
        ``REDIRECTING(from-num)``).  A variable that is not set raises
        :class:`~cti.ari.errors.AriNotFound`, a missing channel ``ChannelGone``."""
        data = await self._http.request(
            "GET", _ONE + "/variable", {"channelId": channel_id}, params={"variable": variable}
        )
        return parse_model(Variable, data, "GET", _ONE + "/variable").value

    async def set_variable(
        self,
        channel_id: ChannelId,
        variable: str,
        value: str | None = None,
        *,
        report_events: bool | None = None,
    ) -> None:
        params = {"variable": variable, "value": value, "report_events": report_events}
        await self._void("POST", "/variable", channel_id, params)

    async def get_variables(
        self, channel_id: ChannelId, variables: Sequence[str]
    ) -> dict[str, Any]:
        data = await self._http.request(
            "GET", _ONE + "/variables", {"channelId": channel_id}, params={"variables": variables}
        )
        found = data.get("variables") if isinstance(data, dict) else None
        return dict(found or {})

    async def set_variables(self, channel_id: ChannelId, variables: Mapping[str, str]) -> None:
        await self._http.request(
            "POST",
            _ONE + "/variables",
            {"channelId": channel_id},
            body={"variables": dict(variables)},
        )

    async def snoop(
        self,
        channel_id: ChannelId,
        app: str,
        *,
        spy: SpyDirection | None = None,
        whisper: SpyDirection | None = None,
        app_args: str | None = None,
        snoop_id: str | None = None,
    ) -> Channel:
        """A ``Snoop/...`` channel on ``channel_id`` that enters ``app``
        (supervisor listen: ``spy="both"``; whisper: ``whisper="out"``)."""
        params = {
            "spy": spy,
            "whisper": whisper,
            "app": app,
            "appArgs": app_args,
            "snoopId": snoop_id,
        }
        data = await self._http.request(
            "POST", _ONE + "/snoop", {"channelId": channel_id}, params=params
        )
        return parse_model(Channel, data, "POST", _ONE + "/snoop")

    async def snoop_with_id(
        self,
        channel_id: ChannelId,
        snoop_id: str,
        app: str,
        *,
        spy: SpyDirection | None = None,
        whisper: SpyDirection | None = None,
        app_args: str | None = None,
    ) -> Channel:
        template = _ONE + "/snoop/{snoopId}"
        params = {"spy": spy, "whisper": whisper, "app": app, "appArgs": app_args}
        data = await self._http.request(
            "POST", template, {"channelId": channel_id, "snoopId": snoop_id}, params=params
        )
        return parse_model(Channel, data, "POST", template)

    async def dial(
        self, channel_id: ChannelId, *, caller: str | None = None, timeout: int | None = None
    ) -> None:
        await self._void("POST", "/dial", channel_id, {"caller": caller, "timeout": timeout})

    async def rtp_statistics(self, channel_id: ChannelId) -> dict[str, Any]:
        data = await self._http.request("GET", _ONE + "/rtp_statistics", {"channelId": channel_id})
        return dict(data or {})
