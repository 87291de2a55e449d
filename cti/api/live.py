"""Live events over WebSocket: ``/ws/agent`` (one agent's toolbar) and ``/ws/wallboard``.

Protocol
--------
The client opens the socket and, unless its upgrade request already carried
``Authorization: Bearer``, sends ``{"type": "auth", "token": "..."}`` first
(browsers cannot set headers on a WebSocket), within
``security.socket_auth_seconds``.  A wrong token or role in the upgrade
request is refused there, with a plain ``401`` / ``403`` and no socket.  A
wrong token or role in the auth message closes the socket with code
``4401`` / ``4403`` after an ``{"type": "error"}`` message; a client must
then ask for credentials again, not reconnect.  A client address locked out
for failed logins (:mod:`cti.api.throttle`) gets ``429`` at the upgrade, or
``4429`` after its auth message.  A message that is not a well-formed auth
message (not JSON, too deep, binary) closes the socket with ``1008``; an
error of the engine's own with ``1011``: never an HTTP answer on the socket.
Every refusal is audited.
After authentication the server sends:

- on ``/ws/agent``: ``{"type": "state", "now": time, "agent": AgentView, "call":
  CallView | null}`` at once and after every change of the agent's state or call
  (the screen pop is the first ``state`` with a ringing call); when the agent
  is logged out (by themselves or a supervisor) or their session is replaced
  by a new login, ``{"type": "logged_out"}``, then the socket closes with
  ``4000``;
- on ``/ws/wallboard``: ``{"type": "wallboard", "wallboard": Wallboard}`` at
  once, within 250 ms of any call or agent event, and every second.

Theory of operation
-------------------
The engine's listeners (``agent_listeners``, ``call_listeners``,
``ended_listeners``) run synchronously inside the engine's decisions.  They
only mark what changed and schedule one flush with ``call_soon``, so a
decision that emits several events is published once, after it is complete
(an agent's ring is published when the offer is on the call).  The flush
builds every message without awaiting, then hands them to one sender task;
a socket that does not take a message within a second is closed.  A ticker
recomputes the wallboard every second (waits grow without events), which
also keeps the threshold alarms current with no client connected, and
refreshes the callback counts from the database every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import WSMsgType, web

import acd
from cti.api import schemas
from cti.api.agents import ENGINE, agent_model, call_model
from cti.api.audit import AUDITOR, mark_audited
from cti.api.auth import Principal, Role
from cti.api.figures import READERS, WALLBOARD, WallboardState
from cti.api.http import (
    AUTH,
    LIMITS,
    PRINCIPAL_KEY,
    THROTTLE,
    ApiError,
    InputLimits,
    parse_json,
    too_many,
)
from cti.api.spec import Operation, register
from cti.api.throttle import Refusal
from cti.api.tracker import TRACKER, Tracker
from cti.appkeys import DATABASE
from cti.errors import StoreError
from cti.executor import Engine
from cti.store.callbacks import day_figures as callback_figures

log = structlog.get_logger("cti.api.live")

AUTH_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 1.0
BOARD_MIN_GAP_S = 0.25
TICK_S = 1.0
CALLBACKS_EVERY_S = 5.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_THROTTLED = 4429
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
AUTH_MESSAGE_MAX = 4096
CLOSE_LOGGED_OUT = 4000

Socket = web.WebSocketResponse


class LiveHub:
    """The open sockets and what they have been sent (see the module docstring)."""

    def __init__(
        self, engine: Engine, tracker: Tracker, board: WallboardState, db: Any = None
    ) -> None:
        self.engine = engine
        self.db = db
        self.tracker = tracker
        self.board = board
        self.agents: dict[str, set[Socket]] = {}
        self.boards: set[Socket] = set()
        self._sent: dict[Socket, str] = {}
        self._dirty: set[str] = set()
        self._board_dirty = False
        self._flush_pending = False
        self._board_timer: asyncio.TimerHandle | None = None
        self._last_board = 0.0
        self._outbox: asyncio.Queue[tuple[Socket, str, int | None]] = asyncio.Queue()
        self.sent_count = 0

    def __repr__(self) -> str:
        n = sum(len(v) for v in self.agents.values())
        return f"<LiveHub agents={n} wallboards={len(self.boards)}>"

    # -- engine listeners (synchronous) --------------------------------------

    # A failure here must never reach the engine's decision that called us.

    def on_agent(self, change: acd.AgentStateChanged) -> None:
        try:
            self.tracker.on_agent(change, self.engine.now())
            self._mark([str(change.agent)])
        except Exception:
            log.exception("live_listener_failed", listener="agent")

    def on_call(self, call: Any) -> None:
        try:
            self._mark(self._agents_of(call))
        except Exception:
            log.exception("live_listener_failed", listener="call")

    def on_ended(self, call: Any) -> None:
        try:
            self.tracker.on_ended(call, self.engine.now())
            self._mark(self._agents_of(call))
        except Exception:
            log.exception("live_listener_failed", listener="ended")

    def sessions_closed(self, agent: str) -> None:
        """The agent's sessions ended (logout, or a new login): their sockets close too."""
        for ws in list(self.agents.pop(agent, ())):
            self._send(ws, json.dumps({"type": "logged_out"}), close=CLOSE_LOGGED_OUT)

    @staticmethod
    def _agents_of(call: Any) -> list[str]:
        found = {o.agent for o in call.offers}
        found |= {a for a in (call.agent, call.first_agent) if a}
        return sorted(found)

    def _mark(self, agents: list[str]) -> None:
        self._dirty.update(a for a in agents if a in self.agents)
        self._board_dirty = True
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._flush_pending = True
        loop.call_soon(self._flush)

    # -- publishing (decide, then send) ---------------------------------------

    def _flush(self) -> None:
        self._flush_pending = False
        dirty, self._dirty = self._dirty, set()
        for agent in dirty:
            self._push_agent(agent)
        if self._board_dirty and self.boards:
            loop = asyncio.get_running_loop()
            wait = self._last_board + BOARD_MIN_GAP_S - loop.time()
            if wait <= 0:
                self.push_board()
            elif self._board_timer is None:
                self._board_timer = loop.call_later(wait, self._timed_board)

    def _timed_board(self) -> None:
        self._board_timer = None
        self.push_board()

    def agent_message(self, agent: str) -> str:
        engine = self.engine
        view = agent_model(engine, agent, self.tracker.since.get(agent))
        call = engine.current_call_of(agent)
        body = {
            "type": "state",
            "now": engine.now_dt().isoformat(),
            "agent": view.model_dump(mode="json"),
            "call": call_model(engine, call, agent).model_dump(mode="json") if call else None,
        }
        return json.dumps(body, ensure_ascii=False)

    def _push_agent(self, agent: str) -> None:
        sockets = self.agents.get(agent)
        if not sockets:
            return
        message = self.agent_message(agent)
        state = self.engine.agent_states.get(agent)
        logged_out = state is not None and state.status is acd.AgentStatus.LOGGED_OUT
        for ws in list(sockets):
            if self._sent.get(ws) != message:
                self._sent[ws] = message
                self._send(ws, message)
            if logged_out:
                self._send(ws, json.dumps({"type": "logged_out"}), close=CLOSE_LOGGED_OUT)
                sockets.discard(ws)

    def board_message(self) -> str:
        wallboard = self.board.compute()
        return json.dumps(
            {"type": "wallboard", "wallboard": wallboard.model_dump(mode="json")},
            ensure_ascii=False,
        )

    def push_board(self) -> None:
        self._board_dirty = False
        self._last_board = asyncio.get_running_loop().time()
        message = self.board_message()
        for ws in list(self.boards):
            self._send(ws, message)

    def _send(self, ws: Socket, message: str, close: int | None = None) -> None:
        self._outbox.put_nowait((ws, message, close))

    async def sender(self) -> None:
        """Deliver queued messages in order; a socket too slow to take one is closed."""
        while True:
            ws, message, close = await self._outbox.get()
            if ws.closed:
                continue
            try:
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await ws.send_str(message)
                    self.sent_count += 1
                    if close is not None:
                        await ws.close(code=close)
            except (TimeoutError, ConnectionError, RuntimeError) as exc:
                log.info("live_socket_dropped", error=repr(exc))
                self._forget(ws)
                with contextlib.suppress(Exception):
                    await ws.close()

    def _forget(self, ws: Socket) -> None:
        self.boards.discard(ws)
        self._sent.pop(ws, None)
        for sockets in self.agents.values():
            sockets.discard(ws)

    async def ticker(self) -> None:
        """Recompute the wallboard every second; refresh callback counts now and then."""
        loop = asyncio.get_running_loop()
        next_callbacks = 0.0
        while True:
            if loop.time() >= next_callbacks and self.db is not None:
                next_callbacks = loop.time() + CALLBACKS_EVERY_S
                await self.refresh_callbacks(self.db)
            try:
                if self.boards:
                    self.push_board()
                else:
                    self.board.compute()
            except Exception:
                log.exception("wallboard_compute_failed")
            await asyncio.sleep(TICK_S)

    async def refresh_callbacks(self, db: Any) -> None:
        """The open entries of the callback list per queue, and its figures (漏接回拨)."""
        try:
            async with asyncio.timeout(2.0):
                rows = await db.fetch(
                    "SELECT COALESCE(queue, '') AS queue, count(*)::int AS n"
                    " FROM callback_entries WHERE status IN ('pending', 'claimed', 'dialling')"
                    " GROUP BY 1"
                )
                found = await callback_figures(db, self.engine.config, self.engine.now_dt())
        except (StoreError, TimeoutError):
            self.board.callbacks = None
            self.board.callback_figures = None
            return
        self.board.callbacks = {row["queue"]: row["n"] for row in rows}
        self.board.callback_figures = schemas.CallbackBoard(
            pending=found.pending,
            overdue=found.overdue,
            done_today=found.done_today,
            in_time_share=found.in_time_share,
        )

    async def close_all(self) -> None:
        for ws in [*self.boards, *(w for s in self.agents.values() for w in s)]:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutdown")


HUB = web.AppKey("live_hub", LiveHub)


SOCKET_AUTH_S = web.AppKey("socket_auth_seconds", float)


async def _authenticated(
    request: web.Request, ws: Socket, roles: tuple[Role, ...]
) -> Principal | None:
    who = request.get(PRINCIPAL_KEY)
    token: str | None = None
    if who is None:
        timeout = request.app.get(SOCKET_AUTH_S, AUTH_TIMEOUT_S)
        try:
            async with asyncio.timeout(timeout):
                msg = await ws.receive()
        except TimeoutError:
            msg = None
        token = _auth_token(request, msg)
        if token is None:
            await _refuse(request, ws, CLOSE_POLICY, "bad_message", "send an auth message first")
            return None
        who = request.app[AUTH].session(token)
    if who is None and token is not None:
        throttle = request.app.get(THROTTLE)
        attempt = None
        if throttle is not None:
            admitted = throttle.admit(None, request.remote)
            if isinstance(admitted, Refusal):
                too_many(request, admitted, "token_refused")
                await _refuse(
                    request, ws, CLOSE_THROTTLED, "too_many_attempts", "too many failed attempts"
                )
                return None
            attempt = admitted
        auth = request.app[AUTH]
        who = auth.principal(token) or await auth.recall(token)
        if attempt is not None:
            if who is None:
                attempt.failed()
            else:
                attempt.succeeded()
    if who is None:
        await _refuse(request, ws, CLOSE_UNAUTHORIZED, "unauthorized", "a valid token is required")
        return None
    if who.role not in roles:
        await _refuse(
            request, ws, CLOSE_FORBIDDEN, "forbidden", f"the {who.role} role may not do this"
        )
        return None
    return who


def _auth_token(request: web.Request, msg: Any) -> str | None:
    """The token of a well-formed auth message; ``None`` for anything else."""
    if msg is None or msg.type != WSMsgType.TEXT or len(msg.data) > AUTH_MESSAGE_MAX:
        return None
    limits = request.app.get(LIMITS) or InputLimits()
    try:
        data = parse_json(msg.data, limits.json_max_depth)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "auth":
        return None
    token = data.get("token")
    return token if isinstance(token, str) else ""


async def _refuse(request: web.Request, ws: Socket, code: int, error: str, message: str) -> None:
    auditor = request.app.get(AUDITOR)
    if auditor is not None and code != CLOSE_THROTTLED:
        auditor.record(
            request.get(PRINCIPAL_KEY),
            "live_socket",
            request.path,
            allowed=False,
            detail={"close": code, "error": error, "address": request.remote or ""},
        )
    mark_audited(request)
    with contextlib.suppress(Exception):
        await ws.send_str(json.dumps({"type": "error", "error": error, "message": message}))
        await ws.close(code=code)


async def _open(request: web.Request, roles: tuple[Role, ...]) -> Socket:
    ws = web.WebSocketResponse(heartbeat=20.0)
    if not ws.can_prepare(request).ok:
        raise ApiError(426, "upgrade_required", "this endpoint speaks WebSocket only")
    if request.headers.get("Authorization"):
        # Credentials in the upgrade request are judged before there is a socket.
        who = request.get(PRINCIPAL_KEY)
        if who is None:
            raise ApiError(401, "unauthorized", "a valid token is required")
        if who.role not in roles:
            raise ApiError(403, "forbidden", f"the {who.role} role may not do this")
    await ws.prepare(request)
    return ws


async def _guarded(ws: Socket, work: Any) -> None:
    """Run the socket's work; an error of ours closes it with 1011, never an HTTP answer."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("live_socket_failed")
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_INTERNAL)


async def _drain(ws: Socket) -> None:
    async for msg in ws:
        if msg.type == WSMsgType.ERROR:
            break


async def agent_socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    ws = await _open(request, (Role.AGENT,))

    async def work() -> None:
        who = await _authenticated(request, ws, (Role.AGENT,))
        if who is None:
            return
        hub.agents.setdefault(who.id, set()).add(ws)
        message = hub.agent_message(who.id)
        hub._sent[ws] = message
        hub._send(ws, message)
        try:
            await _drain(ws)
        finally:
            hub._forget(ws)

    await _guarded(ws, work())
    return ws


async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    ws = await _open(request, READERS)

    async def work() -> None:
        if await _authenticated(request, ws, READERS) is None:
            return
        hub.boards.add(ws)
        hub._send(ws, hub.board_message())
        try:
            await _drain(ws)
        finally:
            hub._forget(ws)

    await _guarded(ws, work())
    return ws


async def _running(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB]
    tasks = [asyncio.create_task(hub.sender()), asyncio.create_task(hub.ticker())]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _shutdown(app: web.Application) -> None:
    await app[HUB].close_all()


def add_routes(app: web.Application) -> None:

    engine = app[ENGINE]
    hub = LiveHub(engine, app[TRACKER], app[WALLBOARD], app.get(DATABASE))
    app[HUB] = hub
    engine.agent_listeners.append(hub.on_agent)
    engine.call_listeners.append(hub.on_call)
    engine.ended_listeners.append(hub.on_ended)
    app[AUTH].on_closed.append(hub.sessions_closed)
    app.cleanup_ctx.append(_running)
    app.on_shutdown.append(_shutdown)
    ws_doc = (
        'A WebSocket (see cti.api.live): send {"type": "auth", "token": ...} first. '
        "A plain HTTP request is answered 426."
    )
    for path, handler, op_id, summary, roles in (
        ("/ws/agent", agent_socket, "ws_agent", "Live events of the agent's toolbar",
         (Role.AGENT,)),
        ("/ws/wallboard", wallboard_socket, "ws_wallboard", "Live wallboard figures", READERS),
    ):  # fmt: skip
        register(
            app,
            Operation(
                "GET",
                path,
                handler,
                op_id,
                summary,
                "live",
                (),
                status=426,
                description=ws_doc + f" Roles: {', '.join(r.value for r in roles)}.",
                response_schema={"$ref": "#/components/schemas/Error"},
            ),
        )
