"""The ticket payload, its JSON Schema, and the outbox's pure decisions."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cti.tickets import (
    Rating,
    RatingUpdate,
    SenderConfigError,
    SenderSettings,
    Ticket,
    TicketKind,
    TicketStateError,
    Timestamps,
    rating_update_json_schema,
    recording_url,
    ticket_json_schema,
)
from cti.tickets.policy import (
    TRANSITIONS,
    RowStatus,
    Verdict,
    backoff_delay,
    classify,
    next_status,
    parse_ticket_id,
)
from tests.support.backend import BASE_TIME, sample_rating, sample_ticket

pytestmark = pytest.mark.tickets


def test_body_round_trips_and_matches_the_published_schema() -> None:
    ticket = sample_ticket("1714987800.42", rating=sample_rating(4))
    body = ticket.body()
    assert Ticket.model_validate(body) == ticket
    assert body["caller"] == {"number": "13800138000", "name": "王女士"}
    assert body["merged_line"]["department"] == "文广旅局"
    assert body["agents"] == {"first_contact": "a1001", "others": ["a1002"]}
    assert body["transfers"][0]["kind"] == "attended"
    assert body["rating"]["level"] == 4
    assert body["recording_url"] == "https://cti.test/api/recordings/1714987800.42"
    validator = jsonschema_rs.validator_for(ticket_json_schema())
    assert list(validator.iter_errors(body)) == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("call_id"), "call_id"),
        (lambda b: b.update(surprise=1), "surprise"),
        (lambda b: b["caller"].update(number="138-0013"), "number"),
        (lambda b: b.update(kind="fax"), "kind"),
        (lambda b: b["transfers"][0].update(duration_s=-1), "duration_s"),
        (lambda b: b.update(recording_url="ftp://x/y"), "recording_url"),
    ],
)
def test_schema_and_model_refuse_the_same_bad_bodies(mutate: object, field: str) -> None:
    body = sample_ticket("c1").body()
    mutate(body)  # type: ignore[operator]
    errors = list(jsonschema_rs.validator_for(ticket_json_schema()).iter_errors(body))
    assert errors, f"the schema accepted a bad {field}"
    with pytest.raises(ValidationError):
        Ticket.model_validate(body)


def test_schema_can_point_at_openapi_components() -> None:
    schema = ticket_json_schema("#/components/schemas/{model}")
    assert schema["properties"]["caller"]["$ref"] == "#/components/schemas/Caller"
    assert set(schema["required"]) >= {"kind", "call_id", "caller", "dialled", "times"}
    update = rating_update_json_schema()
    assert update["properties"]["kind"]["const"] == "rating"


def test_a_call_ticket_needs_an_answer_and_a_first_contact_agent() -> None:
    times = Timestamps(arrived_at=BASE_TIME)
    with pytest.raises(ValidationError, match="answered_at"):
        sample_ticket("c1", times=times)
    with pytest.raises(ValidationError, match="first_contact"):
        sample_ticket("c1", agents={"first_contact": None})
    voicemail = sample_ticket("c2", kind=TicketKind.VOICEMAIL, times=times, agents={}, transfers=[])
    assert voicemail.agents.first_contact is None


def test_a_callback_ticket_needs_the_number_to_call() -> None:
    times = Timestamps(arrived_at=BASE_TIME)
    with pytest.raises(ValidationError, match="callback_number"):
        sample_ticket("c1", kind=TicketKind.CALLBACK, times=times, agents={})
    ticket = sample_ticket(
        "c1", kind=TicketKind.CALLBACK, times=times, agents={}, callback_number="13900139000"
    )
    assert ticket.body()["callback_number"] == "13900139000"


def test_timestamps_are_aware_and_in_order() -> None:
    with pytest.raises(ValidationError):
        Timestamps(arrived_at=datetime(2024, 5, 6, 9, 30))
    with pytest.raises(ValidationError, match="before arrived_at"):
        Timestamps(arrived_at=BASE_TIME, answered_at=BASE_TIME - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="before answered_at"):
        Timestamps(
            arrived_at=BASE_TIME,
            answered_at=BASE_TIME + timedelta(seconds=9),
            ended_at=BASE_TIME + timedelta(seconds=5),
        )


def test_not_rated_is_a_rating_without_level() -> None:
    assert not Rating(label="未评价").rated
    assert sample_rating(5).rated
    with pytest.raises(ValidationError):
        Rating(level=11, label="x")
    update = RatingUpdate(call_id="c1", rating=Rating(label="未评价"))
    assert update.body() == {
        "schema_version": 1,
        "kind": "rating",
        "call_id": "c1",
        "rating": {"level": None, "label": "未评价", "rated_at": None},
    }


def test_repr_masks_the_caller_number() -> None:
    ticket = sample_ticket("c1")
    assert "13800138000" not in repr(ticket)
    assert "138****8000" in repr(ticket)


def test_recording_url_escapes_the_call_id() -> None:
    assert recording_url("https://cti.test/rec/", "a b/c") == "https://cti.test/rec/a%20b%2Fc"
    with pytest.raises(ValueError, match="absolute"):
        recording_url("/rec", "c1")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (201, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (301, Verdict.REJECTED),
        (400, Verdict.REJECTED),
        (401, Verdict.REJECTED),
        (404, Verdict.REJECTED),
        (409, Verdict.REJECTED),
        (422, Verdict.REJECTED),
        (408, Verdict.RETRY),
        (425, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
    ],
)
def test_classify(status: int, verdict: Verdict) -> None:
    assert classify(status) is verdict


def test_every_status_verdict_pair_is_either_in_the_table_or_refused() -> None:
    for status, verdict in itertools.product(RowStatus, Verdict):
        if (status, verdict) in TRANSITIONS:
            assert next_status(7, status, verdict) is TRANSITIONS[(status, verdict)]
        else:
            with pytest.raises(TicketStateError) as info:
                next_status(7, status, verdict)
            assert info.value.outbox_id == 7
    assert not any(s is RowStatus.DELIVERED for s, _ in TRANSITIONS), "delivered is final"


@given(
    attempt=st.integers(min_value=1, max_value=5000),
    base=st.floats(min_value=0.001, max_value=10),
    cap_factor=st.floats(min_value=1, max_value=1000),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_is_full_jitter_under_an_exponential_ceiling(
    attempt: int, base: float, cap_factor: float, draw: float
) -> None:
    cap = base * cap_factor
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    delay = backoff_delay(attempt, base, cap, lambda: draw)
    assert 0 <= delay <= ceiling
    assert delay == pytest.approx(ceiling * draw)


def test_backoff_ceiling_doubles_then_stops_at_the_cap() -> None:
    top = [backoff_delay(n, 0.5, 10.0, lambda: 1.0) for n in range(1, 8)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    with pytest.raises(ValueError):
        backoff_delay(0, 0.5, 10.0, lambda: 0.5)


@pytest.mark.parametrize(
    ("body", "ticket_id"),
    [
        (b'{"id": "WO1"}', "WO1"),
        (b'{"ticket_id": 42}', "42"),
        (b'{"id": "", "ticket_id": "T9"}', "T9"),
        (b'{"id": true}', None),
        (b"[1]", None),
        (b"not json", None),
        (b"\xff", None),
        (b"", None),
    ],
)
def test_parse_ticket_id(body: bytes, ticket_id: str | None) -> None:
    assert parse_ticket_id(body) == ticket_id


@pytest.mark.parametrize(
    "changes",
    [
        {"backend_url": "backend:8080"},
        {"backend_url": "https://user:secret@backend.test/"},
        {"request_timeout_s": 0},
        {"backoff_cap_s": 0.5, "backoff_base_s": 1.0},
        {"max_in_flight": 0},
        {"lease_s": 5.0, "request_timeout_s": 5.0},
    ],
)
def test_sender_settings_refuse_bad_values(changes: dict[str, object]) -> None:
    values: dict[str, object] = {"backend_url": "http://127.0.0.1:9/", **changes}
    with pytest.raises(SenderConfigError):
        SenderSettings(**values)  # type: ignore[arg-type]
