"""panoramisk 1.4 with its defective parts replaced (internal to :mod:`cti.ami`).

What is kept from panoramisk: ``Action``/``Message``, the correlation of
responses and event lists with their action by ActionID
(``AMIProtocol.handle_message``, ``Action.add_message``), event dispatch by
pattern (``Manager.register_event``/``dispatch``), and the re-sending of
queued actions after ``FullyBooted`` (``Manager.send_awaiting_actions``),
which only ever sees the actions that are safe to repeat.

What is replaced, and why it cannot be fixed from outside:

1. ``AMIProtocol.data_received`` decodes each TCP chunk by itself with
   ``errors='ignore'`` and splits the text on CRLF CRLF, so a character split
   across two chunks is lost.  ``encoding`` cannot help (any codec sees half a
   character), so :class:`GuardedProtocol` (installed with the
   ``protocol_factory`` hook) feeds the bytes to the pure
   :class:`~cti.ami.frames.AmiDecoder` instead.
2. ``Manager.login`` stores ``authenticated = False`` on a refused ``Login``
   and ``connect()`` still succeeds.  The client therefore does not give
   panoramisk the credentials and sends ``Login`` itself (see
   :mod:`cti.ami.client`).
3. ``AMIProtocol.close`` queues every unanswered action that is not in
   ``forgetable_actions`` and ``FullyBooted`` sends it again: an
   ``Originate`` could ring an agent twice.  The ``forgetable_actions`` hook
   suffices to stop that (:class:`NotResendable` holds every action but the
   read-only ones); the futures panoramisk forgets are failed with
   ``AmiActionLost`` by the client.
4. ``Manager.ping`` sends ``Ping`` on a timer and never looks at the reply, and
   the timer and ``connection_made``/``connection_lost`` reconnect after a
   fixed whole number of seconds.  :class:`HotlineManager` switches that timer
   off and hands connection loss to the client, which runs its own ``Ping``
   watchdog and backoff.
5. An ``OriginateResponse`` event carries the ActionID of its ``Originate``, so
   ``handle_message`` gives it to the action and never dispatches it.
   :meth:`GuardedProtocol.handle_message` always dispatches it as an event (and
   the client sends ``Originate`` with ``as_list=False`` so that the action
   completes on its own ``Response``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from panoramisk import Manager  # type: ignore[import-untyped]
from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]
from panoramisk.message import Message  # type: ignore[import-untyped]

from cti.ami.errors import AmiProtocolError
from cti.ami.frames import AmiDecoder, AmiMessage, Banner

log = structlog.get_logger(__name__)

RESENDABLE_ACTIONS = frozenset(
    {
        "corestatus",
        "coresettings",
        "coreshowchannels",
        "devicestatelist",
        "extensionstatelist",
        "getvar",
        "listcommands",
        "pjsipshowcontacts",
        "pjsipshowendpoint",
        "pjsipshowendpoints",
        "pjsipshowregistrationsinbound",
        "presencestatelist",
        "queuestatus",
        "queuesummary",
        "status",
    }
)
"""Read-only actions that may be sent again after a reconnect (lower case)."""


class NotResendable:
    """The ``forgetable_actions`` of panoramisk: every action name except the
    read-only ones, so panoramisk never re-sends a command with effects."""

    def __init__(self, resendable: Iterable[str] = RESENDABLE_ACTIONS) -> None:
        self._resendable = frozenset(name.lower() for name in resendable)

    def __contains__(self, name: object) -> bool:
        return not (isinstance(name, str) and name.lower() in self._resendable)


class FrameMessage(Message):  # type: ignore[misc]
    """A panoramisk ``Message`` that also carries the decoded
    :class:`AmiMessage` it was made from (in wire order, nothing lost)."""

    def __init__(self, ami: AmiMessage) -> None:
        headers: dict[str, Any] = {}
        for key, value in ami.headers:
            if key in headers:
                previous = headers[key]
                headers[key] = (
                    [*previous, value] if isinstance(previous, list) else [previous, value]
                )
            else:
                headers[key] = value
        super().__init__(headers, ami.content)
        self.ami = ami


LostCallback = Callable[["GuardedProtocol", BaseException | None], None]


class GuardedProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with whole-frame decoding (defect 1) and
    ``OriginateResponse`` dispatched as an event (defect 5)."""

    def __init__(self, manager: HotlineManager, on_lost: LostCallback, max_frame: int) -> None:
        super().__init__()
        self.transport: asyncio.Transport | None = None
        self._manager = manager
        self._on_lost = on_lost
        self._decoder = AmiDecoder(max_frame=max_frame)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Wired here rather than by Manager.connection_made so that no frame
        # can arrive before the protocol knows its manager.
        self.factory = self._manager
        self.log = self._manager.log
        self.config = self._manager.config
        self.encoding = "utf-8"

    def data_received(self, data: bytes) -> None:
        self._decoder.receive_data(data)
        try:
            for item in self._decoder:
                if isinstance(item, Banner):
                    self.version = item.version
                else:
                    self.handle_message(FrameMessage(item))
        except AmiProtocolError as exc:
            log.error("ami_protocol_error", reason=str(exc))
            self.abort()

    def handle_message(self, message: Message) -> None:
        if str(message.get("event", "")).lower() == "originateresponse":
            self.factory.dispatch(message)
            return
        super().handle_message(message)

    def abort(self) -> None:
        """Drop the connection at once (a dead peer will not read a FIN)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.closed:
            # panoramisk's close(): forgets or queues the pending actions.
            self.close()
            self._on_lost(self, exc)


class HotlineManager(Manager):  # type: ignore[misc]
    """panoramisk's ``Manager`` without its ping timer and reconnect timers
    (defect 4); connection loss is reported through :class:`GuardedProtocol`."""

    def ping(self) -> None:
        """Replaced by the client's watchdog, which checks the replies."""

    def connection_lost(self, exc: BaseException | None) -> None:
        """Replaced: reported by :class:`GuardedProtocol` to the client."""
        self._connected = False
