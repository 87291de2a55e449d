"""Every ``ari-ws`` event of every transcript parsed into typed events with
no field lost; unknown types generic; malformed messages skipped and logged."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from cti.ari import (
    EVENT_TYPES,
    ChannelDestroyed,
    ChannelDtmfReceived,
    Dial,
    GenericEvent,
    RecordingFinished,
    StasisStart,
    decode_event,
    parse_event,
)
from tests.bridge_support import all_ws_events

pytestmark = pytest.mark.bridge

EVENTS = all_ws_events()
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{4}$")


def _normal(value: Any) -> Any:
    """Lists and tuples alike, Asterisk dates as datetimes."""
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    if isinstance(value, str) and _DATE.match(value):
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    return value


def test_the_transcripts_hold_every_event_type_the_engine_uses_but_a_few() -> None:
    seen = {event["type"] for _, event in EVENTS}
    # Not recorded in any session, modelled from events.json alone.
    assert set(EVENT_TYPES) - seen == {"BridgeCreated", "BridgeDestroyed", "RecordingFailed"}


@pytest.mark.parametrize(
    ("source", "raw"), EVENTS, ids=[f"{s}:{i}:{e['type']}" for i, (s, e) in enumerate(EVENTS)]
)
def test_each_recorded_event_parses_typed_and_whole(source: str, raw: dict[str, Any]) -> None:
    event = parse_event(raw)
    assert type(event) is EVENT_TYPES.get(raw["type"], GenericEvent)
    assert _normal(event.model_dump(exclude_unset=True)) == _normal(raw)
    assert decode_event(json.dumps(raw, ensure_ascii=False)) == event


def test_fields_the_engine_reads() -> None:
    events = [parse_event(raw) for _, raw in EVENTS]
    start = next(e for e in events if isinstance(e, StasisStart))
    assert start.args == ("inbound", "12345")
    assert start.channel.caller.name == "张三市民"
    assert start.channel.dialplan.app_data == "hotline,inbound,12345"
    assert any(isinstance(e, Dial) and e.dialstatus == "BUSY" for e in events)
    busy = next(e for e in events if isinstance(e, ChannelDestroyed) and e.cause == 17)
    assert busy.cause_txt == "User busy" and busy.tech_cause == 486
    assert any(isinstance(e, ChannelDtmfReceived) and e.digit == "1" for e in events)
    finished = next(e for e in events if isinstance(e, RecordingFinished))
    assert finished.recording.name == "c-0001" and finished.recording.duration == 2


def test_an_unknown_type_arrives_generic_with_every_field() -> None:
    raw = {
        "type": "ChannelTalkingStarted",
        "application": "hotline",
        "timestamp": "2026-11-21T23:13:07.662+0000",
        "channel": {"id": "1795302787.8"},
    }
    event = parse_event(raw)
    assert isinstance(event, GenericEvent)
    assert event.type == "ChannelTalkingStarted"
    assert event.model_extra == {"channel": {"id": "1795302787.8"}}


def test_a_known_type_that_breaks_its_model_arrives_generic_and_is_logged() -> None:
    raw = {"type": "StasisStart", "application": "hotline", "timestamp": "2026-11-21T23:13:07+0000"}
    with capture_logs() as logs:
        event = parse_event(raw)
    assert isinstance(event, GenericEvent) and event.type == "StasisStart"
    assert [entry["event"] for entry in logs] == ["ari_event_invalid"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"no": "type"}', b"\xff\xfe"])
def test_malformed_messages_are_skipped_and_logged(text: str | bytes) -> None:
    with capture_logs() as logs:
        assert decode_event(text) is None
    assert [entry["event"] for entry in logs] == ["ari_event_malformed"]
