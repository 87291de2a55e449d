"""The engine against someone hostile on the outside: guessing, floods, bad input, probes.

Each test stands for one finding of a review from the outside and fails on
an engine without its remedy:

* logins: wrong PINs and wrong bearer tokens are throttled per account and
  per address (429 with Retry-After, a correct PIN refused during the
  lock-out, one audit row per lock-out), PIN checks run on their own
  bounded threads, and an unknown agent costs a PIN check like a known one;
* audit: NUL in a supervisor's reason is refused before the agent changes;
  strangers' rows are bounded in size and rate; refusals on protected
  resources (recording lists, a monitor that is not there, an unsatisfiable
  range) are audited with their real outcome; a reload that cannot read its
  directory is a 422 with a row;
* input: deep or huge JSON is a 400 / 413, never a 500, and a bad first
  message on a live socket closes it with a WebSocket code;
* connections: unfinished request heads time out, one address holds a
  bounded number of connections, a socket upgrade with a wrong token is
  refused at the upgrade;
* logs and headers: the access log masks numbers and drops tokens; no
  Referer leaves a page; API answers are not stored; the Server header
  names no version; the wallboard token lives in the tab's sessionStorage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.faces_support import ROLE_TOKENS, chromium, role_env
from tests.support.stack import Stack, running_stack
from tests.test_recordings_access import WAV, Site, seed_call, seed_stored
from tests.test_recordings_access import site as site  # the fixture

pytestmark = pytest.mark.security

SUPERVISOR = ROLE_TOKENS["supervisor"]
ADMIN = ROLE_TOKENS["admin"]
WALLBOARD = ROLE_TOKENS["wallboard"]


def security(**values: Any) -> dict[str, Callable[[Any], None]]:
    """A patch of engine.yaml ``security``."""

    def patch(data: Any) -> None:
        for key, value in values.items():
            data.setdefault("security", {})[key] = value

    return {"engine.yaml": patch}


async def raw(
    stack: Stack,
    method: str,
    path: str,
    *,
    token: str | None = None,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    async with stack.http.request(method, stack.url + path, data=data, headers=sent) as r:
        text = await r.text(errors="replace")
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return r.status, dict(r.headers), body


async def login(stack: Stack, agent: str, pin: str, seat: str = "s01") -> tuple[int, Any, Any]:
    body = json.dumps({"agent": agent, "pin": pin, "seat": seat})
    status, headers, answer = await raw(stack, "POST", "/api/agents/login", data=body)
    return status, headers, answer


async def audit_rows(stack: Stack, where: str = "TRUE", *args: Any) -> list[dict[str, Any]]:
    await stack.flushed()
    rows = await stack.db.fetch(
        "SELECT actor, role, action, target, allowed, detail FROM audit_log"
        f" WHERE {where} ORDER BY id",
        *args,
    )
    for row in rows:
        if isinstance(row["detail"], str):
            row["detail"] = json.loads(row["detail"])
    return rows


# -- logins ---------------------------------------------------------------------------


async def test_wrong_pins_lock_the_account_and_even_the_right_pin_is_refused(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        for _ in range(5):
            status, _, body = await login(stack, "1003", "9999")
            assert status == 401, body
        status, headers, body = await login(stack, "1003", "9999")
        assert status == 429 and body["error"] == "too_many_attempts", body
        assert int(headers["Retry-After"]) > 60
        status, headers, body = await login(stack, "1003", "1003")  # the right PIN
        assert status == 429 and int(headers["Retry-After"]) > 60, body
        # Another agent at the same address is not locked out by a colleague's typos.
        status, _, body = await login(stack, "1004", "1004", seat="s02")
        assert status == 200, body

        rows = await audit_rows(stack, "action = 'agent_login'")
        assert len(rows) == 6, rows  # five failures, the first refusal of the lock-out
        assert all(not r["allowed"] and r["target"] == "agent:1003" for r in rows)
        assert rows[4]["detail"]["locked"] == ["agent:1003"]
        assert rows[5]["detail"]["reason"] == "locked_out"
        # More guesses during the lock-out: refused, and no more rows (one per lock-out).
        for _ in range(20):
            status, _, _ = await login(stack, "1003", "1234")
            assert status == 429
        assert len(await audit_rows(stack, "action = 'agent_login'")) == 6


async def test_supervisors_logging_in_as_persons_are_throttled_as_agents_are(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)

    async def person(password: str) -> tuple[int, Any, Any]:
        body = json.dumps({"person": "1001", "password": password})
        return await raw(stack, "POST", "/api/persons/login", data=body)

    async with running_stack(tmp_path, empty_dsn) as stack:
        for _ in range(5):
            status, _, body = await person("9999")
            assert status == 401 and body["error"] == "bad_credentials", body
        status, headers, body = await person("1001")  # the right password, too late
        assert status == 429 and int(headers["Retry-After"]) > 60, body
        rows = await audit_rows(stack, "action = 'person_login'")
        assert [r["target"] for r in rows] == ["person:1001"] * 6
        assert rows[4]["detail"]["locked"] == ["person:1001"]
        assert rows[5]["detail"]["reason"] == "locked_out"


async def test_wrong_bearer_tokens_lock_the_address_for_every_role(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    limit = {"failures": 5, "window_seconds": 900, "lockout_seconds": 600}
    async with running_stack(
        tmp_path, empty_dsn, patches=security(login_per_address=limit)
    ) as stack:
        status, _, _ = await raw(stack, "GET", "/api/supervisor/agents", token=SUPERVISOR)
        assert status == 200
        seated = await stack.login("1003", "s01", ready=False)
        for guess in range(5):
            status, _, body = await raw(stack, "GET", "/api/supervisor/agents", token=f"g{guess}")
            assert status == 401, body
        status, headers, body = await raw(stack, "GET", "/api/supervisor/agents", token="g5")
        assert status == 429 and 500 < int(headers["Retry-After"]) <= 600, body
        # The right tokens and the right PIN from this address: refused until the lock ends.
        for token in (SUPERVISOR, ADMIN, WALLBOARD):
            status, _, _ = await raw(stack, "GET", "/api/supervisor/agents", token=token)
            assert status == 429
        status, _, _ = await login(stack, "1004", "1004", seat="s02")
        assert status == 429
        # A live agent session cannot be guessed: the seat behind this address keeps working.
        status, _, body = await raw(stack, "GET", "/api/agents/me", token=seated)
        assert status == 200 and body["agent"] == "1003", body
        rows = await audit_rows(stack, "action = 'token_refused'")
        assert [(r["target"], r["detail"]["reason"]) for r in rows] == [
            ("address:127.0.0.1", "locked_out")
        ]


async def test_a_flood_of_wrong_pins_gets_bounded_pin_checks_and_unknown_agents_no_cpu(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    from cti.api.logins import PINS

    patches = security(pin_hash_queue=4)
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        pins = stack.engine_process.app[PINS]
        timings = {}
        for agent in ("9876", "1003", "9877", "1004"):  # unknown, known, unknown, known
            start = time.perf_counter()
            status, _, _ = await login(stack, agent, "1234")
            timings[agent] = time.perf_counter() - start
            assert status == 401
        # The first unknown agent calibrates against a throw-away hash; the next one
        # waits as long as a real check takes, without hashing.
        assert (pins.checks, pins.decoys) == (3, 1)
        assert pins.typical_s is not None and pins.typical_s > 0
        print("wrong-PIN answer (s):", {a: round(t, 3) for a, t in timings.items()})

        agents = [f"{n:04d}" for n in range(1001, 1036)]  # every configured agent at once
        answers = await asyncio.gather(*(login(stack, a, "0000") for a in agents))
        statuses = sorted({status for status, _, _ in answers})
        assert set(statuses) <= {401, 429}, statuses
        assert 429 in statuses  # more than the verifier takes at once are turned away
        busy = [h for status, h, _ in answers if status == 429]
        assert all(int(h["Retry-After"]) >= 1 for h in busy)
        assert pins.peak <= pins.workers + pins.queue
        assert pins.busy == len(busy)
        # One attempt at a time per account: a second one at once is turned away unhashed.
        checks = pins.checks
        twice = await asyncio.gather(login(stack, "1010", "0000"), login(stack, "1010", "0000"))
        assert sorted(status for status, _, _ in twice) == [401, 429]
        assert pins.checks == checks + 1


async def test_agents_who_were_not_failing_go_ahead_of_guesses() -> None:
    from cti.api.throttle import PinVerifier
    from cti.config import hash_pin

    encoded = hash_pin("2468", iterations=100_000)
    verifier = PinVerifier(workers=1, queue=8)
    finished: list[str] = []

    async def check(name: str, pin: str, priority: int) -> None:
        matched = await verifier.verify(pin, encoded, priority=priority)
        finished.append(f"{name}:{matched}")

    try:
        first = asyncio.create_task(check("guess-1", "0000", 3))
        await asyncio.sleep(0)  # the first check takes the thread
        queued = [asyncio.create_task(check(f"guess-{n}", "0000", 3)) for n in (2, 3)]
        await asyncio.sleep(0)
        honest = asyncio.create_task(check("honest", "2468", 0))
        await asyncio.wait_for(asyncio.gather(first, *queued, honest), 60)
    finally:
        verifier.close()
    assert finished == ["guess-1:False", "honest:True", "guess-2:False", "guess-3:False"]


# -- audit ---------------------------------------------------------------------------


async def test_nul_in_a_supervisor_reason_is_refused_and_the_agent_does_not_change(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        await stack.login("1003", "s01")
        path = "/api/supervisor/agents/1003/pause"
        for body in (
            json.dumps({"reason": "noisy\u0000line", "pause_reason": "training"}),
            '{"reason": "lone \\ud800 half", "pause_reason": "training"}',
            '{"reason": "ok", "pause_reason": "training", "x\\u0000": 1}',
            '{"reason": "ok", "pause_reason": "training", "k\\udfff": {"a": 1}}',
        ):
            status, _, answer = await raw(stack, "POST", path, token=SUPERVISOR, data=body)
            assert status == 400, answer
        # The bad key is named in the one-line answer, escaped (not a 500 on encoding it).
        assert answer["field"] == "body.k\\udfff", answer
        assert stack.engine.agent_states["1003"].status.value == "ready"
        rows = await audit_rows(stack, "action = 'supervisor_force_pause'")
        assert len(rows) == 4 and not any(r["allowed"] for r in rows)
        assert all(r["detail"]["status"] == 400 for r in rows)

        status, _, answer = await raw(
            stack, "POST", path, token=SUPERVISOR, data='{"reason": "meeting", '
            '"pause_reason": "training"}'
        )  # fmt: skip
        assert status == 200, answer
        forced = await audit_rows(stack, "action = 'agent_force_pause'")
        assert [(r["actor"], r["allowed"], r["detail"]["reason"]) for r in forced] == [
            ("supervisor-one", True, "meeting")
        ]


async def test_strangers_audit_rows_are_bounded_in_size_and_rate(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    patches = security(
        anonymous_audit_per_minute=3,
        anonymous_audit_text=64,
        login_per_account={"failures": 2, "window_seconds": 900, "lockout_seconds": 900},
    )
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        long_id = "c" * 8000
        for _ in range(40):
            status, _, _ = await raw(stack, "GET", f"/api/recordings/{long_id}")
            assert status == 401
        rows = await audit_rows(stack, "actor = 'anonymous'")
        assert 1 <= len(rows) <= 4, len(rows)  # 3 a minute (one more may refill meanwhile)
        assert all(len(r["target"]) <= 65 for r in rows)
        assert all(len(json.dumps(r["detail"])) < 1000 for r in rows)
        # Lock-outs of made-up accounts are as many as a guesser likes: bounded the same
        # way; the lock-out of a real agent is always written.
        for agent in ("7001", "7001", "7001", "7002", "7002", "1003", "1003", "1003"):
            status, _, _ = await login(stack, agent, "0000")
            assert status in (401, 429)
        logins = await audit_rows(stack, "action = 'agent_login'")
        assert {r["target"] for r in logins} == {"agent:1003"}, logins
        assert [r["detail"].get("locked") for r in logins] == [["agent:1003"], None]
        assert logins[1]["detail"]["reason"] == "locked_out"


async def test_refusals_on_protected_resources_are_audited_with_their_outcome(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        status, _, _ = await raw(stack, "GET", "/api/recordings")
        assert status == 401
        status, _, _ = await raw(stack, "GET", "/api/recordings?since=yesterday", token=SUPERVISOR)
        assert status == 400
        status, _, _ = await raw(stack, "DELETE", "/api/calls/c-none/monitor", token=SUPERVISOR)
        assert status == 404
        status, _, _ = await raw(
            stack, "GET", "/api/supervisor/callbacks?limit=0", token=SUPERVISOR
        )
        assert status == 400

        rows = await audit_rows(stack)
        summary = [(r["actor"], r["action"], r["allowed"]) for r in rows]
        assert ("anonymous", "recordings_list", False) in summary, summary
        listed = [r for r in rows if r["action"] == "recording_list"]
        assert [(r["actor"], r["allowed"], r["detail"]["reason"]) for r in listed] == [
            ("supervisor-one", False, "bad_query")
        ]
        stop = [r for r in rows if r["action"] == "call_monitor_stop"]
        assert [(r["actor"], r["allowed"], r["detail"]["status"]) for r in stop] == [
            ("supervisor-one", False, 404)
        ]
        callbacks = [r for r in rows if r["action"] == "supervisor_callbacks"]
        assert [(r["allowed"], r["detail"]["status"]) for r in callbacks] == [(False, 400)]


async def test_an_unsatisfiable_range_is_audited_as_refused(site: Site) -> None:
    now = datetime.now(UTC)
    await seed_call(site.db, "c-300", caller="13900139000", agent="8001", ended_at=now)
    await seed_stored(site.service, "c-300", WAV, started_at=now)
    user = "q1:quality_inspector"
    beyond = await site.get("/api/recordings/c-300", user, Range=f"bytes={len(WAV)}-")
    assert beyond.status == 416 and await beyond.read() == b""
    assert beyond.headers["Content-Range"] == f"bytes */{len(WAV)}"
    broken = await site.get("/api/recordings/c-300", user, Range="bytes=9-3")
    assert broken.status == 416
    whole = await site.get("/api/recordings/c-300", user, Range="bytes=0-")
    assert whole.status == 206 and await whole.read() == WAV
    rows = await site.audit_rows()
    assert [(r["allowed"], r["detail"]["reason"]) for r in rows] == [
        (False, "range_not_satisfiable"),
        (False, "range_not_satisfiable"),
        (True, "role_always"),
    ]


async def test_a_reload_that_cannot_read_its_directory_is_422_and_audited(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        directory = Path(stack.engine_process.manager.directory)
        running = stack.engine.config_version
        shutil.rmtree(directory)
        status, _, body = await raw(stack, "POST", "/api/admin/config/reload", token=ADMIN)
        assert status == 422 and body["status"] == "refused", body
        assert body["issues"] and "\n" not in body["issues"][0]
        await asyncio.to_thread(directory.write_text, "not a directory\n")
        status, _, body = await raw(stack, "POST", "/api/admin/config/reload", token=ADMIN)
        assert status == 422 and body["status"] == "refused", body
        status, _, body = await raw(stack, "POST", "/api/admin/config/validate", token=ADMIN)
        assert status == 200 and body["valid"] is False and body["issues"], body
        assert stack.engine.config_version == running
        rows = await audit_rows(stack, "action = 'config_reload'")
        assert [(r["actor"], r["allowed"], r["detail"]["status"]) for r in rows] == [
            ("admin-one", False, "refused"),
            ("admin-one", False, "refused"),
        ]


# -- hostile input -------------------------------------------------------------------


async def test_deep_or_huge_json_is_refused_without_a_500(
    tmp_path: Path,
    empty_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn, patches=security(json_max_bytes=65536)) as stack:
        deep = "[" * 50_000 + "]" * 50_000
        nested = json.dumps({"agent": "1003", "pin": "1003", "seat": {"a": [[[[[[]]]]]]}})
        for path, token in (
            ("/api/agents/login", None),
            ("/api/supervisor/agents/1003/pause", SUPERVISOR),
            ("/api/admin/tickets/1/resend", ADMIN),
        ):
            for body in ("[" * 40 + "]" * 40, "{" * 30_000, "NaN", deep[:60_000]):
                status, _, answer = await raw(stack, "POST", path, token=token, data=body)
                assert status == 400, (path, body[:20], answer)
            status, _, answer = await raw(stack, "POST", path, token=token, data="x" * 70_000)
            assert status == 413, (path, answer)
        status, _, answer = await raw(stack, "POST", "/api/agents/login", data=nested)
        assert status == 400, answer

        url = stack.url.replace("http", "ws") + "/ws/wallboard"
        for message in (deep[:4000], "[" * 3000, "not json", '{"type": "auth", "token": 7}'):
            async with stack.http.ws_connect(url) as ws:
                await ws.send_str(message)
                msg = await ws.receive(timeout=5)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    assert json.loads(msg.data)["type"] == "error"
                    msg = await ws.receive(timeout=5)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code in (1008, 4401), (message[:10], ws.close_code)
        async with stack.http.ws_connect(url) as ws:
            await ws.send_bytes(b"\x00" * 100)
            await ws.receive(timeout=5)
            await ws.receive(timeout=5)
            assert ws.close_code == 1008
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


# -- connections ---------------------------------------------------------------------


async def _closed_by_server(reader: asyncio.StreamReader, deadline: float) -> bool:
    try:
        async with asyncio.timeout(deadline):
            data = await reader.read()
    except TimeoutError:
        return False
    return data == b"" or data.startswith(b"HTTP/1.1 4")


async def test_unfinished_heads_time_out_and_one_address_holds_few_connections(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    patches = security(header_timeout_seconds=1, connections_per_address=4)
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        port = stack.engine_process.port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
        assert await _closed_by_server(reader, 10.0), "an unfinished head stays open"
        writer.close()

        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
        extra_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await extra_writer.drain()
        assert await _closed_by_server(extra_reader, 5.0), "a fifth connection was served"
        extra_writer.close()
        for _, w in held:
            w.close()
        # Once they are gone, the address is served again.
        async with asyncio.timeout(10):
            while True:
                try:
                    status, _, _ = await raw(stack, "GET", "/healthz")
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)  # polling under a deadline
                    continue
                if status == 200:
                    break


async def test_a_socket_upgrade_with_a_wrong_token_is_refused_at_the_upgrade(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        url = stack.url.replace("http", "ws") + "/ws/wallboard"
        for token, expected in (("wrong", 401), (ROLE_TOKENS["admin"], 200)):
            headers = {"Authorization": f"Bearer {token}"}
            if expected == 401:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    async with asyncio.timeout(2):
                        await stack.http.ws_connect(url, headers=headers)
                assert refused.value.status == 401
            else:
                async with stack.http.ws_connect(url, headers=headers) as ws:
                    first = await ws.receive_json(timeout=5)
                    assert first["type"] == "wallboard"
        agent_url = stack.url.replace("http", "ws") + "/ws/agent"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stack.http.ws_connect(agent_url, headers={"Authorization": f"Bearer {ADMIN}"})
        assert refused.value.status == 403
        rows = await audit_rows(stack, "target LIKE 'GET /ws/%'")
        assert [(r["actor"], r["detail"]["status"]) for r in rows] == [
            ("anonymous", 401),
            ("admin-one", 403),
        ]


# -- logs and headers ----------------------------------------------------------------


async def test_the_access_log_masks_numbers_and_drops_tokens(
    tmp_path: Path,
    empty_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    role_env(monkeypatch)
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    async with running_stack(tmp_path, empty_dsn) as stack:
        status, _, _ = await raw(
            stack,
            "GET",
            "/api/recordings?call_id=13800138000&token=s3cr3t-t0k3n&agent=1003",
            token=SUPERVISOR,
            headers={"Referer": "http://127.0.0.1/wallboard?n=13912345678&token=r3f3r"},
        )
        assert status == 200
        status, _, _ = await raw(stack, "GET", "/healthz?token=another-s3cr3t")
        assert status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/api/recordings?" in line for line in lines), lines
    text = "\n".join(lines)
    for secret in ("13800138000", "s3cr3t-t0k3n", "13912345678", "r3f3r", "another-s3cr3t"):
        assert secret not in text, (secret, lines)
    assert "138****8000" in text and "agent=1003" in text


async def test_headers_of_pages_and_api_answers(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        for path, token in (
            ("/api/supervisor/calls", SUPERVISOR),
            ("/api/supervisor/callbacks", SUPERVISOR),
            ("/api/recordings", SUPERVISOR),
            ("/api/agents/me", None),
        ):
            status, headers, _ = await raw(stack, "GET", path, token=token)
            assert status in (200, 401), (path, status)
            assert "no-store" in headers["Cache-Control"], (path, headers)
            assert headers["Referrer-Policy"] == "no-referrer"
        for path in ("/wallboard", "/agent", "/api/openapi.json", "/healthz", "/nowhere"):
            status, headers, _ = await raw(stack, "GET", path)
            server = headers.get("Server", "")
            assert "aiohttp" not in server.lower() and "python" not in server.lower(), server
            assert not any(ch.isdigit() for ch in server), server
            assert headers["Referrer-Policy"] == "no-referrer", path
        # A request the HTTP parser itself refuses is answered without versions too.
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.engine_process.port)
        writer.write(b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            head = await reader.read(1000)
        writer.close()
        assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0], head
        servers = [line for line in head.split(b"\r\n") if line.lower().startswith(b"server:")]
        assert servers and not any(ch.isdigit() for ch in servers[0].decode()), servers
        _, headers, _ = await raw(stack, "GET", "/wallboard")
        policy = dict(
            part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
        )
        assert policy["connect-src"] == "'self'", policy


@pytest.mark.browser
async def test_the_wallboard_keeps_its_token_in_the_tab_only(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack, chromium() as page:
        await page.goto(f"{stack.url}/wallboard#token={WALLBOARD}")
        # The board fills in over the live socket: the page policy lets it connect.
        await page.wait_for(
            "(document.querySelector('#tile-waiting .value') || {}).textContent === '0'"
        )
        kept = await page.evaluate(
            "[sessionStorage.getItem('hotline.wallboard.token'),"
            " localStorage.getItem('hotline.wallboard.token'), localStorage.length]"
        )
        assert kept == [WALLBOARD, None, 0]


async def test_unknown_accounts_share_one_calibration_then_cost_no_hashing() -> None:
    from cti.api.throttle import PinVerifier
    from cti.config import hash_pin

    like = hash_pin("1357", iterations=100_000)
    verifier = PinVerifier(workers=1, queue=4)
    try:
        guesses = [verifier.verify("0000", None, like=like) for _ in range(20)]
        results = await asyncio.wait_for(asyncio.gather(*guesses), 60)
    finally:
        verifier.close()
    assert results == [False] * 20
    assert (verifier.checks, verifier.decoys, verifier.busy) == (1, 19, 0)
