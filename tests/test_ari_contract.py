"""Every ARI request the client can make, checked against the Swagger
resource files of Asterisk 22.10.1: each client method is called (with every
optional parameter given) against a recording HTTP server, and each recorded
request must name an existing path and method with parameters of the
declared names, types and values."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from cti.ari import (
    Application,
    AriClient,
    AsteriskInfo,
    AsteriskPing,
    Bridge,
    Channel,
    DeviceState,
    Endpoint,
    LiveRecording,
    Playback,
    StoredRecording,
)
from cti.ids import BridgeId, ChannelId, PlaybackId, RecordingName
from tests.bridge_support import PASSWORD, USER, RecordingAri, running_ari, transcript
from tests.support.swagger import check_request, find_operation

pytestmark = pytest.mark.bridge

CH = ChannelId("1795302787.8")
BR = BridgeId("br-c-0001")
PB = PlaybackId("pb-1")
REC = RecordingName("c-0001")
NAME = "张三市民"

Call = Callable[[AriClient, Path], Awaitable[object]]

# (resource.method, call, what it must return)
CALLS: list[tuple[str, Call, type | None]] = [
    ("channels.list", lambda a, _: a.channels.list(), list),
    (
        "channels.originate",
        lambda a, _: a.channels.originate(
            "PJSIP/8001",
            app="hotline",
            app_args="agent,c-0001",
            extension="s",
            context="from-agents",
            priority=1,
            label="start",
            caller_id=f'"{NAME}" <13800138000>',
            timeout=15,
            variables={"HOTLINE_CALL_ID": "c-0001"},
            channel_id="agent-leg-1",
            other_channel_id="agent-leg-1-b",
            originator=CH,
            formats="ulaw,alaw",
        ),
        Channel,
    ),
    (
        "channels.create",
        lambda a, _: a.channels.create(
            "PJSIP/8001",
            "hotline",
            app_args="agent,c-0001",
            channel_id="agent-leg-2",
            other_channel_id="agent-leg-2-b",
            originator=CH,
            formats="ulaw",
            variables={"HOTLINE_CALL_ID": "c-0001"},
        ),
        Channel,
    ),
    ("channels.get", lambda a, _: a.channels.get(CH), Channel),
    ("channels.hangup", lambda a, _: a.channels.hangup(CH, reason="normal"), None),
    ("channels.hangup#code", lambda a, _: a.channels.hangup(CH, reason_code="16"), None),
    (
        "channels.continue_in_dialplan",
        lambda a, _: a.channels.continue_in_dialplan(
            CH, context="from-carrier", extension="12345", priority=3, label="after"
        ),
        None,
    ),
    ("channels.move", lambda a, _: a.channels.move(CH, "survey", app_args="rate,c-0001"), None),
    ("channels.redirect", lambda a, _: a.channels.redirect(CH, "PJSIP/8002"), None),
    ("channels.answer", lambda a, _: a.channels.answer(CH), None),
    ("channels.ring", lambda a, _: a.channels.ring(CH), None),
    ("channels.ring_stop", lambda a, _: a.channels.ring_stop(CH), None),
    ("channels.progress", lambda a, _: a.channels.progress(CH), None),
    (
        "channels.send_dtmf",
        lambda a, _: a.channels.send_dtmf(
            CH, "12#", before=10, between=100, duration=100, after=10
        ),
        None,
    ),
    ("channels.mute", lambda a, _: a.channels.mute(CH, direction="in"), None),
    ("channels.unmute", lambda a, _: a.channels.unmute(CH, direction="both"), None),
    ("channels.hold", lambda a, _: a.channels.hold(CH), None),
    ("channels.unhold", lambda a, _: a.channels.unhold(CH), None),
    ("channels.start_moh", lambda a, _: a.channels.start_moh(CH, moh_class="default"), None),
    ("channels.stop_moh", lambda a, _: a.channels.stop_moh(CH), None),
    ("channels.start_silence", lambda a, _: a.channels.start_silence(CH), None),
    ("channels.stop_silence", lambda a, _: a.channels.stop_silence(CH), None),
    (
        "channels.play",
        lambda a, _: a.channels.play(
            CH,
            ["sound:hello-world", "sound:vm-goodbye"],
            lang="zh",
            offsetms=0,
            skipms=3000,
            playback_id=PB,
        ),
        Playback,
    ),
    (
        "channels.play_with_id",
        lambda a, _: a.channels.play_with_id(
            CH, PB, "sound:hello-world", lang="zh", offsetms=10, skipms=500
        ),
        Playback,
    ),
    (
        "channels.record",
        lambda a, _: a.channels.record(
            CH,
            REC,
            "wav",
            max_duration_seconds=3600,
            max_silence_seconds=0,
            if_exists="overwrite",
            beep=False,
            terminate_on="none",
        ),
        LiveRecording,
    ),
    ("channels.get_variable", lambda a, _: a.channels.get_variable(CH, "HOTLINE_CALL_ID"), str),
    (
        "channels.set_variable",
        lambda a, _: a.channels.set_variable(CH, "HOTLINE_CALL_ID", "c-0001", report_events=True),
        None,
    ),
    (
        "channels.get_variables",
        lambda a, _: a.channels.get_variables(CH, ["HOTLINE_CALL_ID", "CALLERID(num)"]),
        dict,
    ),
    (
        "channels.set_variables",
        lambda a, _: a.channels.set_variables(CH, {"HOTLINE_CALL_ID": "c-0001"}),
        None,
    ),
    (
        "channels.snoop",
        lambda a, _: a.channels.snoop(
            CH, "hotline", spy="both", whisper="none", app_args="snoop,c-0001", snoop_id="snoop-1"
        ),
        Channel,
    ),
    (
        "channels.snoop_with_id",
        lambda a, _: a.channels.snoop_with_id(
            CH, "snoop-2", "hotline", spy="in", whisper="out", app_args="snoop,c-0001"
        ),
        Channel,
    ),
    ("channels.dial", lambda a, _: a.channels.dial(CH, caller="agent-leg-1", timeout=15), None),
    ("channels.rtp_statistics", lambda a, _: a.channels.rtp_statistics(CH), dict),
    ("bridges.list", lambda a, _: a.bridges.list(), list),
    (
        "bridges.create",
        lambda a, _: a.bridges.create(type="mixing", bridge_id=BR, name="call-c-0001"),
        Bridge,
    ),
    (
        "bridges.create_with_id",
        lambda a, _: a.bridges.create_with_id(BR, type="holding", name="hold-c-0001"),
        Bridge,
    ),
    ("bridges.get", lambda a, _: a.bridges.get(BR), Bridge),
    ("bridges.destroy", lambda a, _: a.bridges.destroy(BR), None),
    (
        "bridges.add_channel",
        lambda a, _: a.bridges.add_channel(
            BR,
            [CH, ChannelId("agent-leg-1")],
            role="participant",
            absorb_dtmf=False,
            mute=False,
            inhibit_connected_line_updates=False,
        ),
        None,
    ),
    ("bridges.remove_channel", lambda a, _: a.bridges.remove_channel(BR, CH), None),
    ("bridges.start_moh", lambda a, _: a.bridges.start_moh(BR, moh_class="default"), None),
    ("bridges.stop_moh", lambda a, _: a.bridges.stop_moh(BR), None),
    (
        "bridges.play",
        lambda a, _: a.bridges.play(
            BR,
            "sound:hello-world",
            announcer_format="ulaw",
            lang="zh",
            offsetms=0,
            skipms=3000,
            playback_id=PB,
        ),
        Playback,
    ),
    (
        "bridges.play_with_id",
        lambda a, _: a.bridges.play_with_id(
            BR, PB, "sound:hello-world", announcer_format="ulaw", lang="zh", offsetms=0, skipms=1
        ),
        Playback,
    ),
    (
        "bridges.record",
        lambda a, _: a.bridges.record(
            BR,
            REC,
            "wav",
            recorder_format="wav",
            max_duration_seconds=0,
            max_silence_seconds=0,
            if_exists="overwrite",
            beep=False,
            terminate_on="none",
        ),
        LiveRecording,
    ),
    ("bridges.get_variable", lambda a, _: a.bridges.get_variable(BR, "CALL"), str),
    (
        "bridges.set_variable",
        lambda a, _: a.bridges.set_variable(BR, "CALL", "c-0001", report_events=False),
        None,
    ),
    ("bridges.get_variables", lambda a, _: a.bridges.get_variables(BR, ["CALL"]), dict),
    ("playbacks.get", lambda a, _: a.playbacks.get(PB), Playback),
    ("playbacks.stop", lambda a, _: a.playbacks.stop(PB), None),
    ("playbacks.control", lambda a, _: a.playbacks.control(PB, "pause"), None),
    ("recordings.list_stored", lambda a, _: a.recordings.list_stored(), list),
    ("recordings.get_stored", lambda a, _: a.recordings.get_stored(REC), StoredRecording),
    ("recordings.delete_stored", lambda a, _: a.recordings.delete_stored(REC), None),
    ("recordings.get_stored_file", lambda a, _: a.recordings.get_stored_file(REC), bytes),
    (
        "recordings.download_stored_file",
        lambda a, tmp: a.recordings.download_stored_file(REC, tmp / "c-0001.wav"),
        int,
    ),
    (
        "recordings.copy_stored",
        lambda a, _: a.recordings.copy_stored(REC, RecordingName("c-0001-copy")),
        StoredRecording,
    ),
    ("recordings.get_live", lambda a, _: a.recordings.get_live(REC), LiveRecording),
    ("recordings.cancel", lambda a, _: a.recordings.cancel(REC), None),
    ("recordings.stop", lambda a, _: a.recordings.stop(REC), None),
    ("recordings.pause", lambda a, _: a.recordings.pause(REC), None),
    ("recordings.unpause", lambda a, _: a.recordings.unpause(REC), None),
    ("recordings.mute", lambda a, _: a.recordings.mute(REC), None),
    ("recordings.unmute", lambda a, _: a.recordings.unmute(REC), None),
    ("applications.list", lambda a, _: a.applications.list(), list),
    ("applications.get", lambda a, _: a.applications.get("hotline"), Application),
    (
        "applications.subscribe",
        lambda a, _: a.applications.subscribe("hotline", ["endpoint:PJSIP/8001", "bridge:br-1"]),
        Application,
    ),
    (
        "applications.unsubscribe",
        lambda a, _: a.applications.unsubscribe("hotline", "endpoint:PJSIP/8001"),
        Application,
    ),
    ("endpoints.list", lambda a, _: a.endpoints.list(), list),
    ("endpoints.list_by_tech", lambda a, _: a.endpoints.list_by_tech("PJSIP"), list),
    ("endpoints.get", lambda a, _: a.endpoints.get("PJSIP", "8001"), Endpoint),
    ("device_states.list", lambda a, _: a.device_states.list(), list),
    ("device_states.get", lambda a, _: a.device_states.get("Stasis:agent-8001"), DeviceState),
    (
        "device_states.update",
        lambda a, _: a.device_states.update("Stasis:agent-8001", "INUSE"),
        None,
    ),
    ("device_states.delete", lambda a, _: a.device_states.delete("Stasis:agent-8001"), None),
    ("asterisk.info", lambda a, _: a.asterisk.info(only=["system", "status"]), AsteriskInfo),
    ("asterisk.ping", lambda a, _: a.asterisk.ping(), AsteriskPing),
    ("asterisk.get_global_var", lambda a, _: a.asterisk.get_global_var("HOTLINE_MODE"), str),
    (
        "asterisk.set_global_var",
        lambda a, _: a.asterisk.set_global_var("HOTLINE_MODE", "day"),
        None,
    ),
]

RESOURCES = (
    "channels",
    "bridges",
    "playbacks",
    "recordings",
    "applications",
    "endpoints",
    "device_states",
    "asterisk",
)


@pytest.fixture
async def ari() -> AsyncIterator[RecordingAri]:
    async with running_ari() as server:
        yield server


@pytest.fixture
async def client(ari: RecordingAri) -> AsyncIterator[AriClient]:
    rest = AriClient(ari.base_url, USER, PASSWORD, "hotline")
    yield rest
    await rest.close()


def test_every_public_request_method_is_in_the_table() -> None:
    client = AriClient("http://127.0.0.1:1/ari", USER, PASSWORD, "hotline")
    offered = set()
    for resource in RESOURCES:
        api = getattr(client, resource)
        for name, _member in inspect.getmembers(type(api), inspect.iscoroutinefunction):
            if not name.startswith("_"):
                offered.add(f"{resource}.{name}")
    assert offered == {label.split("#")[0] for label, _, _ in CALLS}


@pytest.mark.parametrize(("label", "call", "returns"), CALLS, ids=[c[0] for c in CALLS])
async def test_each_request_honours_the_swagger_contract(
    ari: RecordingAri,
    client: AriClient,
    tmp_path: Path,
    label: str,
    call: Call,
    returns: type | None,
) -> None:
    result = await call(client, tmp_path)
    assert len(ari.requests) == 1, label
    sent = ari.requests[0]
    assert check_request(sent.method, sent.path, sent.query, sent.body) == []
    if returns is None:
        assert result is None
    else:
        assert isinstance(result, returns)


async def test_every_operation_the_engine_uses_in_the_transcripts_is_offered(
    ari: RecordingAri, client: AriClient, tmp_path: Path
) -> None:
    """The requests of the recorded sessions map onto operations the client makes."""
    made = set()
    for _, call, _ in CALLS:
        ari.requests.clear()
        await call(client, tmp_path)
        sent = ari.requests[0]
        op, _, _ = find_operation(sent.method, sent.path)
        assert op is not None
        made.add((op.method, op.template))
    used = set()
    for path in sorted((Path(__file__).parent / "fixtures/asterisk/transcripts").glob("*.jsonl")):
        for record in transcript(path.name):
            if record["dir"] == "ari-req":
                op, _, _ = find_operation(record["method"], record["path"])
                assert op is not None, record
                used.add((op.method, op.template))
    assert used - made == set()


async def test_values_are_encoded_as_asterisk_reads_them(
    ari: RecordingAri, client: AriClient
) -> None:
    await client.channels.originate(
        "PJSIP/8001",
        app="hotline",
        app_args="agent,c-0001",
        caller_id=f'"{NAME}" <13800138000>',
        timeout=15,
        channel_id="agent-leg-1",
        variables={"HOTLINE_CALL_ID": "c-0001"},
    )
    await client.bridges.add_channel(BR, [CH, ChannelId("agent-leg-1")])
    await client.bridges.record(BR, REC, "wav", if_exists="overwrite", beep=False)
    await client.channels.get_variable(ChannelId("weird/id;x"), "REDIRECTING(from-num)")
    originate, add, record, variable = ari.requests
    assert originate.query == {
        "endpoint": "PJSIP/8001",
        "app": "hotline",
        "appArgs": "agent,c-0001",
        "callerId": f'"{NAME}" <13800138000>',
        "timeout": "15",
        "channelId": "agent-leg-1",
    }
    assert originate.body == {"variables": {"HOTLINE_CALL_ID": "c-0001"}}
    assert add.path == "/bridges/br-c-0001/addChannel"
    assert add.query == {"channel": "1795302787.8,agent-leg-1"}
    assert record.query == {
        "name": "c-0001",
        "format": "wav",
        "ifExists": "overwrite",
        "beep": "false",
    }
    assert variable.path == "/channels/weird%2Fid%3Bx/variable"
    assert variable.query == {"variable": "REDIRECTING(from-num)"}
