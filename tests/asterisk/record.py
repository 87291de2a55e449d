"""Record a transcript against a real Asterisk, in the format of the fixtures.

Used by hand, where Asterisk's source and testsuite leave a doubt::

    ASTERISK_BIN=/opt/asterisk/sbin/asterisk .venv/bin/python -m tests.asterisk.record \\
        playback_list_pause_unpause

starts Asterisk with the shipped configuration plus the recordings' ``[probe]``
context, runs the named scenario over ARI (REST and one event WebSocket) and
writes ``tests/fixtures/asterisk/transcripts/NAME.jsonl``: ``ari-req``,
``ari-resp``, ``ari-ws`` (with ``ws``) and ``note`` lines, ``t`` in seconds
since the start.  The replays then hold pbxsim to it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.asterisk.pbx import ARI_PASSWORD, ARI_USER, Asterisk, Ports, find_asterisk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asterisk"
PROBE = FIXTURES / "probe-extensions.conf"


class Recorder:
    def __init__(self, ari_url: str) -> None:
        self.ari_url = ari_url
        self.entries: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.t0 = time.monotonic()
        self._changed = asyncio.Event()
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def note(self, text: str) -> None:
        self.entries.append({"text": text, "t": self.now(), "dir": "note"})

    async def open(self) -> None:
        headers = {"Authorization": aiohttp.encode_basic_auth(ARI_USER, ARI_PASSWORD)}
        self.http = aiohttp.ClientSession(headers=headers)
        url = self.ari_url.replace("http://", "ws://") + "/events?app=hotline"
        self.ws = await self.http.ws_connect(url)
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                event = json.loads(message.data)
                self.events.append(event)
                self.entries.append({"ws": 1, "event": event, "t": self.now(), "dir": "ari-ws"})
                self._changed.set()
                self._changed = asyncio.Event()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
        self.note("websocket 1 closed")
        if self.http is not None:
            await self.http.close()

    async def request(self, method: str, path: str, **params: str) -> tuple[int, Any]:
        assert self.http is not None
        self.entries.append(
            {"method": method, "path": path, "params": params, "t": self.now(), "dir": "ari-req"}
        )
        async with self.http.request(method, self.ari_url + path, params=params) as reply:
            body = await reply.json() if reply.content_type == "application/json" else None
            self.entries.append(
                {"status": reply.status, "body": body, "t": self.now(), "dir": "ari-resp"}
            )
            return reply.status, body

    async def event(
        self, kind: str, test: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> None:
        async with asyncio.timeout(timeout):
            start = 0
            while True:
                for event in self.events[start:]:
                    if event["type"] == kind and test(event):
                        return
                start = len(self.events)
                await self._changed.wait()


def playback_of(ident: str, media: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def test(event: dict[str, Any]) -> bool:
        playback = event.get("playback", {})
        return bool(
            playback.get("id") == ident and (media is None or playback["media_uri"] == media)
        )

    return test


async def playback_list_pause_unpause(rec: Recorder) -> None:
    first, second = "sound:hotline/zh/goodbye", "sound:hotline/zh/transfer-to-agent"
    rec.note("a Local channel answered into the application (its other half parks)")
    await rec.request(
        "POST",
        "/channels",
        endpoint="Local/park@probe",
        app="hotline",
        appArgs="playback",
        channelId="pl-1",
    )
    await rec.event("StasisStart", lambda e: e["channel"]["id"] == "pl-1")
    rec.note("a list of two prompts; paused for 5 s during the second, then unpaused")
    await rec.request("POST", "/channels/pl-1/play/pb-list", media=f"{first},{second}")
    await rec.event("PlaybackStarted", playback_of("pb-list", second))
    await rec.request("POST", "/playbacks/pb-list/control", operation="pause")
    await asyncio.sleep(5)  # longer than the prompt: a pause that does not pause would end it
    await rec.request("GET", "/playbacks/pb-list")
    await rec.request("POST", "/playbacks/pb-list/control", operation="unpause")
    await rec.event("PlaybackFinished", playback_of("pb-list"))
    rec.note("a tone, and a prompt queued behind it; the queued one is deleted, then the tone")
    await rec.request("POST", "/channels/pl-1/play/pb-tone", media="tone:ring")
    await rec.event("PlaybackStarted", playback_of("pb-tone"))
    await rec.request("POST", "/channels/pl-1/play/pb-queued", media=first)
    await rec.request("POST", "/playbacks/pb-queued/control", operation="pause")
    await rec.request("POST", "/playbacks/pb-queued/control", operation="restart")
    await rec.request("DELETE", "/playbacks/pb-queued")
    await rec.request("POST", "/playbacks/pb-tone/control", operation="unpause")
    await rec.request("DELETE", "/playbacks/pb-tone")
    await rec.event("PlaybackFinished", playback_of("pb-tone"))
    rec.note("a prompt cut short by the hang-up")
    await rec.request("POST", "/channels/pl-1/play/pb-cut", media=second)
    await rec.event("PlaybackStarted", playback_of("pb-cut"))
    await rec.request("DELETE", "/channels/pl-1")
    await rec.event("ChannelDestroyed", lambda e: e["channel"]["id"] == "pl-1;2")


SCENARIOS: dict[str, Callable[[Recorder], Awaitable[None]]] = {
    "playback_list_pause_unpause": playback_list_pause_unpause,
}


async def record(pbx: Asterisk, name: str) -> Path:
    rec = Recorder(pbx.ari_url)
    await rec.open()
    try:
        await SCENARIOS[name](rec)
    finally:
        await rec.close()
    rec.note(f"asterisk {pbx.version}")
    out = FIXTURES / "transcripts" / f"{name}.jsonl"
    out.write_text(
        "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in rec.entries),
        encoding="utf-8",
    )
    return out


def main(argv: list[str]) -> int:
    root = Path(tempfile.mkdtemp(prefix="asterisk-record-"))
    local = {"extensions_local.conf": PROBE.read_text(encoding="utf-8")}
    pbx = Asterisk(find_asterisk(), root, Ports.allocate(), local=local)
    pbx.start()
    try:
        for name in argv:
            print(asyncio.run(record(pbx, name)))
    finally:
        pbx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
