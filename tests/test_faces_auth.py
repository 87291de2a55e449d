"""Who may do what: every role against every endpoint, as the OpenAPI document declares.

For each operation of ``/api/openapi.json`` with ``x-roles``, each principal
(no token, a wrong token, an agent, a supervisor, a quality inspector, an
admin, the wallboard) calls it: without a valid token the answer is 401, a
role not listed is 403, a listed role gets past authorisation (anything but
401/403; unknown ids give 404, bad bodies 400).  Then: an agent acting on a
colleague's call gets 403, and the live sockets refuse the wrong roles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pbxsim import CallerScript, PhoneScript
from tests.faces_support import live, role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.faces

PRINCIPALS = ("none", "bogus", "agent", "supervisor", "quality_inspector", "admin", "wallboard")
PARAMS = {
    "call_id": "c-unknown-1",
    "agent": "9999",
    "outbox_id": "424242",
    "action": "join",
    "alarm_id": "424242",
    "key": "13800138000@2026-01-01",
    "ticket_id": "WO-unknown-1",
    "name": "node-unknown",
}


async def _call(stack: Any, method: str, path: str, token: str | None, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.request(method, stack.url + path, json=body, headers=headers) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    ops = [
        (method.upper(), path, op["x-roles"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if op["x-roles"]
    ]
    # The agent's own logout ends the agent's session: it goes last.
    return sorted(ops, key=lambda o: o[1] == "/api/agents/me/logout")


async def test_every_role_against_every_endpoint(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens: dict[str, str | None] = {**role_env(monkeypatch), "none": None, "bogus": "nope"}
    async with running_stack(tmp_path, empty_dsn) as stack:
        tokens["agent"] = await stack.login("1003", "s01")
        status, doc = await stack.api("GET", "/api/openapi.json")
        assert status == 200
        operations = _operations(doc)
        classes = {tuple(sorted(roles)) for _, _, roles in operations}
        assert len(operations) >= 30 and len(classes) >= 5, classes
        checked = 0
        for method, template, roles in operations:
            path = template
            for name, value in PARAMS.items():
                path = path.replace("{" + name + "}", value)
            for who in PRINCIPALS:
                body = {} if method == "POST" else None
                status, answer = await _call(stack, method, path, tokens[who], body)
                where = f"{who} {method} {template}: {status} {answer}"
                if who in ("none", "bogus"):
                    assert status == 401, where
                elif who not in roles:
                    assert status == 403, where
                else:
                    assert status not in (401, 403, 500), where
                assert isinstance(answer, dict) or status == 200, where
                checked += 1
        assert checked == len(operations) * len(PRINCIPALS)

        # Public: the document, health, and the login itself.
        for path in ("/api/openapi.json", "/healthz"):
            status, _ = await stack.api("GET", path)
            assert status == 200, path


async def test_an_agent_acts_only_on_their_own_call(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn, phones=[PhoneScript("8001")]) as stack:
        mine = await stack.login("1003", "s01")
        theirs = await stack.login("1004", "s02", ready=False)
        await stack.api("POST", "/api/agents/me/pause", token=theirs, json={"reason": "training"})
        async with live(stack.http, stack.url.replace("http", "ws") + "/ws/agent", mine) as ws:
            handle = stack.sim.place_call(
                CallerScript(number="13800138000", hangup_after_bridged=30)
            )
            msg = await ws.until(lambda m: (m.get("call") or {}).get("state") == "talking")
            call_id = msg["call"]["call_id"]
            for method, path in (
                ("GET", f"/api/calls/{call_id}/history"),
                ("POST", f"/api/calls/{call_id}/hold"),
                ("POST", f"/api/calls/{call_id}/mute"),
                ("GET", f"/api/calls/{call_id}/transfer"),
            ):
                status, body = await stack.api(method, path, token=theirs)
                assert status == 403, (method, path, body)
            status, body = await stack.api("GET", f"/api/calls/{call_id}/history", token=mine)
            assert status == 200, body
            status, body = await stack.api("GET", "/api/agents/me/call", token=theirs)
            assert status == 404 and body["error"] == "no_call"
            stack.sim.hangup_call(handle)
            await stack.wait_ended(1)


async def _refused_socket(http: aiohttp.ClientSession, url: str, token: str) -> int | None:
    async with http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": token}))
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "error"
        await ws.receive(timeout=5)
        return ws.close_code


async def test_live_sockets_admit_only_their_roles(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        agent = await stack.login("1003", "s01")
        base = stack.url.replace("http", "ws")
        for role in ("supervisor", "quality_inspector", "admin", "wallboard"):
            assert await _refused_socket(stack.http, base + "/ws/agent", tokens[role]) == 4403
            async with live(stack.http, base + "/ws/wallboard", tokens[role]) as ws:
                first = await ws.next()
                assert first["type"] == "wallboard" and "total" in first["wallboard"]
        assert await _refused_socket(stack.http, base + "/ws/wallboard", agent) == 4403
        assert await _refused_socket(stack.http, base + "/ws/agent", "nope") == 4401
        assert await _refused_socket(stack.http, base + "/ws/wallboard", "") == 4401
        # Plain HTTP on a socket endpoint: 426, as documented.
        status, body = await stack.api("GET", "/ws/wallboard")
        assert status == 426 and body["error"] == "upgrade_required"
