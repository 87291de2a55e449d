"""The agent, supervisor and admin API end to end: pbxsim, PostgreSQL, the engine, live sockets.

Each test drives the API over real sockets and checks what the engine did,
what the live sockets pushed, and what reached the database (audit rows,
callbacks, the ticket outbox).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.tickets import TicketOutbox
from pbxsim import CallerScript, PhoneScript
from tests.faces_support import eventually, live, role_env
from tests.support.backend import sample_ticket
from tests.support.stack import running_stack

pytestmark = pytest.mark.faces

CALLER = "13800138000"
NAME = "张三市民"


def _ringing(msg: dict[str, Any]) -> bool:
    return msg.get("type") == "state" and (msg.get("call") or {}).get("state") == "ringing"


def _state(state: str, status: str | None = None) -> Any:
    def check(msg: dict[str, Any]) -> bool:
        agent = msg.get("agent") or {}
        return (
            msg.get("type") == "state"
            and agent.get("state") == state
            and (status is None or agent.get("status") == status)
        )

    return check


async def test_agent_pop_history_repeat_flag_pause_and_logout(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    phones = [PhoneScript("8001", answer_after=2.0), PhoneScript("8002")]
    async with running_stack(tmp_path, empty_dsn, phones=phones) as stack:
        token = await stack.login("1003", "s01")
        other = await stack.login("1004", "s02", ready=False)
        status, _ = await stack.api(
            "POST", "/api/agents/me/pause", token=other, json={"reason": "training"}
        )
        assert status == 200
        async with live(stack.http, stack.url.replace("http", "ws") + "/ws/agent", token) as ws:
            first = await ws.next()
            assert first["type"] == "state" and first["agent"]["status"] == "ready"
            assert first["agent"]["since"] is not None and first["call"] is None

            stack.sim.place_call(CallerScript(number=CALLER, name=NAME, hangup_after_bridged=3))
            pop = await ws.until(_ringing)
            call = pop["call"]
            assert (call["caller_number"], call["caller_name"]) == (CALLER, NAME)
            assert call["dialled"] == "12345" and call["queue"] == "general"
            assert pop["agent"]["state"] == "ringing"
            status, history = await stack.api(
                "GET", f"/api/calls/{call['call_id']}/history", token=token
            )
            assert status == 200, history
            assert history["repeat_caller"] is False and history["calls"] == []
            assert history["complete"] is True and history["window_hours"] == 24

            # Only the agent of the call may see its history: a colleague gets 403.
            status, body = await stack.api(
                "GET", f"/api/calls/{call['call_id']}/history", token=other
            )
            assert status == 403, body
            status, body = await stack.api("GET", "/api/calls/c-nope/history", token=token)
            assert status == 404 and body["error"] == "unknown_call"
            status, body = await stack.api("GET", "/api/calls/bad%20id/history", token=token)
            assert status == 400 and body["field"] == "call_id"

            await ws.until(_state("on_call"))
            (ended,) = await stack.wait_ended(1)
            await ws.until(_state("wrapup"))
            status, view = await stack.api("POST", "/api/agents/me/wrapup/end", token=token)
            assert status == 200 and view["state"] == "idle", view
            status, body = await stack.api("POST", "/api/agents/me/wrapup/end", token=token)
            assert status == 409 and body["error"] == "not_in_wrapup"
            await stack.flushed()

            # The same number again: the pop says repeat caller, with the first call
            # and its ticket in the history.
            stack.sim.place_call(CallerScript(number=CALLER, name=NAME, hangup_after_bridged=3))
            pop = await ws.until(_ringing)
            assert pop["call"]["call_id"] != ended.call_id
            status, history = await stack.api(
                "GET", f"/api/calls/{pop['call']['call_id']}/history", token=token
            )
            assert status == 200, history
            assert history["repeat_caller"] is True and history["calls_in_window"] == 1
            (past,) = history["calls"]
            assert past["call_id"] == ended.call_id and past["outcome"] == "answered"
            assert past["first_agent"] == "1003"
            (ticket,) = history["tickets"]
            assert ticket["call_id"] == ended.call_id and ticket["kind"] == "call"
            await stack.wait_ended(2)

            # Pause with a configured reason; unknown and engine-only reasons are 400s.
            status, body = await stack.api(
                "POST", "/api/agents/me/pause", token=token, json={"reason": "nap"}
            )
            assert status == 400 and body["field"] == "reason"
            status, body = await stack.api(
                "POST", "/api/agents/me/pause", token=token, json={"reason": "rona"}
            )
            assert status == 400 and body["field"] == "reason"
            status, body = await stack.api("POST", "/api/agents/me/pause", token=token, json={})
            assert status == 400 and body["field"] == "reason"
            status, view = await stack.api(
                "POST", "/api/agents/me/pause", token=token, json={"reason": "meeting"}
            )
            assert status == 200 and view["status"] == "paused" and view["reason"] == "meeting"
            await ws.until(lambda m: (m.get("agent") or {}).get("reason") == "meeting")

            status, directory = await stack.api("GET", "/api/agents/me/directory", token=token)
            assert status == 200
            assert "rona" not in {r["id"] for r in directory["pause_reasons"]}
            assert {"110", "119", "120"} <= {e["number"] for e in directory["emergency"]}
            assert "city_management" in {p["id"] for p in directory["parallel"]}

            status, _ = await stack.api("POST", "/api/agents/me/logout", token=token)
            assert status == 200
            await ws.until(lambda m: m.get("type") == "logged_out")
            closing = await ws.ws.receive()
            assert ws.ws.close_code == 4000, closing
        status, body = await stack.api("GET", "/api/agents/me", token=token)
        assert status == 401, body


async def test_login_rules(tmp_path: Path, empty_dsn: str) -> None:
    async with running_stack(tmp_path, empty_dsn) as stack:
        login = {"agent": "1003", "pin": "1003", "seat": "s01"}
        status, body = await stack.api("POST", "/api/agents/login", json={**login, "pin": "9"})
        assert status == 401 and body["error"] == "bad_credentials"
        status, body = await stack.api("POST", "/api/agents/login", json={**login, "seat": "s99"})
        assert status == 400 and body["field"] == "seat"
        status, body = await stack.api("POST", "/api/agents/login", json={"agent": "1003"})
        assert status == 400 and body["field"] == "pin"
        status, first = await stack.api("POST", "/api/agents/login", json=login)
        assert status == 200 and first["status"] == "ready" and first["seat"] == "s01"
        # The same seat again (a lost tab): a new session replaces the old one,
        # and the old session's live socket is told so.
        url = stack.url.replace("http", "ws") + "/ws/agent"
        async with live(stack.http, url, first["token"]) as ws:
            await ws.next()
            status, second = await stack.api("POST", "/api/agents/login", json=login)
            assert status == 200 and second["token"] != first["token"]
            await ws.until(lambda m: m.get("type") == "logged_out")
        status, _ = await stack.api("GET", "/api/agents/me", token=first["token"])
        assert status == 401
        status, body = await stack.api("POST", "/api/agents/login", json={**login, "seat": "s02"})
        assert status == 409 and body["error"] == "already_logged_in"


async def test_supervisor_forces_states_audited_and_sees_callbacks(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    sup = tokens["supervisor"]

    def short_wait(data: Any) -> None:
        data["queues"]["general"]["max_wait"] = 1

    async with running_stack(
        tmp_path, empty_dsn, patches={"queues.yaml": short_wait}, phones=[PhoneScript("8001")]
    ) as stack:
        # Nobody is logged in: the caller overflows to the callback list.
        stack.sim.place_call(CallerScript(number=CALLER, name=NAME))
        (call,) = await stack.wait_ended(1)
        await stack.flushed()
        status, rows = await stack.api("GET", "/api/supervisor/callbacks", token=sup)
        assert status == 200, rows
        (entry,) = rows
        assert entry["call_id"] == call.call_id and entry["caller_number"] == CALLER
        assert entry["status"] == "open" and entry["queue"] == "general"
        status, rows = await stack.api("GET", "/api/supervisor/callbacks?status=done", token=sup)
        assert status == 200 and rows == []
        status, body = await stack.api("GET", "/api/supervisor/callbacks?status=x", token=sup)
        assert status == 400 and body["field"] == "status"
        status, body = await stack.api("GET", "/api/supervisor/callbacks?limit=0", token=sup)
        assert status == 400 and body["field"] == "limit"

        token = await stack.login("1003", "s01")
        status, agents = await stack.api("GET", "/api/supervisor/agents", token=sup)
        assert status == 200
        board = {a["agent"]: a for a in agents}
        assert board["1003"]["status"] == "ready" and board["1003"]["seat"] == "s01"
        assert board["1001"]["role"] == "supervisor" and board["1001"]["status"] == "logged_out"
        assert len(board) == 35

        async with live(stack.http, stack.url.replace("http", "ws") + "/ws/agent", token) as ws:
            await ws.next()
            path = "/api/supervisor/agents/1003"
            status, view = await stack.api(
                "POST", f"{path}/pause", token=sup,
                json={"reason": "班前会", "pause_reason": "meeting"},
            )  # fmt: skip
            assert status == 200 and view["status"] == "paused" and view["reason"] == "meeting"
            await ws.until(lambda m: (m.get("agent") or {}).get("reason") == "meeting")
            status, body = await stack.api(
                "POST", f"{path}/pause", token=sup, json={"reason": "x", "pause_reason": "rona"}
            )
            assert status == 400 and body["field"] == "pause_reason"
            status, body = await stack.api("POST", f"{path}/ready", token=sup, json={})
            assert status == 400 and body["field"] == "reason"
            status, body = await stack.api(
                "POST", "/api/supervisor/agents/9999/ready", token=sup, json={"reason": "x"}
            )
            assert status == 404 and body["error"] == "unknown_agent"
            status, body = await stack.api(
                "POST", "/api/supervisor/agents/abc/ready", token=sup, json={"reason": "x"}
            )
            assert status == 400 and body["field"] == "agent"
            status, view = await stack.api(
                "POST", f"{path}/logout", token=sup, json={"reason": "下班未签出"}
            )
            assert status == 200 and view["status"] == "logged_out"
            await ws.until(lambda m: m.get("type") == "logged_out")
        status, _ = await stack.api("GET", "/api/agents/me", token=token)
        assert status == 401
        status, body = await stack.api("POST", f"{path}/ready", token=sup, json={"reason": "试"})
        assert status == 409 and body["error"] == "not_logged_in"

        await stack.flushed()
        audit = await stack.db.fetch(
            "SELECT actor, role, action, target, allowed, detail FROM audit_log"
            " WHERE action LIKE 'agent_force_%' ORDER BY id"
        )
        assert [(a["action"], a["allowed"]) for a in audit] == [
            ("agent_force_pause", True),
            ("agent_force_logout", True),
            ("agent_force_ready", False),
        ]
        assert all(a["actor"] == "supervisor-one" and a["role"] == "supervisor" for a in audit)
        assert audit[0]["target"] == "agent:1003"
        assert audit[0]["detail"] == {"reason": "班前会", "pause_reason": "meeting"}
        assert audit[2]["detail"]["refused"] == "not_logged_in"


async def test_admin_rejected_tickets_resend_and_config(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = role_env(monkeypatch)["admin"]
    async with running_stack(tmp_path, empty_dsn) as stack:
        stack.backend.fail_with(422)
        outbox = TicketOutbox(stack.db)
        row_id = await outbox.enqueue(sample_ticket("c-20240506-rejected1"))

        async def rejected() -> list[Any]:
            status, rows = await stack.api("GET", "/api/admin/tickets/rejected", token=admin)
            assert status == 200, rows
            return rows

        (row,) = await eventually(rejected, timeout=10)
        assert row["id"] == row_id and row["response_status"] == 422
        assert row["caller"] == "138****8000"
        assert row["payload"]["caller"]["number"] == "138****8000"

        await stack.backend.recover()
        bad = {"payload": {"call_id": "c-20240506-rejected1"}}
        status, body = await stack.api(
            "POST", f"/api/admin/tickets/{row_id}/resend", token=admin, json=bad
        )
        assert status == 400 and body["field"].startswith("payload."), body
        status, body = await stack.api(
            "POST", f"/api/admin/tickets/{row_id}/resend", token=admin, json={}
        )
        assert status == 200 and body["status"] == "pending", body
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) >= 2)
        status, body = await stack.api(
            "POST", f"/api/admin/tickets/{row_id}/resend", token=admin, json={}
        )
        assert status == 409 and body["error"] == "not_rejected"
        status, body = await stack.api(
            "POST", "/api/admin/tickets/424242/resend", token=admin, json={}
        )
        assert status == 404
        status, body = await stack.api("POST", "/api/admin/tickets/0/resend", token=admin)
        assert status == 400 and body["field"] == "outbox_id"
        resend = await stack.db.fetch("SELECT actor FROM audit_log WHERE action = 'ticket_resend'")
        assert [r["actor"] for r in resend] == ["admin-one"]

        status, body = await stack.api("POST", "/api/admin/config/validate", token=admin)
        assert status == 200 and body == {"valid": True, "issues": []}
        status, body = await stack.api("POST", "/api/admin/config/reload", token=admin)
        assert status == 200 and body["status"] == "unchanged", body
        status, versions = await stack.api("GET", "/api/admin/config/versions", token=admin)
        assert status == 200 and versions[0]["digest"] == body["version"]["digest"]
