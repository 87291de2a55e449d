"""Test support for the ARI/AMI client tests: a recording ARI server.

``RecordingAri`` is a small aiohttp server on loopback that stands at the
transport seam only: it records every REST request (method, path, query,
JSON body), answers each with a sample of the model the Swagger operation
declares (samples taken from the recorded transcripts), can be told to answer
a path with an error status, and serves ``/ari/events`` so tests can push
events and cut the socket.  What is under test is always the real client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, hdrs, web

from tests.support.swagger import response_model, validate_model

TRANSCRIPTS = Path(__file__).parent / "fixtures" / "asterisk" / "transcripts"
USER = "hotline"
PASSWORD = "ari-secret"


def transcript(name: str) -> list[dict[str, Any]]:
    path = TRANSCRIPTS / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def all_ws_events() -> list[tuple[str, dict[str, Any]]]:
    """Every ``ari-ws`` event of every transcript, with its file name."""
    events = []
    for path in sorted(TRANSCRIPTS.glob("*.jsonl")):
        for record in transcript(path.name):
            if record["dir"] == "ari-ws":
                events.append((path.name, record["event"]))
    return events


def _samples() -> dict[str, Any]:
    """One real example of each model, from the transcripts."""
    samples: dict[str, Any] = {}
    for _, event in all_ws_events():
        for key, model in (
            ("channel", "Channel"),
            ("bridge", "Bridge"),
            ("playback", "Playback"),
            ("recording", "LiveRecording"),
        ):
            if key in event and model not in samples:
                samples[model] = event[key]
    for record in transcript("engine_ws_drop_and_return.jsonl"):
        if record["dir"] == "ari-resp" and record["path"] == "/applications/hotline":
            samples["Application"] = record["body"]
    for record in transcript("inbound_answer_bridge_record.jsonl"):
        if record["dir"] == "ari-resp" and record["path"] == "/endpoints/PJSIP":
            samples["Endpoint"] = record["body"][0]
    samples["StoredRecording"] = {"name": "c-0001", "format": "wav"}
    samples["Variable"] = {"value": "c-0002"}
    samples["AsteriskPing"] = {
        "asterisk_id": "02:fc:00:00:00:01",
        "ping": "pong",
        "timestamp": "2026-11-21T23:13:07.662+0000",
    }
    samples["AsteriskInfo"] = {
        "system": {"version": "22.10.1", "entity_id": "02:fc:00:00:00:01"},
    }
    samples["DeviceState"] = {"name": "Stasis:agent-8001", "state": "NOT_INUSE"}
    samples["Variables"] = {"variables": {"HOTLINE_CALL_ID": "c-0002"}}
    samples["RTPstat"] = {
        "txcount": 1,
        "rxcount": 1,
        "txploss": 0,
        "rxploss": 0,
        "local_ssrc": 1,
        "remote_ssrc": 2,
        "txoctetcount": 160,
        "rxoctetcount": 160,
        "channel_uniqueid": "1795302787.8",
    }
    for model, value in samples.items():
        problems = validate_model(model, value)
        assert not problems, problems
    return samples


SAMPLES = _samples()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    message: str
    times: int


@dataclass
class RecordingAri:
    requests: list[Recorded] = field(default_factory=list)
    faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    stall: set[tuple[str, str]] = field(default_factory=set)
    heartbeat_answers: bool = True
    port: int = 0
    app_channels: list[str] = field(default_factory=list)
    app_bridges: list[str] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    socket_count: int = 0
    refuse_sockets: bool = False
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    def fail(self, method: str, path: str, status: int, message: str, times: int = 1) -> None:
        """Answer the next ``times`` requests ``method path`` with ``status``."""
        self.faults[(method, path)] = Fault(status, message, times)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._release.set()
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def push(self, event: dict[str, Any] | str) -> None:
        text = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
        for ws in list(self.sockets):
            await ws.send_str(text)

    async def cut(self) -> None:
        """Close every event socket from the server side."""
        for ws in list(self.sockets):
            await ws.close()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return request.headers.get(hdrs.AUTHORIZATION, "") == f"Basic {expected}"

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            raise web.HTTPUnauthorized()
        if self.refuse_sockets:
            raise web.HTTPServiceUnavailable()
        self.requests.append(Recorded("GET", "/events", dict(request.query), None))
        ws = web.WebSocketResponse(autoping=self.heartbeat_answers)
        await ws.prepare(request)
        self.socket_count += 1
        self.sockets.append(ws)
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self.sockets.remove(ws)
        return ws

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        path = request.rel_url.raw_path.removeprefix("/ari")
        body = await request.json() if request.can_read_body else None
        query = {}
        for key in request.query:
            values = request.query.getall(key)
            assert len(values) == 1, f"{key} repeated: {values}"
            query[key] = values[0]
        self.requests.append(Recorded(request.method, path, query, body))
        if (request.method, path) in self.stall:
            await self._release.wait()
        fault = self.faults.get((request.method, path))
        if fault is not None and fault.times > 0:
            fault.times -= 1
            return web.json_response({"message": fault.message}, status=fault.status)
        if path == "/applications/hotline" and request.method == "GET":
            return web.json_response(
                {
                    **SAMPLES["Application"],
                    "channel_ids": self.app_channels,
                    "bridge_ids": self.app_bridges,
                }
            )
        if path == "/channels" and request.method == "GET":
            return web.json_response([{**SAMPLES["Channel"], "id": ch} for ch in self.app_channels])
        if path == "/bridges" and request.method == "GET":
            return web.json_response([{**SAMPLES["Bridge"], "id": br} for br in self.app_bridges])
        model = response_model(request.method, path)
        return _answer(model)


def _answer(model: str | None) -> web.StreamResponse:
    if model is None or model == "void":
        return web.Response(status=204)
    if model == "binary":
        return web.Response(body=b"RIFF....WAVE", content_type="audio/wav")
    match = re.fullmatch(r"List\[(.+)\]", model)
    if match:
        return web.json_response([SAMPLES[match.group(1)]])
    status = 201 if model in ("Playback", "LiveRecording") else 200
    return web.json_response(SAMPLES[model], status=status)


@contextlib.asynccontextmanager
async def running_ari() -> AsyncIterator[RecordingAri]:
    """A started recording server, stopped on exit."""
    server = RecordingAri()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
