"""Every operation of the OpenAPI document, under every role, with hostile input.

The engine runs whole (pbxsim, PostgreSQL, HTTP); Hypothesis picks an
operation, a principal (none, a wrong token, a wrong scheme, and each
role), path parameters, query parameters, a body and headers from hostile
values: NUL, unpaired surrogates, path tricks, huge numbers, deep nesting,
raw bytes that are not JSON, very long texts.  First every operation is
called once under every principal; then Hypothesis draws at random.

Every answer must be below 500; every refusal (4xx) of a protected
operation must leave a new row in ``audit_log``; no log line — the
engine's structured events or the standard library's records (aiohttp's
own included) — may carry a traceback or an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yarl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.faces_support import ROLE_TOKENS, role_env
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.security

EXAMPLES = 600
PUBLIC = ("/api/agents/login", "/api/openapi.json")
PRINCIPALS = ("none", "bogus", "basic", "agent", *ROLE_TOKENS)

HOSTILE = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%00",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "😀" * 20,
    "9" * 5000,
    "-1",
    "0",
    "1e309",
    "NaN",
    "null",
    "true",
    "13800138000",
    "1003",
    "9999",
    "c-unknown-1",
    "training",
    "x" * 9000,
    " ",
    "",
    "\u202e\u200b",
    "2026-13-45T99:99:99",
    "2026-12-06T00:00:00+08:00",
]

hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=16,
)


def _fields(op: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The property names of the operation's JSON body, when it has one."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = doc["components"]["schemas"].get(schema["$ref"].rsplit("/", 1)[-1], {})
    return list(schema.get("properties", {}))


@st.composite
def bodies(draw: st.DrawFn, fields: list[str]) -> bytes | None:
    kind = draw(st.sampled_from(["none", "fields", "json", "raw", "deep", "big"]))
    if kind == "none":
        return None
    if kind == "fields":
        chosen = draw(st.lists(st.sampled_from(fields or ["x"]), unique=True, max_size=4))
        value = {name: draw(json_values) for name in chosen}
        return json.dumps(value).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(min_value=30, max_value=100_000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        return (opener * depth).encode()
    return b'{"reason": "' + b"r" * draw(st.integers(1_100_000, 1_200_000)) + b'"}'


def _param_names(op: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p.get("in") == where]


@st.composite
def requests(
    draw: st.DrawFn, ops: list[tuple[str, str, dict[str, Any]]], doc: dict[str, Any]
) -> Any:
    method, template, op = draw(st.sampled_from(ops))
    who = draw(st.sampled_from(PRINCIPALS))
    path = template
    for name in _param_names(op, "path"):
        value = draw(hostile_text)
        path = path.replace("{" + name + "}", quote(value, safe="", errors="surrogatepass"))
    query_names = [*_param_names(op, "query"), "token", "x"]
    query = draw(st.dictionaries(st.sampled_from(query_names), hostile_text, max_size=3))
    headers = draw(
        st.dictionaries(
            st.sampled_from(["Range", "Content-Type", "Referer", "X-Forwarded-For", "If-Range"]),
            header_text,
            max_size=3,
        )
    )
    body = draw(bodies(_fields(op, doc)))
    return method, template, op, who, path, query, headers, body


def _target(path: str, query: dict[str, str]) -> str:
    if not query:
        return path
    parts = [
        f"{quote(k, safe='')}={quote(v, safe='', errors='surrogatepass')}" for k, v in query.items()
    ]
    return path + "?" + "&".join(parts)


class Fuzzer:
    """Sends one request and checks its answer and audit row (runs in the test's loop)."""

    def __init__(self, stack: Stack, tokens: dict[str, str | None]) -> None:
        self.stack = stack
        self.tokens = tokens
        self.statuses: dict[int, int] = {}
        self.protected_refusals = 0

    async def audit_count(self) -> int:
        await self.stack.flushed(20.0)
        row = await self.stack.db.fetchrow("SELECT count(*) AS n FROM audit_log")
        assert row is not None
        return int(row["n"])

    async def send(
        self,
        method: str,
        template: str,
        op: dict[str, Any],
        who: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes | None,
    ) -> None:
        sent = dict(headers)
        token = self.tokens[who]
        if who == "basic":
            sent["Authorization"] = "Basic dXNlcjpwYXNz"
        elif token is not None:
            sent["Authorization"] = f"Bearer {token}"
        before = await self.audit_count()
        url = yarl.URL(self.stack.url + _target(path, query), encoded=True)
        where = f"{who} {method} {template} -> {url!s:.200}"
        async with self.stack.http.request(method, url, data=body, headers=sent) as answer:
            status = answer.status
            await answer.read()
        self.statuses[status] = self.statuses.get(status, 0) + 1
        assert status < 500, where
        # A request line over aiohttp's 8190 bytes is refused by the HTTP parser: it
        # never reaches a resource, so there is nothing to audit.
        reached = len(str(url)) < 8000
        public = template in PUBLIC and answer.url.path == template
        protected = bool(op.get("x-roles")) or (answer.url.path.startswith("/api/") and not public)
        if protected and 400 <= status < 500 and reached:
            self.protected_refusals += 1
            after = await self.audit_count()
            assert after > before, f"no audit row: {where} {status}"


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for template, item in doc["paths"].items():
        for method, op in item.items():
            if template.startswith("/ws/"):
                op = {**op, "x-roles": ["live"]}  # protected: a token is asked for on the socket
            found.append((method.upper(), template, op))
    # The agent's own logout ends the agent's session: it goes last in the sweep.
    return sorted(found, key=lambda o: o[1] == "/api/agents/me/logout")


def _open_limits(data: Any) -> None:
    # Guessing is not what is tested here: the throttle must not turn refusals into 429s.
    wide = {"failures": 10_000, "window_seconds": 60, "lockout_seconds": 60}
    data["security"]["login_per_account"] = dict(wide)
    data["security"]["login_per_address"] = dict(wide)
    data["security"]["anonymous_audit_per_minute"] = 100_000


async def test_every_operation_under_every_role_with_hostile_input(
    tmp_path: Path,
    empty_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens: dict[str, str | None] = {**role_env(monkeypatch), "none": None, "basic": None}
    tokens["bogus"] = "not-a-token"
    caplog.set_level(logging.DEBUG)
    patches = {"engine.yaml": _open_limits}
    with capture_logs() as events:
        async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
            tokens["agent"] = await stack.login("1003", "s01", ready=False)
            status, doc = await stack.api("GET", "/api/openapi.json")
            assert status == 200
            ops = _operations(doc)
            assert len(ops) >= 30
            fuzzer = Fuzzer(stack, tokens)
            loop = asyncio.get_running_loop()

            # Every operation under every principal, once, with a body of hostile fields.
            for method, template, op in ops:
                path = template.replace("{call_id}", "c-unknown-1").replace("{agent}", "9999")
                path = path.replace("{outbox_id}", "424242").replace("{action}", "join")
                body = json.dumps({name: "\ud800\x00" for name in _fields(op, doc)}).encode()
                for who in PRINCIPALS:
                    await fuzzer.send(method, template, op, who, path, {}, {}, body)

            failures: list[BaseException] = []

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(request=requests(ops, doc))
            def drive(request: Any) -> None:
                future = asyncio.run_coroutine_threadsafe(fuzzer.send(*request), loop)
                future.result(timeout=60)

            def run() -> None:
                try:
                    drive()
                except BaseException as exc:  # reported in the test's own thread
                    failures.append(exc)

            worker = threading.Thread(target=run, name="security-fuzz")
            worker.start()
            await asyncio.to_thread(worker.join)
            if failures:
                raise failures[0]
            print(f"statuses: {dict(sorted(fuzzer.statuses.items()))}")
            print(f"protected refusals audited: {fuzzer.protected_refusals}")
            assert fuzzer.protected_refusals > len(ops)

    bad_events = [
        e
        for e in events
        if e.get("exc_info") or e.get("exception") or e.get("log_level") in ("error", "critical")
    ]
    assert not bad_events, bad_events[:5]
    bad_records = [
        r
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()
    ]
    assert not bad_records, [r.getMessage() for r in bad_records[:5]]
