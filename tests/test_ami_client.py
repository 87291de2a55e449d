"""AmiClient over real TCP against a small scripted AMI peer, and the five
panoramisk 1.4 defects, each shown and each guarded.

The peer here has knobs pbxsim lacks (leave an action unanswered, stop
answering ``Ping``, split a frame inside a character at a chosen byte);
pbxsim itself is driven in ``test_bridge_e2e.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from cti.ami import (
    AmiActionFailed,
    AmiActionLost,
    AmiAuthError,
    AmiClient,
    AmiDecoder,
    AmiMessage,
    AmiTimeout,
    AmiUnavailable,
    FullyBooted,
    Newchannel,
    OriginateResponse,
    encode_frame,
)
from cti.ami.protocol import GuardedProtocol, HotlineManager
from cti.link import Backoff, LinkState

pytestmark = pytest.mark.bridge

SECRET = "s3cret"
NAME = "张三市民"
DEADLINE = 5.0


class ScriptedAmi:
    """A tiny AMI peer: banner, Login, Ping, Originate (async, with
    OriginateResponse), CoreShowChannels, Setvar, Logoff; actions named in
    ``hold`` stay unanswered; ``answer_ping`` off plays a dead peer."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.answer_ping = True
        self.hold: set[str] = set()
        self.actions: list[tuple[int, AmiMessage]] = []
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def received(self, name: str) -> list[AmiMessage]:
        return [m for _, m in self.actions if m.get("Action").lower() == name.lower()]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def drop(self) -> None:
        """Cut every connection (an abortive close, as a crash would)."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def send(self, frame: bytes, *, cut_at: int | None = None) -> None:
        """Send one frame to every client, optionally in two TCP writes."""
        for writer in list(self._writers):
            if cut_at is None:
                writer.write(frame)
            else:
                writer.write(frame[:cut_at])
                await writer.drain()
                writer.write(frame[cut_at:])
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._writers.append(writer)
        self._bump()
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        decoder = AmiDecoder()
        try:
            while data := await reader.read(4096):
                decoder.receive_data(data)
                for action in decoder:
                    assert isinstance(action, AmiMessage)
                    self.actions.append((number, action))
                    self._bump()
                    if not self._answer(action, writer):
                        return
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.transport.abort()
            self._bump()

    def _answer(self, action: AmiMessage, writer: asyncio.StreamWriter) -> bool:
        name = action.get("Action").lower()
        aid = {"ActionID": action.action_id or ""}
        if name in self.hold:
            return True
        if name == "login":
            if action.get("Secret") != self.secret:
                writer.write(
                    encode_frame({"Response": "Error", **aid, "Message": "Authentication failed"})
                )
                return False
            writer.write(
                encode_frame({"Response": "Success", **aid, "Message": "Authentication accepted"})
            )
            writer.write(
                encode_frame(
                    {
                        "Event": "FullyBooted",
                        "Privilege": "system,all",
                        "Uptime": "140",
                        "LastReload": "113",
                        "Status": "Fully Booted",
                    }
                )
            )
        elif name == "ping":
            if self.answer_ping:
                writer.write(encode_frame({"Response": "Success", **aid, "Ping": "Pong"}))
        elif name == "originate":
            writer.write(
                encode_frame(
                    {"Response": "Success", **aid, "Message": "Originate successfully queued"}
                )
            )
            writer.write(
                encode_frame(
                    {
                        "Event": "OriginateResponse",
                        "Privilege": "call,all",
                        **aid,
                        "Response": "Success",
                        "Channel": "PJSIP/8001-00000001",
                        "Reason": "4",
                        "Uniqueid": "1795302787.9",
                        "CallerIDNum": "13800138000",
                        "CallerIDName": NAME,
                    }
                )
            )
        elif name == "coreshowchannels":
            writer.write(
                encode_frame(
                    {
                        "Response": "Success",
                        **aid,
                        "EventList": "start",
                        "Message": "Channels will follow",
                    }
                )
            )
            writer.write(
                encode_frame(
                    {
                        "Event": "CoreShowChannel",
                        **aid,
                        "Channel": "PJSIP/carrier-00000006",
                        "CallerIDName": NAME,
                    }
                )
            )
            writer.write(
                encode_frame(
                    {
                        "Event": "CoreShowChannelsComplete",
                        **aid,
                        "EventList": "Complete",
                        "ListItems": "1",
                    }
                )
            )
        elif name == "logoff":
            writer.write(encode_frame({"Response": "Goodbye", **aid, "Message": "Thanks"}))
            return False
        else:
            writer.write(encode_frame({"Response": "Error", **aid, "Message": "Invalid/unknown"}))
        return True

    def _bump(self) -> None:
        self._changed.set()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, object]]]:
    """Fail the test when a background task or callback raised."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)
    assert errors == []


@pytest.fixture
async def peer(loop_errors: list[dict[str, object]]) -> AsyncIterator[ScriptedAmi]:
    server = ScriptedAmi()
    await server.start()
    yield server
    await server.stop()


MakeClient = Callable[..., AmiClient]


@pytest.fixture
async def make_client(peer: ScriptedAmi) -> AsyncIterator[MakeClient]:
    """Clients of the scripted peer, closed after the test whatever happens."""
    made: list[AmiClient] = []

    def make(secret: str = SECRET, **options: Any) -> AmiClient:
        settings: dict[str, Any] = {"ping_interval": 30.0, "ping_timeout": 1.0, **options}
        ami = AmiClient(
            "127.0.0.1",
            peer.port,
            "hotline",
            secret,
            backoff=Backoff(initial=0.02, maximum=0.1),
            **settings,
        )
        made.append(ami)
        return ami

    yield make
    for ami in made:
        await ami.close()


@pytest.fixture
async def client(make_client: MakeClient) -> AmiClient:
    ami = make_client()
    await ami.connect()
    return ami


async def test_connect_logs_in_and_reads_the_banner(client: AmiClient, peer: ScriptedAmi) -> None:
    assert client.link.state is LinkState.CONNECTED
    assert client.version == "11.0.0"
    (login,) = peer.received("Login")
    assert login.get("Username") == "hotline"


async def test_an_event_list_is_collected_until_complete(client: AmiClient) -> None:
    answer = await client.action({"Action": "CoreShowChannels"})
    assert answer.ok and answer.message == "Channels will follow"
    assert [e.get("Channel") for e in answer.events] == ["PJSIP/carrier-00000006"]
    assert answer.events[0].get("CallerIDName") == NAME
    assert answer.complete is not None and answer.complete.get("ListItems") == "1"


async def test_an_error_response_raises_with_its_message(client: AmiClient) -> None:
    with pytest.raises(AmiActionFailed) as failed:
        await client.action({"Action": "Bogus"})
    assert failed.value.action == "Bogus" and failed.value.message == "Invalid/unknown"
    answer = await client.action({"Action": "Bogus"}, check=False)
    assert not answer.ok


async def test_an_unanswered_action_times_out(client: AmiClient, peer: ScriptedAmi) -> None:
    peer.hold.add("getvar")
    with pytest.raises(AmiTimeout) as timeout:
        await client.action({"Action": "Getvar", "Variable": "X"}, timeout=0.1)
    assert timeout.value.action == "Getvar"


async def test_the_port_closed_raises_unavailable(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client()
    await peer.stop()
    with pytest.raises(AmiUnavailable):
        await ami.connect()
    assert ami.link.state is LinkState.IDLE


async def test_close_logs_off_and_ends_subscriptions(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client()
    await ami.connect()
    events = ami.subscribe()
    await ami.close()
    assert ami.link.state is LinkState.CLOSED
    await peer.wait_until(lambda: bool(peer.received("Logoff")))
    assert [item async for item in events] == []
    with pytest.raises(AmiUnavailable):
        await ami.action({"Action": "Ping"})


# -- defect 1: a character split across TCP reads -------------------------------


NEWCHANNEL = encode_frame(
    {
        "Event": "Newchannel",
        "Privilege": "call,all",
        "Channel": "PJSIP/carrier-00000006",
        "CallerIDNum": "13800138000",
        "CallerIDName": NAME,
        "Uniqueid": "1795302787.8",
    }
)
CUT = NEWCHANNEL.index(NAME.encode()) + 4  # inside the second character


def test_defect_1_shown_panoramisk_drops_a_split_character() -> None:
    seen: list[Message] = []
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    protocol.encoding = "utf-8"
    protocol.handle_message = seen.append
    protocol.data_received(NEWCHANNEL[:CUT])
    protocol.data_received(NEWCHANNEL[CUT:])
    assert seen[0]["CallerIDName"] != NAME


def test_defect_1_guarded_the_protocol_decodes_whole_frames() -> None:
    seen: list[AmiMessage] = []
    manager = HotlineManager()
    manager.register_event("*", lambda _m, message: seen.append(message.ami))
    protocol = GuardedProtocol(manager, lambda *_: None, 1 << 16)
    protocol.connection_made(_NullTransport())
    protocol.data_received(NEWCHANNEL[:CUT])
    protocol.data_received(NEWCHANNEL[CUT:])
    assert [m.get("CallerIDName") for m in seen] == [NAME]


async def test_defect_1_guarded_over_tcp(client: AmiClient, peer: ScriptedAmi) -> None:
    with client.subscribe("Newchannel") as events:
        await peer.send(NEWCHANNEL, cut_at=CUT)
        event = await events.get(DEADLINE)
    assert isinstance(event, Newchannel)
    assert event.caller_id_name == NAME


# -- defect 2: a wrong secret ---------------------------------------------------


async def test_defect_2_guarded_a_wrong_secret_raises(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client(secret="wrong")
    with pytest.raises(AmiAuthError) as refused:
        await ami.connect()
    assert refused.value.username == "hotline"
    assert refused.value.message == "Authentication failed"
    assert "wrong" not in str(refused.value)
    assert ami.link.state is LinkState.IDLE


# -- defect 3: non-idempotent actions re-sent after a reconnect ------------------


async def test_defect_3_guarded_originate_is_lost_not_resent(
    client: AmiClient, peer: ScriptedAmi
) -> None:
    peer.hold.update({"originate", "coreshowchannels"})
    originate = asyncio.create_task(
        client.action({"Action": "Originate", "Channel": "PJSIP/8001", "Async": "true"})
    )
    snapshot = asyncio.create_task(client.action({"Action": "CoreShowChannels"}))
    await peer.wait_until(lambda: bool(peer.received("CoreShowChannels")))
    peer.hold.clear()
    peer.drop()
    with pytest.raises(AmiActionLost) as lost:
        await originate
    assert lost.value.action == "Originate" and lost.value.action_id
    await client.link.wait_until(lambda link: link.reconnects == 1, DEADLINE)
    # The read-only snapshot is sent again after FullyBooted and answered.
    answer = await asyncio.wait_for(snapshot, DEADLINE)
    assert answer.ok and len(answer.events) == 1
    assert len(peer.received("Originate")) == 1
    assert [n for n, m in peer.actions if m.get("Action") == "CoreShowChannels"] == [1, 2]


async def test_actions_while_reconnecting_fail_at_once(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client()
    await ami.connect()
    await peer.stop()
    await ami.link.wait_until(lambda link: link.state is LinkState.RECONNECTING, DEADLINE)
    with pytest.raises(AmiUnavailable):
        await ami.action({"Action": "Hangup", "Channel": "PJSIP/8001-00000001"})


# -- defect 4: a dead peer detected from missing Ping replies -------------------


async def test_defect_4_guarded_missing_pongs_trigger_a_reconnect(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client(ping_interval=0.05, ping_timeout=0.15)
    await ami.connect()
    await peer.wait_until(lambda: len(peer.received("Ping")) >= 2)
    peer.answer_ping = False
    await ami.link.wait_until(lambda link: link.losses == 1, DEADLINE)
    assert ami.link.last_error is not None
    peer.answer_ping = True
    await ami.link.wait_until(lambda link: link.reconnects == 1 and link.connected, DEADLINE)
    assert peer.connections == 2


# -- defect 5: OriginateResponse swallowed by its action ------------------------


async def test_defect_5_shown_panoramisk_gives_originate_response_to_the_action() -> None:
    action = Action({"Action": "Originate", "Async": "true", "ActionID": "o-1"})
    queued = Message(
        {"Response": "Success", "ActionID": "o-1", "Message": "Originate successfully queued"}
    )
    outcome = Message({"Event": "OriginateResponse", "ActionID": "o-1", "Response": "Success"})
    assert not action.add_message(queued)
    assert action.add_message(outcome)  # consumed: it never reaches the event callbacks
    assert action.future.result()[1]["Event"] == "OriginateResponse"


async def test_defect_5_guarded_the_protocol_dispatches_it_even_to_a_waiting_action() -> None:
    seen: list[AmiMessage] = []
    manager = HotlineManager()
    manager.register_event("*", lambda _m, message: seen.append(message.ami))
    protocol = GuardedProtocol(manager, lambda *_: None, 1 << 16)
    protocol.connection_made(_NullTransport())
    manager.protocol = protocol
    manager.send_action(Action({"Action": "Originate", "Async": "true", "ActionID": "o-2"}))
    queued = {"Response": "Success", "ActionID": "o-2", "Message": "Originate successfully queued"}
    outcome = {"Event": "OriginateResponse", "ActionID": "o-2", "Response": "Failure"}
    protocol.data_received(encode_frame(queued) + encode_frame(outcome))
    assert [(m.name, m.action_id) for m in seen] == [("OriginateResponse", "o-2")]


async def test_defect_5_guarded_originate_response_is_an_event(client: AmiClient) -> None:
    with client.subscribe("OriginateResponse", "FullyBooted") as events:
        answer = await client.action(
            {"Action": "Originate", "Channel": "PJSIP/8001", "Async": "true"}
        )
        event = await events.get(DEADLINE)
    assert answer.message == "Originate successfully queued"
    assert isinstance(event, OriginateResponse)
    assert event.action_id == answer.response.action_id
    assert event.success and event.caller_id_name == NAME and event.reason == 4


async def test_fully_booted_arrives_typed_after_each_login(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client()
    booted: list[FullyBooted] = []
    ami.on_event(lambda e: booted.append(e) if isinstance(e, FullyBooted) else None)
    await ami.connect()
    peer.drop()
    await ami.link.wait_until(lambda link: link.reconnects == 1, DEADLINE)
    with ami.subscribe("FullyBooted") as events:
        if len(booted) < 2:
            await events.get(DEADLINE)
    assert [b.status for b in booted] == ["Fully Booted", "Fully Booted"]
    assert booted[0].uptime == 140


class _NullTransport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def test_a_frame_without_end_drops_the_connection_and_reconnects(
    peer: ScriptedAmi, make_client: MakeClient
) -> None:
    ami = make_client(max_frame=512)
    await ami.connect()
    await peer.send(b"Event: Flood\r\n" + b"X: y\r\n" * 200)
    await ami.link.wait_until(lambda link: link.reconnects == 1 and link.connected, DEADLINE)
    assert peer.connections == 2
