"""A single engine restarted: the agents' and supervisors' tokens from before the
restart still open the API and the live sockets (sessions are kept in PostgreSQL);
a logout before the restart stays a logout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faces_support import live, role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.availability


async def test_tokens_outlive_a_restart_of_the_engine(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        kept = await stack.login("1003", "s01")
        gone = await stack.login("1004", "s02")
        status, person = await stack.api(
            "POST", "/api/persons/login", json={"person": "1001", "password": "1001"}
        )
        assert status == 200, person
        status, _ = await stack.api("POST", "/api/agents/me/logout", token=gone)
        assert status == 200
        await stack.flushed()

        await stack.restart_engine()

        status, me = await stack.api("GET", "/api/agents/me", token=kept)
        assert status == 200, me
        assert (me["agent"], me["status"]) == ("1003", "ready")
        status, calls = await stack.api("GET", "/api/console/calls", token=person["token"])
        assert status == 200, calls
        status, refused = await stack.api("GET", "/api/agents/me", token=gone)
        assert status == 401, refused
        async with live(stack.http, stack.url + "/ws/agent", kept) as socket:
            first = await socket.next()
            assert first["type"] == "state" and first["agent"]["agent"] == "1003"
