"""Bad input everywhere: what Asterisk or an administrator may send that the engine must survive.

* AMI: random bytes into :class:`cti.ami.AmiDecoder`, cut at random points;
  whatever it yields goes through :func:`cti.ami.typed_event` into
  :meth:`Engine.on_ami`.  The decoder never raises (a frame over its limit is
  the one protocol error, the client's signal to drop the connection), and
  the first whole frame after the garbage comes out intact: it resynchronises.
* ARI: random JSON, recorded events with random damage (keys removed, values
  replaced, types swapped), truncated messages and oversized ones into
  :func:`cti.ari.events.decode_event` and on into :meth:`Engine.on_ari`.
  Nothing raises; damage is logged; the engine records no internal error.
* Configuration: damaged YAML files are refused at reload with the file and
  line named, and the configuration in force stays in force.

The engine is the real one on the minimal configuration; the softswitch
requests its decisions start are cancelled before they reach a socket.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from cti.ami import AmiDecoder, AmiMessage, AmiProtocolError, Banner, typed_event
from cti.ari import EVENT_TYPES, AriEvent, GenericEvent, decode_event
from cti.ari.client import AriClient
from cti.config import CONFIG_FILES, Config, ConfigManager, ConfigVersion
from cti.engine import records
from cti.engine.pbx import Pbx
from cti.executor import Engine
from cti.store import Database
from cti.writer import BufferedWriter
from tests.bridge_support import all_ws_events

pytestmark = pytest.mark.resilience

MINIMAL = Path(__file__).resolve().parent / "fixtures" / "configs" / "minimal"
EVENTS = [event for _, event in all_ws_events()]
SEATS = ("PJSIP/8001", "PJSIP/8002", "8001", "8002", "PJSIP/9999")
VALID_FRAME = (
    b"Event: ContactStatus\r\nPrivilege: system,all\r\nURI: sip:8002@127.0.0.2:5090\r\n"
    b"ContactStatus: Reachable\r\nAOR: 8002\r\nEndpointName: 8002\r\n\r\n"
)
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@functools.cache
def _minimal() -> tuple[Config, ConfigVersion]:
    return ConfigManager(MINIMAL).snapshot()


def _engine(spool: Path) -> Engine:
    """The real orchestrator on the minimal configuration, with no database and no PBX
    behind its clients (nothing it starts gets that far)."""
    config, version = _minimal()
    writer = BufferedWriter(Database("postgresql://127.0.0.1:9/none"), spool)
    records.register(writer)
    ari = AriClient("http://127.0.0.1:9/ari", "hotline", "unused", config.engine.ari.app)
    return Engine(config, version.digest, Pbx(ari), writer)


def _through_engine(feed: Iterable[Any], kind: str) -> Engine:
    """Feed ``feed`` to a fresh engine's ``on_ari`` or ``on_ami`` inside an event loop;
    return the engine once the requests it started are cancelled."""

    async def run() -> Engine:
        # Log events are captured, not rendered: an internal error's traceback is slow to print.
        with tempfile.TemporaryDirectory() as tmp, capture_logs():
            engine = _engine(Path(tmp) / "spool.jsonl")
            handler = engine.on_ari if kind == "ari" else engine.on_ami
            for item in feed:
                handler(item)
            engine.arrivals.admit_all()  # new calls are taken up after the reader's turn
            # Every request the decisions started is cancelled before it runs.
            engine.shutdown()
            this = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not this:
                    task.cancel()
            await asyncio.sleep(0)
            await engine.pbx.ari.close()
            return engine

    return asyncio.run(run())


# -- AMI -----------------------------------------------------------------------


def _decode_in_pieces(data: bytes, cuts: list[int], max_frame: int) -> list[Banner | AmiMessage]:
    decoder = AmiDecoder(max_frame=max_frame)
    points = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    out: list[Banner | AmiMessage] = []
    for start, end in itertools.pairwise(points):
        decoder.receive_data(data[start:end])
        out.extend(decoder)
    return out


@FUZZ
@given(garbage=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_random_bytes_never_break_the_ami_decoder_and_it_resynchronises(
    garbage: bytes, cuts: list[int]
) -> None:
    # The garbage is shorter than the frame limit, so no protocol error is due.
    items = _decode_in_pieces(garbage + b"\r\n\r\n" + VALID_FRAME, cuts, max_frame=8192)
    assert all(isinstance(item, Banner | AmiMessage) for item in items)
    last = items[-1]
    assert isinstance(last, AmiMessage) and last.name == "ContactStatus"
    assert (last.get("AOR"), last.get("ContactStatus")) == ("8002", "Reachable")
    for item in items:
        if isinstance(item, AmiMessage):
            typed_event(item)  # never raises, whatever the headers say


def test_a_frame_over_the_limit_is_the_one_protocol_error() -> None:
    decoder = AmiDecoder(max_frame=1024)
    decoder.receive_data(b"Event: X\r\nJunk: " + b"x" * 2000)
    with pytest.raises(AmiProtocolError):
        list(decoder)


ami_names = st.sampled_from(
    [
        "ContactStatus",
        "DeviceStateChange",
        "PeerStatus",
        "FullyBooted",
        "Hangup",
        "Newchannel",
        "OriginateResponse",
    ]
) | st.text(max_size=12)
ami_keys = st.sampled_from(
    [
        *("AOR", "EndpointName", "ContactStatus", "URI", "Device", "State", "Peer"),
        *("PeerStatus", "Channel", "Uniqueid", "Cause", "Response", "ActionID", "CallerIDName"),
    ]
) | st.text(min_size=1, max_size=10)
ami_values = st.sampled_from(
    [
        *SEATS,
        *("Reachable", "Removed", "Unreachable", "NonQualified", "Created", "NOT_INUSE"),
        *("INUSE", "UNAVAILABLE", "RINGING", "ONHOLD", "", "16", "-1"),
    ]
) | st.text(max_size=30)


@st.composite
def ami_frames(draw: st.DrawFn) -> bytes:
    """A frame that looks like an event the engine reads, with random headers and values
    (including bytes that are not UTF-8 and values with stray line breaks)."""
    lines = [b"Event: " + draw(ami_names).encode()]
    for _ in range(draw(st.integers(0, 8))):
        value = draw(ami_values).encode() + draw(st.sampled_from([b"", b"\n", b"\xff\xfe", b"\r"]))
        lines.append(draw(ami_keys).encode() + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


@FUZZ
@given(frames=st.lists(ami_frames(), min_size=1, max_size=20))
def test_random_ami_events_are_skipped_or_applied_never_an_engine_error(
    frames: list[bytes],
) -> None:
    decoder = AmiDecoder()
    decoder.receive_data(b"".join(frames))
    typed = [typed_event(m) for m in decoder if isinstance(m, AmiMessage)]
    engine = _through_engine(typed, "ami")
    assert engine.errors == 0


# -- ARI -----------------------------------------------------------------------


@FUZZ
@given(value=json_values)
def test_random_json_is_an_event_or_skipped(value: Any) -> None:
    text = json.dumps(value)
    with capture_logs() as logged:
        event = decode_event(text)
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        assert isinstance(event, AriEvent) and event.type == value["type"]
    else:
        assert event is None
        assert [e["event"] for e in logged] == ["ari_event_malformed"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _damage(event: dict[str, Any], path: tuple[Any, ...], how: str, value: Any) -> None:
    parent = event
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "drop" and isinstance(parent, dict):
        del parent[last]
    else:
        parent[last] = value


@st.composite
def damaged_events(draw: st.DrawFn) -> dict[str, Any]:
    """A recorded event with a few keys removed, values replaced or its type swapped."""
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(EVENTS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(event) if p != ("type",)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["drop", "replace"]))
        _damage(event, path, how, draw(json_values))
    if draw(st.booleans()):
        event["type"] = draw(st.sampled_from(sorted(EVENT_TYPES)))
    return event


INBOUND = next(e for e in EVENTS if e["type"] == "StasisStart" and e["args"][0] == "inbound")


def _fresh_inbound() -> AriEvent:
    event = copy.deepcopy(INBOUND)
    event["channel"]["id"] = "fresh.1"
    decoded = decode_event(json.dumps(event, ensure_ascii=False))
    assert decoded is not None
    return decoded


@FUZZ
@given(events=st.lists(damaged_events(), min_size=1, max_size=12))
def test_damaged_ari_events_never_stop_the_engine(events: list[dict[str, Any]]) -> None:
    with capture_logs() as logged:
        decoded = [decode_event(json.dumps(e, ensure_ascii=False)) for e in events]
    assert all(isinstance(e, AriEvent) for e in decoded)
    invalid = [e for e in logged if e["event"] == "ari_event_invalid"]
    generic_known = [e for e in decoded if type(e) is GenericEvent and e.type in EVENT_TYPES]
    assert len(invalid) == len(generic_known)  # each damaged event is logged as such
    # After the damage, a good call still arrives and is taken in.
    engine = _through_engine([*[e for e in decoded if e is not None], _fresh_inbound()], "ari")
    assert "fresh.1" in engine.board.channels()


@settings(FUZZ, max_examples=30, phases=[Phase.generate])
@given(events=st.lists(damaged_events(), min_size=1, max_size=12))
def test_damaged_ari_events_are_skipped_without_an_engine_error(
    events: list[dict[str, Any]],
) -> None:
    decoded = [decode_event(json.dumps(e, ensure_ascii=False)) for e in events]
    engine = _through_engine([e for e in decoded if e is not None], "ari")
    assert engine.errors == 0


@FUZZ
@given(event=st.sampled_from(EVENTS), data=st.data())
def test_truncated_ari_messages_are_skipped_and_logged(event: dict[str, Any], data: Any) -> None:
    text = json.dumps(event, ensure_ascii=False)
    cut = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    raw: str | bytes = text[:cut]
    if data.draw(st.booleans()):
        raw = text.encode()[: data.draw(st.integers(0, len(text.encode()) - 1))]
    with capture_logs() as logged:
        assert decode_event(raw) is None
    assert [e["event"] for e in logged] == ["ari_event_malformed"]


def test_oversized_ari_events_pass_through_whole() -> None:
    start = next(e for e in EVENTS if e["type"] == "StasisStart" and e["args"][0] == "inbound")
    big = copy.deepcopy(start)
    big["channel"]["caller"]["name"] = "张" * 500_000
    big["args"] = [*big["args"], *["x" * 100] * 10_000]
    big["extra"] = {"blob": "y" * 1_000_000}
    event = decode_event(json.dumps(big, ensure_ascii=False))
    assert event is not None and event.type == "StasisStart"
    engine = _through_engine([event], "ari")
    assert engine.errors == 0
    assert [c.caller_name for c in engine.calls.values()] == ["张" * 500_000]


# -- configuration -------------------------------------------------------------


def _copy_minimal() -> Path:
    target = Path(tempfile.mkdtemp(prefix="fuzz-config-")) / "config"
    shutil.copytree(MINIMAL, target)
    return target


BROKEN_YAML: dict[str, Callable[[str], str]] = {
    "tab indentation": lambda text: text.replace("\n  ", "\n\t", 1),
    "unclosed quote": lambda text: text + '\nbroken: "never closed\n',
    "unclosed flow": lambda text: text + "\nbroken: {a: [1, 2\n",
    "duplicate key": lambda text: text + "\n" + text.splitlines()[-1] + "\n",
    "NUL byte": lambda text: text[: len(text) // 2] + "\0" + text[len(text) // 2 :],
    "a lone colon": lambda text: text + "\n: \n",
    "bad indentation": lambda text: text + "\n   misplaced: 1\n  worse: 2\n",
    "a document marker mid-file": lambda text: text + "\n---\nsecond: document\n",
    "half the file": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "a list instead of a mapping": lambda text: "- just\n- a list\n",
}


@pytest.mark.parametrize("damage", sorted(BROKEN_YAML))
@pytest.mark.parametrize("name", ["queues.yaml", "routing.yaml", "agents.yaml"])
def test_invalid_yaml_is_refused_at_reload(name: str, damage: str) -> None:
    directory = _copy_minimal()
    try:
        manager = ConfigManager(directory)
        before = manager.snapshot()
        path = directory / name
        path.write_text(BROKEN_YAML[damage](path.read_text(encoding="utf-8")), encoding="utf-8")
        result = manager.reload("fuzz")
        assert result.status == "refused", damage
        assert result.issues and all(name in str(issue) for issue in result.issues[:1])
        assert manager.snapshot() is before
    finally:
        shutil.rmtree(directory.parent, ignore_errors=True)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(CONFIG_FILES)),
    at=st.integers(min_value=0),
    junk=st.binary(min_size=1, max_size=40),
    truncate=st.booleans(),
)
def test_randomly_damaged_files_are_refused_or_valid_never_an_exception(
    name: str, at: int, junk: bytes, truncate: bool
) -> None:
    directory = _copy_minimal()
    try:
        manager = ConfigManager(directory)
        before = manager.snapshot()
        path = directory / name
        raw = path.read_bytes()
        at %= len(raw) + 1
        path.write_bytes(raw[:at] if truncate else raw[:at] + junk + raw[at:])
        result = manager.reload("fuzz")
        if result.status == "refused":
            assert result.issues and manager.snapshot() is before
        else:
            # Still a valid configuration: it loads from scratch just the same.
            assert ConfigManager(directory).version.digest == manager.version.digest
    finally:
        shutil.rmtree(directory.parent, ignore_errors=True)


ALIAS_BOMB = (
    "".join(
        f"bomb{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10) if i else ', '.join(['lol'] * 10)}]\n"
        for i in range(8)
    )
    + "vip_numbers: *b7\n"
)


def test_a_yaml_alias_bomb_is_refused_at_reload_within_seconds() -> None:
    directory = _copy_minimal()
    try:
        path = directory / "queues.yaml"
        text = path.read_text(encoding="utf-8").replace("vip_numbers: []\n", "")
        path.write_text(ALIAS_BOMB + text, encoding="utf-8")
        # A separate process, so that a reload that never ends can be stopped.
        code = (
            "import sys; from cti.config.loader import check_config; "
            "r = check_config(sys.argv[1]); sys.exit(0 if r.config is None else 1)"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, str(directory)], timeout=5, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail("the reload of an alias bomb was still running after 5 s")
        assert done.returncode == 0, "the alias bomb was accepted"
    finally:
        shutil.rmtree(directory.parent, ignore_errors=True)
