"""The engine's ARI client: REST requests and the event WebSocket of one
Stasis application, kept connected, reconciled after every connection.

Theory of operation
-------------------
``connect()`` opens the event WebSocket (``/ari/events?app=NAME``), then
reconciles: it lists channels, bridges and the application over REST and
compares them with the ids the engine says it knows (the ``known`` callable,
see :mod:`cti.ari.reconcile`).  Listing *after* the socket is open means no
change can fall between the two: anything that happens after the listing
arrives as an event after the report.  The report is published in the event
stream as :class:`Reconciled`, ahead of every event that follows it.

When the socket closes or its heartbeat goes unanswered, :attr:`AriClient.link`
moves to ``reconnecting`` and the client retries with
:class:`~cti.link.Backoff` delays (exponential, with jitter).  Each success
reconciles again (a failure to reconcile counts as a failed attempt) and moves
the link back to ``connected``, counting one reconnect.  Asterisk keeps the
application's channels and bridges while the socket is away
(``engine_ws_drop_and_return.jsonl``), so calls survive the cut.

An ``ApplicationReplaced`` event means another WebSocket registered the same
application and took it: Asterisk sends nothing more on this socket, and when
the other one closes the application is deactivated, not handed back
(``application_replaced.jsonl``).  The client then closes its socket, moves
the link to ``replaced`` and tells the ``on_replaced`` listeners; it never
reconnects on its own, since reconnecting would take the application back
from whoever holds it now.  The same happens when the HTTP fence
(:meth:`AriHttp.set_fence`) refuses to let this engine subscribe: only the
active engine of several holds the application.

Malformed messages on the socket are logged and skipped; unknown event
types arrive as :class:`~cti.ari.events.GenericEvent`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import structlog

from cti.ari.bridges import BridgesApi
from cti.ari.channels import ChannelsApi
from cti.ari.errors import AriError, AriFenced, AriHttpError, AriUnavailable
from cti.ari.events import AriEvent, GenericEvent, decode_event
from cti.ari.http import AriHttp
from cti.ari.reconcile import Known, ReconcileReport, reconcile
from cti.ari.resources import (
    ApplicationsApi,
    AsteriskApi,
    DeviceStatesApi,
    EndpointsApi,
    PlaybacksApi,
    RecordingsApi,
)
from cti.fanout import Fanout, Subscription
from cti.link import Backoff, Link, LinkState

log = structlog.get_logger(__name__)

EVENTS_PATH = "/events"
REPLACED = "ApplicationReplaced"


@dataclass(frozen=True, slots=True)
class Reconciled:
    """Published after every (re)connection of the WebSocket, before the
    events that follow it; ``reconnect`` is false for the first connection."""

    report: ReconcileReport
    reconnect: bool


AriStreamItem = AriEvent | Reconciled


class AriClient:
    """REST resources (``channels``, ``bridges``, ``playbacks``,
    ``recordings``, ``applications``, ``endpoints``, ``device_states``,
    ``asterisk``) and the event stream of application ``app``.

    ``base_url`` is the ARI root (``http://127.0.0.1:8088/ari``); ``password``
    comes from the environment, never from YAML, and is never logged.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        known: Callable[[], Known] | None = None,
        backoff: Backoff | None = None,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        heartbeat: float | None = 10.0,
        subscribe_all: bool = False,
        user_agent: str | None = None,
    ) -> None:
        self.app = app
        self.http = AriHttp(
            base_url,
            username,
            password,
            timeout=request_timeout,
            connect_timeout=connect_timeout,
            user_agent=user_agent,
        )
        self.channels = ChannelsApi(self.http)
        self.bridges = BridgesApi(self.http)
        self.playbacks = PlaybacksApi(self.http)
        self.recordings = RecordingsApi(self.http)
        self.applications = ApplicationsApi(self.http)
        self.endpoints = EndpointsApi(self.http)
        self.device_states = DeviceStatesApi(self.http)
        self.asterisk = AsteriskApi(self.http)
        self.link = Link("ari")
        self.last_report: ReconcileReport | None = None
        self._known = known or Known
        self._backoff = backoff or Backoff()
        self._heartbeat = heartbeat
        self._subscribe_all = subscribe_all
        self._stream: Fanout[AriStreamItem] = Fanout()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._runner: asyncio.Task[None] | None = None
        self._replaced_listeners: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return (
            f"<AriClient {self.http.base_url} app={self.app} {self.link.state} "
            f"reconnects={self.link.reconnects}>"
        )

    # -- lifecycle -------------------------------------------------------

    async def connect(self) -> None:
        """Open the event WebSocket and reconcile once.  Raises
        :class:`AriUnavailable` (or :class:`AriHttpError`, e.g. 401 for wrong
        credentials); the client may then be connected again."""
        self.link.move(LinkState.CONNECTING)
        try:
            ws, report = await self._open()
        except BaseException:
            self.link.move(LinkState.IDLE)
            raise
        self._stream.publish(Reconciled(report, reconnect=False))
        self.link.move(LinkState.CONNECTED)
        log.info("ari_connected", url=str(self.http.base_url), app=self.app)
        self._runner = asyncio.create_task(self._run(ws), name=f"ari-events-{self.app}")
        self._runner.add_done_callback(self._runner_ended)

    async def close(self) -> None:
        """Close the socket and the HTTP session for good; subscriptions end."""
        if self.link.state is LinkState.CLOSED:
            return
        self.link.move(LinkState.CLOSED)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._ws is not None:
            await self._ws.close()
        await self.http.close()
        self._stream.close()

    async def __aenter__(self) -> AriClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- events and reconciliation ---------------------------------------

    def subscribe(self, *types: str) -> Subscription[AriStreamItem]:
        """Events (and :class:`Reconciled` reports) in arrival order; only
        the event types named, when names are given (reports always)."""
        wanted = frozenset(types)

        def accept(item: AriStreamItem) -> bool:
            return isinstance(item, Reconciled) or item.type in wanted

        return self._stream.subscribe(accept if wanted else None)

    def on_event(self, callback: Callable[[AriStreamItem], None]) -> Callable[[], None]:
        """Call ``callback`` synchronously for every item; returns an undo."""
        return self._stream.add_callback(callback)

    def on_replaced(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(reason)`` once the application is lost for good (see the module)."""
        self._replaced_listeners.append(listener)

    def set_known(self, known: Callable[[], Known]) -> None:
        """Where reconciliation reads the ids the engine knows."""
        self._known = known

    async def reconcile(self, known: Known | None = None) -> ReconcileReport:
        """List channels, bridges and the application, and compare them with
        ``known`` (default: the ``known`` callable)."""
        channels, bridges, application = await asyncio.gather(
            self.channels.list(), self.bridges.list(), self.applications.get(self.app)
        )
        report = reconcile(known or self._known(), channels, bridges, application)
        self.last_report = report
        log.info(
            "ari_reconciled",
            app=self.app,
            channels_present=len(report.channels.present),
            channels_vanished=sorted(report.channels.vanished),
            channels_unknown=sorted(report.channels.unknown),
            bridges_present=len(report.bridges.present),
            bridges_vanished=sorted(report.bridges.vanished),
            bridges_unknown=sorted(report.bridges.unknown),
        )
        return report

    # -- the socket ---------------------------------------------------------

    async def _open(self) -> tuple[aiohttp.ClientWebSocketResponse, ReconcileReport]:
        ws = await self._open_socket()
        try:
            report = await self.reconcile()
        except BaseException:
            await ws.close()
            raise
        self._ws = ws
        return ws, report

    async def _open_socket(self) -> aiohttp.ClientWebSocketResponse:
        if self.http.fence is not None and self.http.fence() is None:
            raise AriFenced("GET", EVENTS_PATH)
        params = {"app": self.app}
        if self._subscribe_all:
            params["subscribeAll"] = "true"
        try:
            return await self.http.session.ws_connect(
                self.http.url(EVENTS_PATH),
                params=params,
                heartbeat=self._heartbeat,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise AriHttpError(exc.status, "GET", EVENTS_PATH, exc.message) from exc
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise AriUnavailable("GET", EVENTS_PATH, str(exc) or type(exc).__name__) from exc

    def _runner_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("ari_events_stopped", app=self.app, exc_info=task.exception())

    async def _run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            reason = await self._pump(ws)
            if self.link.state is LinkState.CLOSED:
                return
            if reason == REPLACED:
                await ws.close()
                self._give_up("another WebSocket registered the application")
                return
            self.link.move(LinkState.RECONNECTING, error=reason)
            log.warning("ari_events_lost", app=self.app, reason=reason)
            reopened = await self._reopen()
            if reopened is None:
                self._give_up("this engine may not hold the application")
                return
            ws = reopened

    def _give_up(self, reason: str) -> None:
        self.link.move(LinkState.REPLACED, error=reason)
        log.error("ari_application_lost", app=self.app, reason=reason)
        for listener in list(self._replaced_listeners):
            listener(reason)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """Publish every event until the socket ends; return why it ended
        (:data:`REPLACED` when the application was taken)."""
        try:
            async for message in ws:
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    event = decode_event(message.data)
                    if isinstance(event, GenericEvent) and event.type == REPLACED:
                        return REPLACED
                    if event is not None:
                        self._stream.publish(event)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    return f"socket error: {ws.exception()!r}"
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            return f"socket error: {exc!r}"
        return f"socket closed (code {ws.close_code})"

    async def _reopen(self) -> aiohttp.ClientWebSocketResponse | None:
        """A new socket, once one opens; ``None`` when the fence refuses it."""
        while True:
            await asyncio.sleep(self._backoff.next_delay())
            try:
                ws, report = await self._open()
            except AriFenced:
                return None
            except AriError as exc:
                log.info("ari_reconnect_failed", app=self.app, reason=str(exc))
                continue
            self._backoff.reset()
            self._stream.publish(Reconciled(report, reconnect=True))
            self.link.move(LinkState.CONNECTED)
            log.info("ari_reconnected", app=self.app, reconnects=self.link.reconnects)
            return ws
