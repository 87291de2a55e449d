"""The writer hook: the engine's ticket record into the outbox, in the final call transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from cti.tickets import (
    RowStatus,
    SenderSettings,
    TicketKind,
    TicketOutbox,
    TicketSender,
    make_outbox_hook,
    outbox_hook,
    ticket_from_engine,
)
from tests.support.backend import TicketBackend, eventually, open_db, sample_ticket

pytestmark = pytest.mark.tickets

# Short backoffs and polls, so the tests run fast; a request timeout and a lease
# that a loaded machine's stalls do not reach, so nothing is re-sent by accident.
FAST: dict[str, Any] = {
    "request_timeout_s": 5.0,
    "connect_timeout_s": 0.3,
    "backoff_base_s": 0.01,
    "backoff_cap_s": 0.1,
    "poll_interval_s": 0.2,
    "lease_s": 10.0,
}


def engine_record(call_id: str = "1714987800.7", **changes: Any) -> dict[str, Any]:
    """A finished call's ticket record in the shape the engine's writer carries."""
    record: dict[str, Any] = {
        "call_id": call_id,
        "kind": "call",
        "caller_number": "13800138000",
        "caller_name": "",
        "dialled": "85098110",
        "original_number": "85098110",
        "department": "文广旅局",
        "line_name": "旅游投诉",
        "menu_path": [
            {
                "menu": "main",
                "node": "topics",
                "result": "chosen",
                "keys": "1",
                "at": "2024-05-06T09:30:03+00:00",
            }
        ],
        "tags": {"merged": "1", "vip": True},
        "queue": "general",
        "first_agent": "a1001",
        "agents": ["a1001", "a1002"],
        "arrived_at": "2024-05-06T09:30:00+00:00",
        "answered_at": "2024-05-06T09:30:12+00:00",
        "ended_at": "2024-05-06T09:33:20+00:00",
        "rating": 5,
        "rating_label": "非常满意",
        "recording": f"{call_id}-1",
        "legs": [
            {"kind": "recording", "name": f"{call_id}-1", "at": "2024-05-06T09:30:12+00:00"},
            {
                "kind": "blind",
                "target": "12319",
                "started_by": "a1001",
                "started_at": "2024-05-06T09:32:00+00:00",
                "outcome": "completed",
                "duration_s": 3.5,
            },
        ],
    }
    record.update(changes)
    return record


def test_the_engine_record_maps_onto_the_ticket() -> None:
    ticket = ticket_from_engine(
        engine_record(), recording_base_url="https://cti.test/api/recordings"
    )
    assert ticket.kind is TicketKind.CALL
    assert ticket.caller.number == "13800138000"
    assert ticket.merged_line is not None and ticket.merged_line.department == "文广旅局"
    assert (ticket.agents.first_contact, ticket.agents.others) == ("a1001", ["a1002"])
    assert ticket.menu_path[0].keys == "1"
    assert ticket.tags == {"merged": "1", "vip": "true"}
    assert ticket.rating is not None and (ticket.rating.level, ticket.rating.label) == (
        5,
        "非常满意",
    )
    assert [(leg.kind, leg.target) for leg in ticket.transfers] == [("blind", "12319")]
    assert ticket.recording_url == "https://cti.test/api/recordings/1714987800.7"


def test_a_malformed_leg_is_skipped_not_fatal() -> None:
    bad_leg = {"kind": "attended", "target": "a1003"}
    with capture_logs() as logs:
        ticket = ticket_from_engine(engine_record(legs=[bad_leg]))
    assert ticket.transfers == []
    assert [e["event"] for e in logs] == ["ticket_leg_skipped"]


def test_a_callback_request_defaults_to_the_callers_number() -> None:
    record = engine_record(kind="callback", answered_at=None, first_agent=None, agents=[])
    ticket = ticket_from_engine(record)
    assert ticket.callback_number == "13800138000"
    assert ticket.recording_url is None  # no base URL configured


def test_a_bad_recording_base_url_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="absolute"):
        make_outbox_hook(recording_base_url="recordings/")


async def test_the_hook_enqueues_in_the_writers_transaction_and_parks_bad_records(
    empty_dsn: str,
) -> None:
    async with open_db(empty_dsn) as db, TicketBackend() as backend:
        outbox = TicketOutbox(db)
        broken = engine_record("1714987800.8", dialled="", answered_at=None)
        with capture_logs() as logs:
            for record in (engine_record(), broken):
                async with db.connection() as conn, conn.transaction():
                    await conn.execute(
                        "INSERT INTO calls (call_id, arrived_at) VALUES ($1, now())",
                        record["call_id"],
                    )
                    await outbox_hook(conn, record)
        calls = await db.fetch("SELECT call_id FROM calls ORDER BY call_id")
        assert [c["call_id"] for c in calls] == ["1714987800.7", "1714987800.8"]
        [parked] = await outbox.list_rejected()
        assert parked.call_id == "1714987800.8"
        assert parked.last_error is not None and "dialled" in parked.last_error
        assert parked.payload["caller_number"] == "13800138000"
        [invalid] = [e for e in logs if e["event"] == "ticket_invalid"]
        assert "13800138000" not in json.dumps(invalid, ensure_ascii=False)

        sender = TicketSender(db, SenderSettings(backend_url=backend.url, **FAST))
        async with sender:

            async def all_out() -> bool:
                return await outbox.depth() == 0

            await eventually(all_out)
            fixed = sample_ticket("1714987800.8")
            await outbox.resend(parked.id, by="admin1", payload=fixed)
            await eventually(all_out)
        assert (await outbox.get(parked.id)).status is RowStatus.DELIVERED
        assert [r.key for r in backend.received] == ["1714987800.7", "1714987800.8"]
        assert backend.received[0].body == ticket_from_engine(engine_record()).body()
        tickets = await db.fetch("SELECT ticket_id FROM calls ORDER BY call_id")
        assert [t["ticket_id"] for t in tickets] == ["WO000001", "WO000002"]
