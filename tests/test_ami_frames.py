"""The pure AMI decoder, fed every transcript whole, byte by byte and at
random splits: the same banners and messages every time."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ami import (
    NEED_DATA,
    AmiDecoder,
    AmiMessage,
    AmiProtocolError,
    Banner,
    ContactStatus,
    Hangup,
    Newchannel,
    encode_frame,
    parse_frame,
    typed_event,
)

pytestmark = pytest.mark.bridge

TRANSCRIPTS = Path(__file__).parent / "fixtures" / "asterisk" / "transcripts"


def _ami_frames(path: Path) -> list[bytes]:
    frames = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] == "ami-in":
            frames.append(record["raw"].encode("utf-8"))
    return frames


AMI_FILES = sorted(p for p in TRANSCRIPTS.glob("*.jsonl") if _ami_frames(p))
STREAMS = {p.name: b"".join(_ami_frames(p)) for p in AMI_FILES}
ALL_IN_ONE = b"".join(STREAMS.values())


def _decode(chunks: list[bytes]) -> list[Banner | AmiMessage]:
    decoder = AmiDecoder()
    out: list[Banner | AmiMessage] = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        out.extend(decoder)
    assert decoder.next_event() is NEED_DATA
    assert decoder.pending == b""
    return out


def _expected(path: Path) -> list[Banner | AmiMessage]:
    """Each ``ami-in`` record is one frame: decode them one at a time."""
    out: list[Banner | AmiMessage] = []
    for frame in _ami_frames(path):
        decoder = AmiDecoder()
        decoder.receive_data(frame)
        items = list(decoder)
        assert len(items) == 1, frame
        out.extend(items)
    return out


def test_the_transcripts_hold_ami_sessions() -> None:
    assert {p.name for p in AMI_FILES} >= {
        "ami_agent_register_unregister.jsonl",
        "inbound_answer_bridge_record.jsonl",
    }


@pytest.mark.parametrize("path", AMI_FILES, ids=lambda p: p.stem)
def test_whole_and_byte_by_byte_give_the_frames_of_the_transcript(path: Path) -> None:
    stream = STREAMS[path.name]
    expected = _expected(path)
    assert len(expected) == len(_ami_frames(path))
    assert _decode([stream]) == expected
    assert _decode([stream[i : i + 1] for i in range(len(stream))]) == expected


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(ALL_IN_ONE)), max_size=200))
def test_random_splits_give_the_same_messages(cuts: list[int]) -> None:
    points = [0, *sorted(set(cuts)), len(ALL_IN_ONE)]
    chunks = [ALL_IN_ONE[a:b] for a, b in itertools.pairwise(points)]
    assert _decode(chunks) == _decode([ALL_IN_ONE])


def test_a_name_split_inside_a_character_arrives_intact() -> None:
    stream = STREAMS["inbound_answer_bridge_record.jsonl"]
    name = "张三市民".encode()
    at = stream.index(name) + 1  # inside the first character's three bytes
    messages = [m for m in _decode([stream[:at], stream[at:]]) if isinstance(m, AmiMessage)]
    names = {m.get("CallerIDName") for m in messages if "CallerIDName" in m}
    assert "张三市民" in names
    assert not any("\ufffd" in n for n in names)


def test_banner_and_login_answer() -> None:
    items = _decode([STREAMS["ami_agent_register_unregister.jsonl"]])
    assert items[0] == Banner("11.0.0")
    login = items[1]
    assert isinstance(login, AmiMessage)
    assert login.is_response and login.name == "Success" and login.action_id == "1"
    assert login.get("message") == "Authentication accepted"


def test_a_value_ending_in_a_stray_newline_is_stripped() -> None:
    items = _decode([STREAMS["ami_agent_register_unregister.jsonl"]])
    errors = [m for m in items if isinstance(m, AmiMessage) and m.name == "Error"]
    assert [m.get("Message") for m in errors] == ["No Contacts found"]


def test_typed_events_of_the_register_transcript() -> None:
    items = _decode([STREAMS["ami_agent_register_unregister.jsonl"]])
    typed = [typed_event(m) for m in items if isinstance(m, AmiMessage) and m.is_event]
    contacts = [e for e in typed if isinstance(e, ContactStatus)]
    assert [(c.endpoint, c.status) for c in contacts] == [
        ("8002", "NonQualified"),
        ("8002", "Removed"),
    ]
    assert contacts[0].uri == "sip:8002@127.0.0.2:5090"


def test_typed_newchannel_and_hangup_keep_the_chinese_name() -> None:
    items = _decode([STREAMS["agent_no_answer.jsonl"]])
    typed = [typed_event(m) for m in items if isinstance(m, AmiMessage) and m.is_event]
    caller = next(e for e in typed if isinstance(e, Newchannel) and e.context == "from-carrier")
    assert (caller.caller_id_name, caller.caller_id_num) == ("张三市民", "13800138000")
    assert caller.exten == "12345"
    hangups = {e.uniqueid: e for e in typed if isinstance(e, Hangup)}
    assert hangups["agent-leg-1"].cause == 19
    assert hangups["agent-leg-1"].cause_txt == "User alerting, no answer"


def test_repeated_keys_are_kept_in_order() -> None:
    message = parse_frame("Event: VarSet\r\nVariable: A\r\nVariable: B")
    assert message.get("variable") == "A"
    assert message.get_all("VARIABLE") == ("A", "B")
    assert message.headers == (("Event", "VarSet"), ("Variable", "A"), ("Variable", "B"))


def test_legacy_command_output_becomes_content() -> None:
    raw = b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\nline one\nline two\n--END COMMAND--\r\n\r\n"
    items = _decode([raw])
    assert len(items) == 1
    message = items[0]
    assert isinstance(message, AmiMessage)
    assert message.action_id == "7"
    assert message.content == "line one\nline two"


def test_stray_empty_lines_between_frames_are_skipped() -> None:
    raw = b"\r\nEvent: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n"
    assert [m.name for m in _decode([raw]) if isinstance(m, AmiMessage)] == ["A", "B"]


def test_an_endless_frame_is_a_protocol_error() -> None:
    decoder = AmiDecoder(max_frame=64)
    decoder.receive_data(b"Event: X\r\n" + b"Key: value\r\n" * 10)
    with pytest.raises(AmiProtocolError):
        decoder.next_event()


def test_encode_round_trips_and_refuses_header_injection() -> None:
    frame = encode_frame({"Action": "Setvar", "Variable": ["A=1", "B=张"]})
    assert frame == "Action: Setvar\r\nVariable: A=1\r\nVariable: B=张\r\n\r\n".encode()
    decoder = AmiDecoder()
    decoder.receive_data(frame)
    (message,) = list(decoder)
    assert isinstance(message, AmiMessage)
    assert message.get_all("Variable") == ("A=1", "B=张")
    with pytest.raises(AmiProtocolError):
        encode_frame({"Action": "Originate", "Channel": "PJSIP/8001\r\nAction: Hangup"})
