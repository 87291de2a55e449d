"""The callback list and return visits over the API, end to end: pbxsim, PostgreSQL, the engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, PhoneScript
from tests.faces_support import eventually, parse_exposition, role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.outbound

CALLER = "13800138000"


def no_quiet_hours(data: Any) -> None:
    # The tests run at any hour: quiet hours are tested on a virtual clock elsewhere.
    data["callbacks"]["quiet_hours"] = {"start": "00:00", "end": "00:00"}
    data["callbacks"]["spacing_minutes"] = 0


def short_wait(data: Any) -> None:
    data["queues"]["general"]["max_wait"] = 1


PATCHES = {"outbound.yaml": no_quiet_hours, "queues.yaml": short_wait}


async def test_missed_caller_is_listed_claimed_skipped_and_called_back(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    sup = tokens["supervisor"]
    async with running_stack(
        tmp_path, empty_dsn, patches=PATCHES, phones=[PhoneScript("8001"), PhoneScript("8002")]
    ) as stack:
        # Nobody is logged in: the caller overflows, twice; one entry with both misses.
        for _ in range(2):
            stack.sim.place_call(CallerScript(number=CALLER, name="市民"))
        calls = await stack.wait_ended(2)
        await stack.flushed()
        one = await stack.login("1003", "s01", ready=False)
        two = await stack.login("1004", "s02", ready=False)

        async def listed() -> Any:
            status, rows = await stack.api("GET", "/api/callbacks", token=one)
            assert status == 200, rows
            return rows if rows and len(rows[0]["misses"]) == 2 else None

        (entry,) = await eventually(listed)
        assert entry["number"] == CALLER and entry["status"] == "pending"
        assert {m["call_id"] for m in entry["misses"]} == {c.call_id for c in calls}
        assert {m["reason"] for m in entry["misses"]} == {"overflowed"}
        assert entry["misses"][0]["line"] == "12345" and entry["style"] == "preview"
        assert entry["due"] is True and entry["overdue"] is False
        key = entry["key"]

        async def counted() -> Any:
            status, board = await stack.api("GET", "/api/wallboard", token=tokens["wallboard"])
            assert status == 200, board
            return board if board["total"]["callbacks_open"] == 1 else None

        board = await eventually(counted, timeout=15)
        assert board["callbacks"]["pending"] == 1

        # Offered as work only to a free agent: not while 1003 is paused.
        status, _ = await stack.api(
            "POST", "/api/agents/me/pause", token=one, json={"reason": "training"}
        )
        assert status == 200
        status, offer = await stack.api("GET", "/api/agents/me/next-callback", token=one)
        assert status == 200 and offer == {"entry": None, "reason": "not_idle"}, offer
        status, _ = await stack.api("POST", "/api/agents/me/ready", token=one)
        assert status == 200
        status, offer = await stack.api("GET", "/api/agents/me/next-callback", token=one)
        assert status == 200 and offer["entry"]["key"] == key, offer
        status, body = await stack.api("POST", f"/api/callbacks/{key}/claim", token=one)
        assert status == 200 and body["status"] == "claimed" and body["claimed_by"] == "1003"
        status, offer = await stack.api("GET", "/api/agents/me/next-callback", token=one)
        assert status == 200 and offer == {"entry": None, "reason": "none_due"}, offer
        status, body = await stack.api("POST", f"/api/callbacks/{key}/claim", token=two)
        assert status == 409 and body["message"] == "the callback is claimed by 1003", body
        status, body = await stack.api(
            "POST", f"/api/callbacks/{key}/skip", token=one, json={"reason": "lunch"}
        )
        assert status == 400 and body["field"] == "reason", body
        status, body = await stack.api(
            "POST", f"/api/callbacks/{key}/skip", token=one, json={"reason": "busy_with_ticket"}
        )
        assert status == 200 and body["status"] == "pending"
        assert body["skips"][0]["agent"] == "1003"

        # A supervisor assigns it to 1004, who records the outcome of the call.
        status, body = await stack.api(
            "POST", f"/api/callbacks/{key}/claim", token=sup, json={"agent": "1004"}
        )
        assert status == 200 and body["claimed_by"] == "1004", body
        status, body = await stack.api(
            "POST", f"/api/callbacks/{key}/outcome", token=one, json={"outcome": "reached"}
        )
        assert status == 409 and body["error"] == "not_yours"
        status, body = await stack.api(
            "POST", f"/api/callbacks/{key}/outcome", token=two, json={"outcome": "hello"}
        )
        assert status == 400 and body["field"] == "outcome"
        status, body = await stack.api(
            "POST", f"/api/callbacks/{key}/outcome", token=two, json={"outcome": "reached"}
        )
        assert status == 200 and body["status"] == "done", body
        assert body["attempts"][0]["agent"] == "1004"
        assert body["attempts"][0]["outcome"] == "reached"
        status, body = await stack.api("POST", "/api/callbacks/13800138000@2026-13-01/claim",
                                       token=one)  # fmt: skip
        assert status == 404 and body["error"] == "unknown"
        status, body = await stack.api("POST", "/api/callbacks/nope/claim", token=one)
        assert status == 400 and body["field"] == "key"

        status, rows = await stack.api("GET", "/api/callbacks?status=done", token=sup)
        assert status == 200 and [r["key"] for r in rows] == [key]
        status, rows = await stack.api("GET", "/api/callbacks", token=sup)
        assert status == 200 and rows == []
        status, figures = await stack.api("GET", "/api/callbacks/figures", token=sup)
        assert status == 200, figures
        assert figures["pending"] == 0 and figures["done_today"] == 1
        assert figures["listed_today"] == 1 and figures["in_time_share"] == 1.0
        status, body = await stack.api("GET", "/api/callbacks/figures", token=one)
        assert status == 403
        headers = {"Authorization": f"Bearer {tokens['wallboard']}"}
        async with stack.http.get(stack.url + "/metrics", headers=headers) as r:
            assert r.status == 200
            exposition = parse_exposition(await r.text())
        assert exposition["hotline_callbacks_pending"].value() == 0
        assert exposition["hotline_callbacks_done_today"].value() == 1
        assert exposition["hotline_callbacks_in_time_ratio"].value() == 1.0

        async def on_the_wallboard() -> Any:
            status, board = await stack.api("GET", "/api/wallboard", token=tokens["wallboard"])
            assert status == 200, board
            return board if board["callbacks"] and board["callbacks"]["done_today"] else None

        board = await eventually(on_the_wallboard, timeout=15)
        assert board["callbacks"] == {
            "pending": 0, "overdue": 0, "done_today": 1, "in_time_share": 1.0,
        }  # fmt: skip
        assert board["total"]["callbacks_open"] == 0

        # May I dial?  A refusal is audited.
        status, check = await stack.api(
            "POST", "/api/agents/me/dial-check", token=one, json={"number": "12319"}
        )
        assert status == 200 and check["allowed"] and check["presented_number"] == "12345"
        status, check = await stack.api(
            "POST", "/api/agents/me/dial-check", token=one, json={"number": "00441234567"}
        )
        assert status == 200 and not check["allowed"]
        assert check["message"] == "this number may not be dialled (international)"
        await stack.flushed()
        rows = await stack.db.fetch(
            "SELECT actor, allowed, detail FROM audit_log WHERE action = 'dial_refused'"
        )
        assert [(r["actor"], r["allowed"], r["detail"]["rule"]) for r in rows] == [
            ("1003", False, "international")
        ]


async def test_return_visits_requested_idempotently_and_results_delivered(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    adm, sup = tokens["admin"], tokens["supervisor"]
    now = dt.datetime.now(dt.UTC)
    body = {
        "ticket_id": "WO-2026-0001",
        "number": CALLER,
        "due_from": (now - dt.timedelta(hours=1)).isoformat(),
        "due_until": (now + dt.timedelta(days=2)).isoformat(),
        "survey": "satisfaction",
        "person_required": True,
    }
    async with running_stack(tmp_path, empty_dsn, patches=PATCHES) as stack:
        status, visit = await stack.api("POST", "/api/return-visits", token=adm, json=body)
        assert status == 201, visit
        assert visit["status"] == "pending" and visit["person_required"] is True
        assert visit["number"] == "138****8000"  # administrators see numbers masked
        status, again = await stack.api("POST", "/api/return-visits", token=sup, json=body)
        assert status == 200 and again == {**visit, "number": CALLER}
        status, err = await stack.api(
            "POST", "/api/return-visits", token=adm, json={**body, "number": "13900000000"}
        )
        assert status == 409 and "ticket_id" in err["message"], err
        bad_window = {**body, "ticket_id": "WO-2", "due_until": body["due_from"]}
        status, err = await stack.api("POST", "/api/return-visits", token=adm, json=bad_window)
        assert status == 400 and err == {
            "error": "bad_request",
            "message": "due_until: must be after due_from",
            "field": "due_until",
        }
        status, err = await stack.api(
            "POST",
            "/api/return-visits",
            token=adm,
            json={**body, "ticket_id": "WO-3", "survey": "x"},
        )
        assert status == 400 and err["message"] == "survey: no survey 'x' (known: satisfaction)"
        naive = {**body, "ticket_id": "WO-4", "due_from": "2026-01-01T10:00:00"}
        status, err = await stack.api("POST", "/api/return-visits", token=adm, json=naive)
        assert status == 400 and err["field"] == "due_from"
        agent = await stack.login("1003", "s01", ready=False)
        status, err = await stack.api("POST", "/api/return-visits", token=agent, json=body)
        assert status == 403

        status, rows = await stack.api("GET", "/api/return-visits", token=agent)
        assert status == 200 and [r["ticket_id"] for r in rows] == ["WO-2026-0001"]
        result = {
            "outcome": "reached",
            "answers": [{"question": "satisfied", "answer": "1"}],
            "note": "问题已解决",
        }
        status, done = await stack.api(
            "POST", "/api/return-visits/WO-2026-0001/result", token=agent, json=result
        )
        assert status == 200 and done["status"] == "done", done
        assert done["results"][0]["agent"] == "1003"
        status, err = await stack.api(
            "POST", "/api/return-visits/WO-2026-0001/result", token=agent, json=result
        )
        assert status == 409 and err["message"] == "the return visit is done"
        status, err = await stack.api(
            "POST", "/api/return-visits/WO-none/result", token=agent, json=result
        )
        assert status == 404

        await stack.backend.wait_until(lambda: "WO-2026-0001" in stack.backend.return_visits)
        (sent,) = stack.backend.return_visits["WO-2026-0001"]
        assert sent["outcome"] == "reached" and sent["agent"] == "1003" and sent["reached"]
        assert sent["answers"] == [{"question": "satisfied", "answer": "1"}]
        assert sent["caller"] == {"number": CALLER} and sent["note"] == "问题已解决"
