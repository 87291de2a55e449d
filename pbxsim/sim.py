"""PbxSim: the async shell around the world, serving ARI (HTTP + WebSocket) and AMI (TCP).

One aiohttp server carries ``/ari/...`` (REST and ``/ari/events``) and the
``/sim/...`` control API, both behind HTTP basic auth; an asyncio TCP server
carries AMI.  The world is synchronous, so every request runs to completion
without awaiting; ARI events a request produces are held until its response
has been written, which is the order Asterisk usually shows (REST answer
first, events after).  Timers run on the event loop, scaled by
``time_scale``; an exception in a timer is kept in ``PbxSim.errors`` (tests
assert it stays empty).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import WSMsgType, web

from . import ari_calls as _ari_calls  # noqa: F401  (registers the channel and bridge routes)
from .ami import AmiServer
from .ami_actions import AmiActions
from .ari_rest import Reply, dispatch
from .config import SimConfig
from .driving import Driving
from .model import iso_timestamp
from .world import World

log = logging.getLogger("pbxsim")


@dataclass(frozen=True)
class RequestRecord:
    """One ARI REST request as pbxsim received and answered it; ``at`` is the
    wall-clock time (``time.time()``) it arrived, before it was dispatched;
    ``client`` the ``User-Agent`` it came with and ``fence`` its ``X-Hotline-Fence``
    header (the fencing token of the engine that sent it; Asterisk ignores it)."""

    method: str
    path: str
    params: dict[str, Any]
    body: Any
    status: int
    response: Any
    at: float = 0.0
    client: str = ""
    fence: str = ""


@dataclass
class HttpFault:
    method: str | None
    path: re.Pattern[str]
    status: int
    times: int | None
    body: Any


class _Timer:
    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self.handle = handle

    def cancel(self) -> None:
        self.handle.cancel()


class _AriSession:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request, apps: list[str]) -> None:
        self.ws = ws
        self.request = request
        self.apps = apps
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def pump(self) -> None:
        while True:
            event = await self.queue.get()
            if event is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(json.dumps(event, ensure_ascii=False))
            except (ConnectionError, RuntimeError):
                return


class PbxSim(Driving):
    """A stand-in Asterisk on loopback.  ``await start()``, use, ``await stop()``."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.errors: list[BaseException] = []
        self.requests: list[RequestRecord] = []
        self.faults: list[HttpFault] = []
        self._sessions: dict[str, _AriSession] = {}
        self._held: list[tuple[str, dict[str, Any]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = (
            set()
        )  # requests whose events wait for their response
        self._changed = asyncio.Event()
        self._refuse_ws_until = 0.0
        self._down = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self.world = World(self.config, self, self)
        self.ami_server = AmiServer(
            AmiActions(self.world, self.config.user, self.config.secret),
            split_writes=self.config.ami_split_writes,
            split_pause=self.config.ami_split_pause,
            eventfilter=self.config.ami_eventfilter,
            seed=self.config.seed,
            on_change=self.changed,
        )
        self.ami_server.errors = self.errors
        self.ami_server.keep_history = self.config.keep_history
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.ari_port = self.config.ari_port
        self.ami_port = self.config.ami_port

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> PbxSim:
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        app = web.Application(middlewares=[self._auth_middleware])
        app.router.add_get("/ari/events", self._events)
        from .control import add_control_routes

        add_control_routes(app, self)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await self._listen_ari()
        self.ami_port = await self.ami_server.start(self.config.host, self.ami_port)
        return self

    async def _listen_ari(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.config.host, self.ari_port)
        await self._site.start()
        sockets = getattr(self._site._server, "sockets", None)  # the port bound for 0
        if sockets:
            self.ari_port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5.0)
        await self._close_ari_sessions(abrupt=False)
        await self.ami_server.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.world.close()

    async def __aenter__(self) -> PbxSim:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ari_url(self) -> str:
        return f"http://{self.config.host}:{self.ari_port}/ari"

    def ws_url(self, app: str | None = None) -> str:
        return f"ws://{self.config.host}:{self.ari_port}/ari/events?app={app or self.config.app}"

    # -- Clock (for the world) ------------------------------------------------

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        loop = self._loop or asyncio.get_event_loop()

        def run() -> None:
            try:
                callback()
            except Exception as exc:  # kept for the tests, never swallowed silently
                log.exception("pbxsim timer failed")
                self.errors.append(exc)

        return _Timer(loop.call_later(max(0.0, delay) * self.config.time_scale, run))

    def monotonic(self) -> float:
        loop = self._loop or asyncio.get_event_loop()
        return (loop.time() - self._t0) / self.config.time_scale

    # -- Sink (for the world) -------------------------------------------------

    def ari_event(self, app: str, event: dict[str, Any]) -> bool:
        session = self._sessions.get(app)
        if session is None:
            return False
        if self._in_flight:
            self._held.append((app, event))
        else:
            session.queue.put_nowait(event)
        return True

    def ami_event(self, fields: list[tuple[str, str]]) -> None:
        self.ami_server.broadcast(fields)

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _release(self) -> None:
        self._in_flight -= 1
        if self._in_flight:
            return
        held, self._held = self._held, []
        for app, event in held:
            session = self._sessions.get(app)
            if session is not None:
                session.queue.put_nowait(event)

    # -- HTTP --------------------------------------------------------------

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(
                {"message": "Authentication required"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )
        response: web.StreamResponse = await handler(request)
        return response

    def _authorized(self, request: web.Request) -> bool:
        expected = (self.config.user, self.config.secret)
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return (user, secret) == expected
        api_key = request.query.get("api_key")
        if api_key is not None:
            user, _, secret = api_key.partition(":")
            return (user, secret) == expected
        return False

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        # The raw path: segments are decoded one by one (a recording name may hold %2F).
        path = request.rel_url.raw_path.removeprefix("/ari")
        params: dict[str, Any] = {}
        for key in request.query:
            if key == "api_key":
                continue
            values = request.query.getall(key)
            params[key] = values[0] if len(values) == 1 else values
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    return web.json_response({"message": "Failed to parse body"}, status=400)
        args = dict(params)
        if isinstance(body, dict):
            args.update(body)
        if self._down:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        self._in_flight += 1
        reply = Reply(500, {"message": "Internal Server Error"})
        try:
            reply = self._injected(request.method, path) or self._call(request.method, path, args)
            if self.config.keep_history:
                self.requests.append(
                    RequestRecord(
                        request.method,
                        path,
                        params,
                        body,
                        reply.status,
                        reply.body,
                        received_at,
                        client=request.headers.get("User-Agent", ""),
                        fence=request.headers.get("X-Hotline-Fence", ""),
                    )
                )
            response = self._response(reply)
            await response.prepare(request)
            await response.write_eof()
        finally:
            self._release()
            for action in reply.after:
                self._safely(action)
            self.changed()
        return response

    def _call(self, method: str, path: str, args: dict[str, Any]) -> Reply:
        try:
            return dispatch(self.world, method, path, args)
        except Exception as exc:
            log.exception("pbxsim request failed")
            self.errors.append(exc)
            return Reply(500, {"message": "Internal Server Error"})

    def _safely(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:
            log.exception("pbxsim follow-up failed")
            self.errors.append(exc)

    @staticmethod
    def _response(reply: Reply) -> web.Response:
        if reply.raw is not None:
            return web.Response(
                body=reply.raw, status=reply.status, content_type=reply.content_type
            )
        if reply.body is None:
            return web.Response(status=reply.status)
        return web.Response(
            text=json.dumps(reply.body, ensure_ascii=False),
            status=reply.status,
            content_type="application/json",
        )

    def _injected(self, method: str, path: str) -> Reply | None:
        for fault in list(self.faults):
            if fault.method not in (None, method) or not fault.path.search(path):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            body = fault.body if fault.body is not None else {"message": _reason(fault.status)}
            return Reply(fault.status, body)
        return None

    # -- the event WebSocket --------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        apps = [a for v in request.query.getall("app", []) for a in v.split(",") if a]
        if not apps:
            return web.json_response(
                {"message": "HTTP request is missing param: [app]"}, status=400
            )
        loop = asyncio.get_running_loop()
        if self._down or loop.time() < self._refuse_ws_until:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        ws = web.WebSocketResponse(protocols=("ari",), heartbeat=None)
        await ws.prepare(request)
        session = _AriSession(ws, request, apps)
        subscribe_all = request.query.get("subscribeAll", "").lower() in ("true", "1", "yes")
        for name in apps:
            old = self._sessions.get(name)
            if old is not None and old is not session:
                # A second socket for the same application replaces the first.
                old.queue.put_nowait(
                    {
                        "type": "ApplicationReplaced",
                        "application": name,
                        "timestamp": iso_timestamp(),
                        "asterisk_id": self.config.asterisk_id,
                    }
                )
                old.queue.put_nowait(None)
            self._sessions[name] = session
            app = self.world.app(name)
            app.connected = True
            app.subscribe_all = subscribe_all
        self.changed()
        pump = loop.create_task(session.pump())
        try:
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self._forget(session)
            session.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(pump, 1.0)
            self.changed()
        return ws

    def _forget(self, session: _AriSession) -> None:
        for name in session.apps:
            if self._sessions.get(name) is session:
                del self._sessions[name]
                app = self.world.apps.get(name)
                if app is not None:
                    app.connected = False

    async def _close_ari_sessions(self, *, abrupt: bool) -> None:
        for session in list({id(s): s for s in self._sessions.values()}.values()):
            self._forget(session)
            session.queue.put_nowait(None)
            if abrupt and session.request.transport is not None:
                session.request.transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await session.ws.close(code=1001, message=b"going away")

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the current request, keeping the task until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def connected_apps(self) -> set[str]:
        return set(self._sessions)

    # -- faults --------------------------------------------------------------

    async def drop_ari_websockets(self, refuse_for: float = 0.0, *, abrupt: bool = True) -> None:
        """Cut every ARI WebSocket; refuse new ones for ``refuse_for`` seconds (real time)."""
        loop = asyncio.get_running_loop()
        self._refuse_ws_until = loop.time() + refuse_for
        await self._close_ari_sessions(abrupt=abrupt)
        self.changed()

    async def drop_ami_connections(self) -> None:
        await self.ami_server.drop_all()
        self.changed()

    def fail_requests(
        self,
        method: str | None,
        path: str,
        status: int = 500,
        times: int | None = 1,
        body: Any = None,
    ) -> HttpFault:
        """Answer ARI requests matching ``method`` and the ``path`` regex with ``status``."""
        fault = HttpFault(method.upper() if method else None, re.compile(path), status, times, body)
        self.faults.append(fault)
        return fault

    def set_recording_storage_broken(self, broken: bool = True) -> None:
        """Bridge/channel recordings fail with 500 (the spool directory is missing)."""
        self.world.storage_broken = broken

    async def restart(self, down_for: float = 0.0) -> None:
        """Restart like Asterisk: sockets closed, every call gone, back after ``down_for`` s.

        Fault durations (``down_for`` here, ``refuse_for`` of ``drop_ari_websockets``)
        are wall-clock seconds, not scaled by ``time_scale``: they are about sockets.
        """
        self._down = True
        self.ami_server.refuse = True
        await self._close_ari_sessions(abrupt=True)
        await self.ami_server.stop()
        if self._site is not None:
            await self._site.stop()
            self._site = None
        self.world.restart()
        if down_for > 0:
            await asyncio.sleep(down_for)  # the outage itself: nothing to wait for but time
        await self._listen_ari()
        self.ami_server.refuse = False
        await self.ami_server.start(self.config.host, self.ami_port)
        self._down = False
        self.changed()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
