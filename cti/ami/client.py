"""The engine's AMI client: phone registrations, device states and system
snapshots from Asterisk, over panoramisk's ``Manager``.

Theory of operation
-------------------
``connect()`` opens the TCP socket, sends ``Login`` itself and raises
:class:`AmiAuthError` when Asterisk answers ``Response: Error`` (panoramisk
would only set ``authenticated = False``).  Once logged in, a watchdog sends
``Ping`` every ``ping_interval`` seconds; a reply missing for ``ping_timeout``
seconds means the peer is dead even though TCP has not noticed, and the socket
is aborted.  Any loss of the socket moves :attr:`AmiClient.link` to
``reconnecting``; the client retries with :class:`~cti.link.Backoff` until it
is logged in again (``FullyBooted`` follows, as after every login).

Actions in flight when the socket goes are split by
:data:`~cti.ami.protocol.RESENDABLE_ACTIONS`: read-only ones are queued by
panoramisk and sent again after ``FullyBooted``; every other action
(``Originate``, ``Redirect``, ``Hangup``, ``Setvar``...) fails with
:class:`AmiActionLost`, since Asterisk may or may not have run it.

Events reach subscribers in wire order as typed views
(:func:`~cti.ami.events.typed_event`), ``OriginateResponse`` included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from panoramisk.actions import Action  # type: ignore[import-untyped]

from cti.ami.errors import (
    AmiActionFailed,
    AmiActionLost,
    AmiAuthError,
    AmiError,
    AmiTimeout,
    AmiUnavailable,
)
from cti.ami.events import AmiEvent, typed_event
from cti.ami.frames import DEFAULT_MAX_FRAME, AmiMessage, encode_frame
from cti.ami.protocol import (
    RESENDABLE_ACTIONS,
    FrameMessage,
    GuardedProtocol,
    HotlineManager,
    NotResendable,
)
from cti.fanout import Fanout, Subscription
from cti.link import Backoff, Link, LinkState

log = structlog.get_logger(__name__)

ActionFields = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """The answer to one action: its ``Response`` frame and, for an event
    list (``EventList: start``), the list's items and its ``...Complete`` event."""

    response: AmiMessage
    events: tuple[AmiMessage, ...] = ()
    complete: AmiMessage | None = None

    @property
    def ok(self) -> bool:
        return self.response.get("Response").lower() in ("success", "follows", "goodbye")

    @property
    def message(self) -> str:
        return self.response.get("Message")


class AmiClient:
    """One AMI session to one Asterisk, kept alive until :meth:`close`.

    ``secret`` comes from the environment, never from YAML, and is never logged.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        backoff: Backoff | None = None,
        resendable_actions: Iterable[str] = RESENDABLE_ACTIONS,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self._backoff = backoff or Backoff()
        self._max_frame = max_frame
        self.link = Link("ami")
        self._events: Fanout[AmiEvent] = Fanout()
        self._manager = HotlineManager(
            host=host,
            port=port,
            encoding="utf-8",
            forgetable_actions=NotResendable(resendable_actions),
            log=logging.getLogger("panoramisk"),
        )
        self._manager.register_event("*", self._on_event)
        self._protocol: GuardedProtocol | None = None
        self._inflight: dict[str, Action] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self.version: str | None = None

    def __repr__(self) -> str:
        return f"<AmiClient {self.host}:{self.port} {self.link.state} reconnects={self.link.reconnects}>"

    # -- lifecycle -------------------------------------------------------

    async def connect(self) -> None:
        """Open the session and log in.  Raises :class:`AmiUnavailable` when
        the port cannot be reached and :class:`AmiAuthError` on a refused login;
        the client may then be connected again."""
        self.link.move(LinkState.CONNECTING)
        try:
            await self._open()
        except BaseException:
            self.link.move(LinkState.IDLE)
            raise
        self.link.move(LinkState.CONNECTED)
        log.info("ami_connected", host=self.host, port=self.port, version=self.version)

    async def close(self) -> None:
        """Log off and close for good; actions in flight fail with
        :class:`AmiUnavailable` and subscriptions end."""
        if self.link.state is LinkState.CLOSED:
            return
        was_connected = self.link.connected
        self.link.move(LinkState.CLOSED)
        for task in (self._watchdog, self._reconnector):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        protocol = self._protocol
        if protocol is not None:
            if was_connected:
                with contextlib.suppress(AmiError, TimeoutError):
                    await self._send({"Action": "Logoff"}, timeout=1.0, check=False)
            protocol.abort()
        self._manager.awaiting_actions.clear()
        self._fail_inflight(lambda action: AmiUnavailable(self.host, self.port, "client closed"))
        self._events.close()

    async def __aenter__(self) -> AmiClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- actions -------------------------------------------------------------

    async def action(
        self, fields: ActionFields, *, timeout: float | None = None, check: bool = True
    ) -> AmiResponse:
        """Send one action and return its complete answer.

        ``fields`` holds ``Action`` and its parameters (a sequence value sends
        the key once per item, e.g. ``Variable``).  An event list is collected
        until its ``...Complete`` event.  Raises :class:`AmiUnavailable` when not
        connected, :class:`AmiActionFailed` on ``Response: Error`` when
        ``check`` (note that ``PJSIPShowContacts`` with no contacts answers
        ``Error``/``No Contacts found``), :class:`AmiTimeout` after ``timeout``
        (default ``action_timeout``) and :class:`AmiActionLost` when the
        connection drops under an action that is not safe to repeat.
        """
        if not self.link.connected:
            raise AmiUnavailable(self.host, self.port, f"link is {self.link.state}")
        return await self._send(fields, timeout=timeout, check=check)

    async def _send(
        self, fields: ActionFields, *, timeout: float | None, check: bool
    ) -> AmiResponse:
        encode_frame(fields)  # refuses CR/LF inside a header before anything is sent
        action = Action(dict(fields))
        name = str(action["Action"])
        action_id = str(action.action_id)
        # An Originate completes on its own Response; its OriginateResponse is an event.
        as_list = False if name.lower() == "originate" else None
        self._inflight[action_id] = action
        future = self._manager.send_action(action, as_list=as_list)
        deadline = self.action_timeout if timeout is None else timeout
        try:
            result = await asyncio.wait_for(future, deadline)
        except TimeoutError:
            self._forget(action)
            raise AmiTimeout(name, action_id, deadline) from None
        except asyncio.CancelledError:
            self._forget(action)
            raise
        finally:
            self._inflight.pop(action_id, None)
        answer = _to_response(result)
        if check and not answer.ok:
            raise AmiActionFailed(name, action_id, answer.message)
        return answer

    def _forget(self, action: Action) -> None:
        protocol = self._protocol
        if protocol is not None:
            protocol.responses.pop(action.id, None)
        awaiting = self._manager.awaiting_actions
        for queued in list(awaiting):
            if queued is action:
                awaiting.remove(queued)
        if not action.future.done():
            action.future.cancel()

    # -- events ----------------------------------------------------------------

    def subscribe(self, *names: str) -> Subscription[AmiEvent]:
        """Events in wire order (only those named, when names are given)."""
        wanted = frozenset(name.lower() for name in names)

        def accept(event: AmiEvent) -> bool:
            return not wanted or _event_name(event).lower() in wanted

        return self._events.subscribe(accept if wanted else None)

    def on_event(self, callback: Callable[[AmiEvent], None]) -> Callable[[], None]:
        """Call ``callback`` synchronously for every event; returns an undo."""
        return self._events.add_callback(callback)

    def _on_event(self, _manager: Any, message: FrameMessage) -> None:
        self._events.publish(typed_event(message.ami))

    # -- connection internals ----------------------------------------------------

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> GuardedProtocol:
            return GuardedProtocol(self._manager, self._on_lost, self._max_frame)

        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(factory, self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise AmiUnavailable(self.host, self.port, str(exc) or type(exc).__name__) from exc
        self._protocol = protocol
        self._manager.protocol = protocol
        login = {"Action": "Login", "Username": self.username, "Secret": self._secret}
        try:
            answer = await self._send(login, timeout=self.connect_timeout, check=False)
        except (AmiTimeout, AmiActionLost) as exc:
            protocol.abort()
            raise AmiUnavailable(self.host, self.port, "no answer to Login") from exc
        if not answer.ok:
            protocol.abort()
            log.error("ami_login_refused", host=self.host, user=self.username)
            raise AmiAuthError(self.username, answer.message)
        self.version = protocol.version
        self._watchdog = asyncio.create_task(self._watch(protocol), name="ami-ping-watchdog")

    def _on_lost(self, protocol: GuardedProtocol, exc: BaseException | None) -> None:
        current = protocol is self._protocol
        self._fail_inflight(
            lambda action: AmiActionLost(str(action["Action"]), str(action.action_id)),
            keep=None if current else self._protocol,
        )
        if not current or self.link.state is not LinkState.CONNECTED:
            return
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        reason = str(exc) if exc else "closed by peer"
        self.link.move(LinkState.RECONNECTING, error=reason)
        log.warning("ami_connection_lost", host=self.host, port=self.port, reason=reason)
        self._reconnector = asyncio.create_task(self._reconnect(), name="ami-reconnect")

    def _fail_inflight(
        self, error: Callable[[Action], AmiError], keep: GuardedProtocol | None = None
    ) -> None:
        """Fail every action in flight that panoramisk did not queue for
        re-sending (and that was not sent on ``keep``, a newer connection)."""
        queued = {id(action) for action in self._manager.awaiting_actions}
        for action in list(self._inflight.values()):
            if action.future.done() or id(action) in queued:
                continue
            if keep is not None and action.id in keep.responses:
                continue
            action.future.set_exception(error(action))

    async def _reconnect(self) -> None:
        while self.link.state is LinkState.RECONNECTING:
            await asyncio.sleep(self._backoff.next_delay())
            try:
                await self._open()
            except AmiAuthError:
                continue
            except AmiUnavailable as exc:
                log.info("ami_reconnect_failed", host=self.host, reason=exc.reason)
                continue
            self._backoff.reset()
            self.link.move(LinkState.CONNECTED)
            log.info("ami_reconnected", host=self.host, reconnects=self.link.reconnects)

    async def _watch(self, protocol: GuardedProtocol) -> None:
        """Ping on a period; abort the socket when a reply is missing."""
        while protocol is self._protocol and not protocol.closed:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._send({"Action": "Ping"}, timeout=self.ping_timeout, check=False)
            except AmiTimeout:
                log.warning("ami_ping_unanswered", host=self.host, timeout=self.ping_timeout)
                protocol.abort()
                return
            except AmiError:
                return


def _to_response(result: object) -> AmiResponse:
    if isinstance(result, list):
        messages = [item.ami for item in result]
        head, rest = messages[0], messages[1:]
        complete = rest[-1] if rest and rest[-1].get("Event").endswith("Complete") else None
        items = tuple(rest[:-1] if complete is not None else rest)
        return AmiResponse(head, items, complete)
    assert isinstance(result, FrameMessage)
    return AmiResponse(result.ami)


def _event_name(event: AmiEvent) -> str:
    if isinstance(event, AmiMessage):
        return event.get("Event")
    return event.NAME
