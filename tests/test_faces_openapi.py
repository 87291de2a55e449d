"""The OpenAPI document is true to the server: schemathesis fuzzes every operation.

The engine runs for real (pbxsim, PostgreSQL, the ticket backend); the fuzzer
runs in a worker thread (it is synchronous) against the server's socket,
with a token of a role each operation admits, in positive and negative
mode.  No answer may be a 5xx, an undocumented status or content type, or a
body that breaks its schema.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pbxsim import PhoneScript
from tests.faces_support import role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.faces

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 20
# Roles to fuzz each operation as, best first (an admitted role exercises the handler).
PREFERENCE = ("agent", "supervisor", "admin", "wallboard", "quality_inspector")


def _token(roles: list[str], tokens: dict[str, str]) -> str | None:
    for role in PREFERENCE:
        if role in roles:
            return tokens[role]
    return None


def _runner(op: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> Any:
    checks = CHECKS

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)

    return run


def _fuzz(base_url: str, doc: dict[str, Any], tokens: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_dict(doc)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.path == "/api/agents/me/logout")
    for op in operations:
        raw = op.definition.raw
        token = _token(raw.get("x-roles", []), tokens)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        modes = [GenerationMode.POSITIVE]
        if raw.get("parameters") or raw.get("requestBody") or token:
            modes.append(GenerationMode.NEGATIVE)  # without any input, nothing can be invalid
        for mode in modes:
            try:
                _runner(op, mode, base_url, headers)()
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {exc}"[:3000])
    return failures


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn, phones=[PhoneScript("8001")]) as stack:
        tokens["agent"] = await stack.login("1003", "s01")
        status, doc = await stack.api("GET", "/api/openapi.json")
        assert status == 200
        async with asyncio.timeout(150):
            failures = await asyncio.to_thread(_fuzz, stack.url, doc, tokens)
        assert failures == [], "\n\n".join(failures)
