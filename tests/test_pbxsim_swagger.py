"""tests/support/swagger.py: the contract checker itself, against real Asterisk output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.replay import load_transcript
from tests.support.swagger import check_request, model_names, response_model, validate_model

pytestmark = pytest.mark.bridge

TRANSCRIPTS = sorted(
    (Path(__file__).parent / "fixtures" / "asterisk" / "transcripts").glob("*.jsonl")
)

CHANNEL = {
    "id": "1795302787.8",
    "name": "PJSIP/carrier-00000006",
    "state": "Up",
    "protocol_id": "1-11375@127.0.0.1",
    "caller": {"name": "张三市民", "number": "13800138000"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-carrier",
        "exten": "12345",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "hotline,inbound,12345",
    },
    "creationtime": "2026-11-21T23:13:07.662+0000",
    "language": "en",
}


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_real_asterisk_traffic_honours_the_contract(path: Path) -> None:
    problems: list[str] = []
    for entry in load_transcript(path.stem):
        if entry["dir"] == "ari-req":
            problems += check_request(entry["method"], entry["path"], entry["params"])
        elif entry["dir"] == "ari-resp" and entry["status"] < 300:
            model = response_model(entry["method"], entry["path"])
            if model not in ("void", "binary"):
                problems += validate_model(str(model), entry["body"])
        elif entry["dir"] == "ari-ws":
            problems += validate_model("Message", entry["event"])
    assert problems == []


@pytest.mark.parametrize(
    ("method", "path", "params", "problem"),
    [
        ("GET", "/channelz", {}, "no such path template"),
        ("PATCH", "/channels/x", {}, "method not allowed"),
        (
            "POST",
            "/channels/x/play",
            {"media": "sound:a", "medium": "x"},
            "unknown parameter 'medium'",
        ),
        ("POST", "/channels", {"endpoint": "PJSIP/1", "timeout": "soon"}, "expected int"),
        ("POST", "/channels", {"app": "hotline"}, "missing required parameter 'endpoint'"),
        ("DELETE", "/channels/x", {"reason": "tired"}, "not one of"),
        ("POST", "/channels/x/snoop", {"app": "a", "spy": "both,sideways"}, "not one of"),
        (
            "POST",
            "/bridges/b/record",
            {"name": "r", "format": "wav", "beep": "loud"},
            "expected boolean",
        ),
        (
            "POST",
            "/bridges/b/record",
            {"name": "r", "format": "wav", "maxDurationSeconds": -1},
            "below minimum",
        ),
        ("POST", "/bridges/b/addChannel", {"channel": ["a", 2]}, "expected string"),
        (
            "POST",
            "/channels/x/play",
            {"media": ["a", "b"], "lang": ["en", "zh"]},
            "one value expected",
        ),
    ],
)
def test_check_request_finds_each_kind_of_problem(
    method: str, path: str, params: dict[str, object], problem: str
) -> None:
    problems = check_request(method, path, params)
    assert any(problem in p for p in problems), problems


def test_check_request_accepts_good_requests_in_both_forms() -> None:
    assert check_request("POST", "/ari/bridges/b/addChannel", {"channel": "a,b"}) == []
    assert check_request("POST", "/bridges/b/addChannel", {"channel": ["a", "b"]}) == []
    assert (
        check_request(
            "POST", "/channels", {"endpoint": "PJSIP/8001", "app": "hotline", "timeout": 15}
        )
        == []
    )
    body = {"endpoint": "PJSIP/8001", "app": "hotline", "variables": {"HOTLINE_CALL_ID": "c"}}
    assert check_request("POST", "/channels", {}, body=body) == []
    assert check_request("POST", "/channels/create", {"endpoint": "PJSIP/1", "app": "a"}) == []
    assert check_request("GET", "/events", {"app": "hotline", "subscribeAll": "true"}) == []


def test_validate_model_finds_each_kind_of_problem() -> None:
    assert validate_model("Channel", CHANNEL) == []
    assert any(
        "missing required property 'language'" in p
        for p in validate_model("Channel", {k: v for k, v in CHANNEL.items() if k != "language"})
    )
    assert any(
        "Channel.state" in p and "not one of" in p
        for p in validate_model("Channel", {**CHANNEL, "state": "Talking"})
    )
    assert any(
        "Channel.dialplan.priority" in p
        for p in validate_model(
            "Channel", {**CHANNEL, "dialplan": {**CHANNEL["dialplan"], "priority": "2"}}
        )
    )
    assert any(
        "expected Date" in p
        for p in validate_model("Channel", {**CHANNEL, "creationtime": "yesterday"})
    )
    assert any(
        "unknown property 'colour'" in p
        for p in validate_model("Channel", {**CHANNEL, "colour": "red"})
    )
    assert any("[1]" in p for p in validate_model("List[Channel]", [CHANNEL, {"id": 1}]))
    destroyed = {
        "type": "ChannelDestroyed",
        "timestamp": "2026-11-21T23:13:07.662+0000",
        "application": "hotline",
        "cause": 16,
        "cause_txt": "Normal Clearing",
        "channel": CHANNEL,
    }
    assert validate_model("Message", destroyed) == []
    assert validate_model("Event", destroyed) == []
    assert validate_model("ChannelDestroyed", destroyed) == []
    assert any(
        "cause_text" in p for p in validate_model("Message", {**destroyed, "cause_text": "typo"})
    )
    assert any(
        "missing required property 'application'" in p
        for p in validate_model(
            "Message", {k: v for k, v in destroyed.items() if k != "application"}
        )
    )
    assert any(
        "not a kind of Event" in p
        for p in validate_model("Event", {**destroyed, "type": "Nonsense"})
    )
    assert any("expected 'StasisStart'" in p for p in validate_model("StasisStart", destroyed))
    assert {"Channel", "Bridge", "LiveRecording", "StasisStart", "AsteriskInfo"} <= model_names()
