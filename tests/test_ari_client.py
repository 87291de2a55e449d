"""AriClient over real sockets: errors translated at the boundary, the event
WebSocket with reconnect and backoff, and reconciliation after every
connection.  The peer is the recording server of ``tests/bridge_support.py``."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from cti.ari import (
    Application,
    AriClient,
    AriConflict,
    AriHttpError,
    AriNotFound,
    AriProtocolError,
    AriUnavailable,
    Bridge,
    BridgeGone,
    Channel,
    ChannelGone,
    GenericEvent,
    Known,
    Reconciled,
    StasisStart,
    reconcile,
)
from cti.errors import CtiError
from cti.ids import BridgeId, ChannelId
from cti.link import Backoff, IllegalLinkTransition, Link, LinkState
from tests.bridge_support import PASSWORD, SAMPLES, USER, RecordingAri, all_ws_events, running_ari

pytestmark = pytest.mark.bridge

DEADLINE = 5.0
CALLER = ChannelId("1795302787.8")
AGENT = ChannelId("agent-leg-1")
BRIDGE = BridgeId("br-c-0001")


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
async def ari(loop_errors: list[dict[str, object]]) -> AsyncIterator[RecordingAri]:
    async with running_ari() as server:
        yield server


MakeClient = Callable[..., AriClient]


@pytest.fixture
async def make_client(ari: RecordingAri) -> AsyncIterator[MakeClient]:
    """Clients on the recording server, closed after the test whatever happens."""
    made: list[AriClient] = []

    def make(
        known: Known | None = None,
        *,
        base_url: str | None = None,
        password: str = PASSWORD,
        **options: Any,
    ) -> AriClient:
        client = AriClient(
            base_url or ari.base_url,
            USER,
            password,
            "hotline",
            known=(lambda: known or Known()),
            backoff=Backoff(initial=0.02, maximum=0.1, rng=random.Random(7)),
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def client(make_client: MakeClient) -> AriClient:
    return make_client(request_timeout=1.0)


# -- errors at the boundary ----------------------------------------------------


async def test_404_on_a_channel_is_channel_gone(ari: RecordingAri, client: AriClient) -> None:
    ari.fail("POST", f"/channels/{CALLER}/answer", 404, "Channel not found")
    with pytest.raises(ChannelGone) as gone:
        await client.channels.answer(CALLER)
    error = gone.value
    assert (error.channel_id, error.status, error.method) == (CALLER, 404, "POST")
    assert error.path == f"/channels/{CALLER}/answer" and error.message == "Channel not found"
    assert isinstance(error, CtiError)


async def test_404_on_a_bridge_is_bridge_gone(ari: RecordingAri, client: AriClient) -> None:
    ari.fail("POST", f"/bridges/{BRIDGE}/addChannel", 404, "Bridge not found")
    with pytest.raises(BridgeGone) as gone:
        await client.bridges.add_channel(BRIDGE, [CALLER, AGENT])
    assert gone.value.bridge_id == BRIDGE


async def test_a_missing_variable_is_not_a_gone_channel(
    ari: RecordingAri, client: AriClient
) -> None:
    ari.fail("GET", f"/channels/{CALLER}/variable", 404, "Provided variable was not found")
    with pytest.raises(AriNotFound) as missing:
        await client.channels.get_variable(CALLER, "HOTLINE_CALL_ID")
    assert not isinstance(missing.value, ChannelGone)


async def test_404_elsewhere_is_not_found(ari: RecordingAri, client: AriClient) -> None:
    ari.fail("GET", "/recordings/stored/c-0001", 404, "Recording not found")
    with pytest.raises(AriNotFound) as missing:
        await client.recordings.get_stored("c-0001")  # type: ignore[arg-type]
    assert missing.value.message == "Recording not found"


async def test_409_is_a_conflict(ari: RecordingAri, client: AriClient) -> None:
    message = f"Bridge with id '{BRIDGE}' already exists"
    ari.fail("POST", "/bridges", 409, message)
    with pytest.raises(AriConflict) as conflict:
        await client.bridges.create(type="mixing", bridge_id=BRIDGE)
    assert (conflict.value.status, conflict.value.message) == (409, message)


async def test_500_is_an_http_error(ari: RecordingAri, client: AriClient) -> None:
    ari.fail("POST", f"/bridges/{BRIDGE}/record", 500, "Internal Server Error")
    with pytest.raises(AriHttpError) as failed:
        await client.bridges.record(BRIDGE, "c-0001", "wav")  # type: ignore[arg-type]
    assert failed.value.status == 500
    assert type(failed.value) is AriHttpError


async def test_wrong_credentials_are_401(ari: RecordingAri, make_client: MakeClient) -> None:
    rest = make_client(password="wrong")
    with pytest.raises(AriHttpError) as refused:
        await rest.asterisk.ping()
    assert refused.value.status == 401
    with pytest.raises(AriHttpError):
        await rest.connect()
    assert rest.link.state is LinkState.IDLE


async def test_a_refused_connection_is_unavailable(
    ari: RecordingAri, make_client: MakeClient
) -> None:
    port = ari.port
    await ari.stop()
    rest = make_client(base_url=f"http://127.0.0.1:{port}/ari")
    with pytest.raises(AriUnavailable) as down:
        await rest.channels.list()
    assert down.value.path == "/channels"
    with pytest.raises(AriUnavailable):
        await rest.connect()


async def test_a_stalled_answer_times_out_as_unavailable(
    ari: RecordingAri, make_client: MakeClient
) -> None:
    rest = make_client(request_timeout=0.2)
    ari.stall.add(("GET", "/asterisk/ping"))
    with pytest.raises(AriUnavailable):
        await rest.asterisk.ping()


async def test_a_body_that_is_not_the_model_is_a_protocol_error(
    ari: RecordingAri, client: AriClient
) -> None:
    ari.fail("GET", f"/channels/{CALLER}", 200, "not a channel")
    with pytest.raises(AriProtocolError):
        await client.channels.get(CALLER)


# -- the event WebSocket ---------------------------------------------------------


async def test_events_arrive_typed_in_order_after_the_first_report(
    ari: RecordingAri, client: AriClient
) -> None:
    events = client.subscribe()
    await client.connect()
    first = await events.get(DEADLINE)
    assert isinstance(first, Reconciled) and not first.reconnect
    assert ari.requests[0].query == {"app": "hotline"}
    # ApplicationReplaced ends the socket's life (test_availability_ari covers it).
    raws = [raw for _, raw in all_ws_events() if raw["type"] != "ApplicationReplaced"]
    recorded = raws[:40]
    for raw in recorded:
        await ari.push(raw)
    await ari.push("{broken")
    await ari.push({"type": "ChannelTalkingStarted", "application": "hotline"})
    received = [await events.get(DEADLINE) for _ in range(len(recorded) + 1)]
    assert [e.type for e in received if not isinstance(e, Reconciled)] == [
        *(raw["type"] for raw in recorded),
        "ChannelTalkingStarted",
    ]
    assert isinstance(received[-1], GenericEvent)
    assert isinstance(received[0], StasisStart) or received[0].type == recorded[0]["type"]


async def test_subscribing_by_type_filters_events(ari: RecordingAri, client: AriClient) -> None:
    starts = client.subscribe("StasisStart")
    await client.connect()
    raws = [raw for _, raw in all_ws_events()]
    start = next(raw for raw in raws if raw["type"] == "StasisStart")
    other = next(raw for raw in raws if raw["type"] == "ChannelVarset")
    await ari.push(other)
    await ari.push(start)
    assert isinstance(await starts.get(DEADLINE), Reconciled)
    event = await starts.get(DEADLINE)
    assert isinstance(event, StasisStart)
    assert starts.pending() == 0


async def test_a_cut_socket_reconnects_and_reconciles(
    ari: RecordingAri, make_client: MakeClient
) -> None:
    ari.app_channels = [CALLER, AGENT]
    ari.app_bridges = [BRIDGE]
    known = Known(frozenset({CALLER, AGENT}), frozenset({BRIDGE}))
    rest = make_client(known)
    reports = rest.subscribe()
    await rest.connect()
    assert isinstance(await reports.get(DEADLINE), Reconciled)
    await ari.cut()
    report = await reports.wait_for(lambda item: isinstance(item, Reconciled), DEADLINE)
    assert isinstance(report, Reconciled) and report.reconnect
    assert report.report.channels.present == {CALLER, AGENT}
    assert report.report.bridges.present == {BRIDGE}
    assert report.report.clean
    await rest.link.wait_until(lambda link: link.connected, DEADLINE)
    assert (rest.link.reconnects, rest.link.losses) == (1, 1)
    assert ari.socket_count == 2


async def test_a_channel_gone_during_the_cut_is_reported_vanished(
    ari: RecordingAri, make_client: MakeClient
) -> None:
    ari.app_channels = [CALLER, AGENT]
    ari.app_bridges = [BRIDGE]
    known = Known(frozenset({CALLER, AGENT}), frozenset({BRIDGE}))
    rest = make_client(known)
    await rest.connect()
    with rest.subscribe() as items:
        ari.refuse_sockets = True
        await ari.cut()
        await rest.link.wait_until(lambda link: link.state is LinkState.RECONNECTING, DEADLINE)
        ari.app_channels = [CALLER]
        ari.refuse_sockets = False
        report = await items.wait_for(lambda item: isinstance(item, Reconciled), DEADLINE)
    assert isinstance(report, Reconciled)
    assert report.report.channels.vanished == {AGENT}
    assert report.report.channels.present == {CALLER}


async def test_an_unanswered_heartbeat_reconnects(
    ari: RecordingAri, make_client: MakeClient
) -> None:
    ari.heartbeat_answers = False
    rest = make_client(heartbeat=0.1)
    await rest.connect()
    ari.heartbeat_answers = True
    await rest.link.wait_until(lambda link: link.reconnects >= 1, DEADLINE)
    assert rest.link.last_error is not None


async def test_close_ends_subscriptions(ari: RecordingAri, client: AriClient) -> None:
    await client.connect()
    items = client.subscribe()
    await client.close()
    assert [item async for item in items] == []
    assert client.link.state is LinkState.CLOSED


# -- pure parts: reconciliation, link table, backoff ------------------------------


def test_reconcile_classifies_present_vanished_unknown() -> None:
    app = Application.model_validate(
        {**SAMPLES["Application"], "channel_ids": ["a", "c"], "bridge_ids": ["b1", "b2"]}
    )
    channels = [channel(id_) for id_ in ("a", "c", "outside")]  # "outside": not in the app
    bridges = [bridge(id_) for id_ in ("b1", "b2")]
    known = Known(frozenset({ChannelId("a"), ChannelId("b")}), frozenset({BridgeId("b1")}))
    report = reconcile(known, channels, bridges, app)
    assert report.channels.present == {"a"}
    assert report.channels.vanished == {"b"}
    assert report.channels.unknown == {"c"}
    assert report.bridges.present == {"b1"}
    assert report.bridges.unknown == {"b2"}
    assert not report.clean
    assert set(report.listed_channels) == {"a", "c", "outside"}


def channel(channel_id: str) -> Channel:
    return Channel.model_validate({**SAMPLES["Channel"], "id": channel_id})


def bridge(bridge_id: str) -> Bridge:
    return Bridge.model_validate({**SAMPLES["Bridge"], "id": bridge_id})


def test_link_moves_only_along_the_table() -> None:
    link = Link("test")
    seen: list[tuple[LinkState, LinkState]] = []
    link.add_listener(lambda _link, old, new: seen.append((old, new)))
    with pytest.raises(IllegalLinkTransition):
        link.move(LinkState.CONNECTED)
    link.move(LinkState.CONNECTING)
    link.move(LinkState.CONNECTED)
    link.move(LinkState.RECONNECTING, error="cut")
    link.move(LinkState.CONNECTED)
    assert (link.reconnects, link.losses, link.last_error) == (1, 1, "cut")
    link.move(LinkState.CLOSED)
    with pytest.raises(IllegalLinkTransition):
        link.move(LinkState.CONNECTING)
    assert seen[0] == (LinkState.IDLE, LinkState.CONNECTING)
    assert len(seen) == 5


def test_backoff_grows_to_its_maximum_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, factor=2.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling * 0.5 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not lock-step
    backoff.reset()
    assert backoff.next_delay() <= 0.5
    with pytest.raises(ValueError):
        Backoff(initial=1.0, maximum=0.5)
