"""A return visit (回访) an agent makes: preview's Call, end to end on pbxsim.

The visit needs a person; the agent presses Call: the seat phone rings
first, then the citizen behind the carrier trunk, shown the hotline's
number.  The call is a call out tied to the ticket, and its end is the
visit's attempt, delivered to the backend with the call, the agent and the
recording.  Refusals (outside the window, the dial rules, a visit already
being called, an unknown one) are one-line errors that leave the visit as
it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pbxsim import PhoneScript, RemoteScript
from tests.faces_support import eventually, role_env
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.outbound

CITIZEN = "13900003333"
SEAT_PHONE = "8001"
SUMMARY = "小区路灯不亮，已由城管局处理"


def settings(data: Any) -> None:
    data["return_visits"]["dial_every_seconds"] = 3600
    # The tests run at any hour: quiet hours are tested on a virtual clock elsewhere.
    data["callbacks"]["quiet_hours"] = {"start": "00:00", "end": "00:00"}


async def ask(stack: Stack, token: str, ticket: str, number: str = CITIZEN, **shift: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    body = {
        "ticket_id": ticket,
        "number": number,
        "due_from": (now + dt.timedelta(**shift) - dt.timedelta(hours=1)).isoformat(),
        "due_until": (now + dt.timedelta(**shift) + dt.timedelta(days=2)).isoformat(),
        "survey": "satisfaction",
        "person_required": True,
        "summary": SUMMARY,
    }
    status, reply = await stack.api("POST", "/api/return-visits", token=token, json=body)
    assert status == 201, reply


async def visit_status(stack: Stack, ticket: str) -> str:
    row = await stack.db.fetchrow("SELECT status FROM return_visits WHERE ticket_id = $1", ticket)
    return str(row["status"])


async def test_an_agent_calls_a_return_visit_and_its_result_carries_the_call(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    phone = PhoneScript(SEAT_PHONE, answer_after=0.5, hangup_after=3.0)
    sim = {"remotes": (RemoteScript(CITIZEN, trunk="carrier", answer_after=1.0),)}
    patches = {"outbound.yaml": settings}
    async with running_stack(
        tmp_path, empty_dsn, patches=patches, phones=[phone], sim_options=sim
    ) as stack:
        await ask(stack, sup, "WO-7")
        token = await stack.login("1001", "s01")
        status, body = await stack.api("POST", "/api/return-visits/WO-7/call", token=token)
        assert status == 200, body
        assert body["return_visit"] == "WO-7" and body["number"] == CITIZEN
        assert body["presented_number"] == "12345"
        call_id = body["call_id"]
        assert await visit_status(stack, "WO-7") == "calling"
        status, again = await stack.api("POST", "/api/return-visits/WO-7/call", token=token)
        assert status == 409 and again["error"] == "busy", again

        (call,) = await stack.wait_ended(1, timeout=30)
        assert call.call_id == call_id
        row = await stack.call_row(call_id)
        assert row["outcome"] == "answered" and row["first_agent"] == "1001"
        assert row["tags"]["direction"] == "outbound"
        assert row["tags"]["return_visit"] == "WO-7"
        assert row["tags"]["kind"] == "return_visit"
        assert row["recording_ref"] == f"{call_id}-1"
        # The agent's seat rang first; once answered, the citizen, shown the hotline's number.
        (ring,) = stack.requests("POST", "/channels")
        assert ring.params["endpoint"] == f"PJSIP/{SEAT_PHONE}"
        assert ring.params["appArgs"] == f"agent,{call_id},1001"
        (create,) = stack.requests("POST", "/channels/create")
        assert create.params["endpoint"] == f"PJSIP/{CITIZEN}@carrier"
        assert create.body["variables"]["CALLERID(num)"] == "12345"
        assert ring.at <= create.at

        # The call's end is the visit's attempt, delivered with the call and its recording.
        await stack.backend.wait_until(
            lambda: len(stack.backend.return_visits.get("WO-7", [])) >= 1, timeout=20
        )
        (sent,) = stack.backend.return_visits["WO-7"]
        assert sent["outcome"] == "reached" and sent["reached"] is True
        assert sent["status"] == "done" and sent["attempt"] == 1
        assert sent["agent"] == "1001" and sent["call_id"] == call_id
        assert sent["recording"] == f"{call_id}-1"
        (result,) = await stack.db.fetch("SELECT call_id, agent FROM return_visit_results")
        assert dict(result) == {"call_id": call_id, "agent": "1001"}
        assert await visit_status(stack, "WO-7") == "done"
        status, done = await stack.api("POST", "/api/return-visits/WO-7/call", token=token)
        assert status == 409 and done["error"] == "closed", done


async def test_a_return_visit_call_that_may_not_be_made_is_refused_in_one_line(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    phone = PhoneScript(SEAT_PHONE, answer_after=0.5)
    patches = {"outbound.yaml": settings}
    async with running_stack(tmp_path, empty_dsn, patches=patches, phones=[phone]) as stack:
        await ask(stack, sup, "WO-8", days=1)  # due from tomorrow
        await ask(stack, sup, "WO-9", number="00441234567")
        token = await stack.login("1001", "s01")
        status, body = await stack.api("POST", "/api/return-visits/WO-8/call", token=token)
        assert status == 409 and body["error"] == "outside_window", body
        assert "\n" not in body["message"]
        status, body = await stack.api("POST", "/api/return-visits/WO-9/call", token=token)
        assert status == 403 and body["error"] == "dial_refused", body
        assert body["message"] == "this number may not be dialled (international)"
        status, body = await stack.api("POST", "/api/return-visits/WO-0/call", token=token)
        assert status == 404 and body["error"] == "unknown", body
        status, body = await stack.api("POST", "/api/return-visits/WO-8/call", token=sup)
        assert status == 403, body

        status, doc = await stack.api("GET", "/api/openapi.json")
        assert status == 200
        op = doc["paths"]["/api/return-visits/{ticket_id}/call"]["post"]
        assert op["operationId"] == "return_visits_call"
        assert {"403", "404", "409"} <= set(op["responses"])

        # Nothing was dialled, and both visits wait as they were.
        assert stack.requests("POST", "/channels") == []
        assert [await visit_status(stack, t) for t in ("WO-8", "WO-9")] == ["pending", "pending"]

        async def audited() -> Any:
            rows = await stack.db.fetch("SELECT actor FROM audit_log WHERE action = 'dial_refused'")
            return rows or None

        assert [r["actor"] for r in await eventually(audited, timeout=10)] == ["1001"]


def short_ring(data: Any) -> None:
    data["outbound"]["originate_timeout"] = 5


async def test_a_call_whose_agent_never_answers_gives_the_visit_back_without_an_attempt(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    phone = PhoneScript(SEAT_PHONE, answer_after=None)
    patches = {"outbound.yaml": settings, "engine.yaml": short_ring}
    async with running_stack(tmp_path, empty_dsn, patches=patches, phones=[phone]) as stack:
        await ask(stack, sup, "WO-6")
        token = await stack.login("1001", "s01")
        status, body = await stack.api("POST", "/api/return-visits/WO-6/call", token=token)
        assert status == 200, body
        (call,) = await stack.wait_ended(1, timeout=30)
        assert (await stack.call_row(call.call_id))["outcome"] == "agent_unreached"
        assert stack.requests("POST", "/channels/create") == []  # the citizen never rang

        async def pending() -> Any:
            return await visit_status(stack, "WO-6") == "pending" or None

        await eventually(pending, timeout=10)
        row = await stack.db.fetchrow(
            "SELECT calling_by, (SELECT count(*) FROM return_visit_results) AS results"
            " FROM return_visits WHERE ticket_id = 'WO-6'"
        )
        assert dict(row) == {"calling_by": None, "results": 0}
        assert "WO-6" not in stack.backend.return_visits
        status, again = await stack.api("POST", "/api/return-visits/WO-6/call", token=token)
        assert status == 200, again


async def test_no_return_visit_call_in_quiet_hours(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    local = dt.datetime.now(ZoneInfo("Asia/Shanghai"))  # calendar.yaml's time zone

    def quiet_now(data: Any) -> None:
        settings(data)
        start, end = local - dt.timedelta(hours=2), local + dt.timedelta(hours=2)
        data["callbacks"]["quiet_hours"] = {
            "start": start.strftime("%H:%M"),
            "end": end.strftime("%H:%M"),
        }

    phone = PhoneScript(SEAT_PHONE, answer_after=0.5)
    patches = {"outbound.yaml": quiet_now}
    async with running_stack(tmp_path, empty_dsn, patches=patches, phones=[phone]) as stack:
        await ask(stack, sup, "WO-4")
        token = await stack.login("1001", "s01")
        status, body = await stack.api("POST", "/api/return-visits/WO-4/call", token=token)
        assert status == 409 and body["error"] == "quiet_hours", body
        assert stack.requests("POST", "/channels") == []
        assert await visit_status(stack, "WO-4") == "pending"
