"""The wallboard's live figures and alarms, pushed over ``/ws/wallboard`` as calls happen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import cti.api.live
from pbxsim import CallerScript
from tests.faces_support import live, role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.faces


def _thresholds(data: Any) -> None:
    data["wallboard"]["waiting_callers"] = {"amber": 0, "red": 1}
    data["wallboard"]["connection_rate_min_offered"] = 2


def _covered_far_ahead(data: Any) -> None:
    # The shipped holiday list runs out each December; this test is about calls.
    data["covered_until"] = dt.date(2099, 12, 31)


def _open(wb: dict[str, Any], figure: str, scope: str = "total") -> list[dict[str, Any]]:
    return [
        a
        for a in wb["alarms"]
        if a["figure"] == figure and a["scope"] == scope and a["cleared_at"] is None
    ]


async def test_figures_follow_call_events_and_raise_alarms(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board is pushed by the calls' events: with the once-a-second recompute
    held back for a minute, every change below still reaches the socket."""
    tokens = role_env(monkeypatch)
    monkeypatch.setattr(cti.api.live, "TICK_S", 60.0)
    patches = {"engine.yaml": _thresholds, "calendar.yaml": _covered_far_ahead}
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        url = stack.url.replace("http", "ws") + "/ws/wallboard"
        async with live(stack.http, url, tokens["wallboard"]) as ws:
            first = (await ws.next())["wallboard"]
            assert first["total"]["waiting"] == 0 and first["total"]["levels"]["waiting"] == "ok"
            assert first["alarms"] == [] and len(first["chart"]) == 12
            assert {q["id"] for q in first["queues"]} >= {"general", "desk_12315"}

            stack.sim.place_call(CallerScript(number="13800138000", hangup_after=30))
            msg = await ws.until(lambda m: m["wallboard"]["total"]["waiting"] == 1)
            wb = msg["wallboard"]
            assert wb["total"]["levels"]["waiting"] == "amber"
            general = next(q for q in wb["queues"] if q["id"] == "general")
            assert general["waiting"] == 1 and general["levels"]["waiting"] == "amber"
            assert general["today"]["offered"] == 1 and general["today"]["in_queue"] == 1
            # A caller still waiting is in no rate yet (docs/reports.md): none to judge.
            assert wb["total"]["today"]["connection_rate"] is None
            assert wb["total"]["levels"]["connection_rate"] == "ok"
            assert general["levels"]["connection_rate"] == "ok"
            assert _open(wb, "connection_rate") == []
            (amber,) = _open(wb, "waiting")
            assert amber["level"] == "amber" and amber["threshold"] == 0

            stack.sim.place_call(CallerScript(number="13900139000", hangup_after=30))
            msg = await ws.until(lambda m: m["wallboard"]["total"]["waiting"] == 2)
            wb = msg["wallboard"]
            assert wb["total"]["levels"]["waiting"] == "red"
            (red,) = _open(wb, "waiting")
            assert red["level"] == "red"
            closed = [a for a in wb["alarms"] if a["id"] == amber["id"]]
            assert closed and closed[0]["cleared_at"] == red["raised_at"]

            # Both callers give up: nothing waits, and today's figures say so.
            await stack.wait_ended(2, timeout=20)
            msg = await ws.until(lambda m: m["wallboard"]["total"]["today"]["abandoned"] == 2)
            total = msg["wallboard"]["total"]
            assert total["waiting"] == 0 and total["levels"]["waiting"] == "ok"
            assert total["today"]["offered"] == 2 and total["today"]["connection_rate"] == 0
            assert total["today"]["in_queue"] == 0
            assert total["levels"]["connection_rate"] == "red"
            assert _open(msg["wallboard"], "waiting") == []
            assert _open(msg["wallboard"], "connection_rate")
            # The two calls may fall either side of a 5-minute step of the chart.
            assert sum(step["offered"] for step in msg["wallboard"]["chart"]) == 2

        status, board = await stack.api("GET", "/api/wallboard", token=tokens["supervisor"])
        assert status == 200 and board["total"]["today"]["abandoned"] == 2
        assert board["pause_labels"]["meeting"] == "会议"


async def test_a_pause_longer_than_its_reason_allows_raises_an_alarm(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        token = await stack.login("1003", "s01")
        status, _ = await stack.api(
            "POST", "/api/agents/me/pause", token=token, json={"reason": "break"}
        )
        assert status == 200
        status, board = await stack.api("GET", "/api/wallboard", token=tokens["wallboard"])
        assert status == 200 and _open(board, "pause_minutes", "1003") == []
        assert board["total"]["agents"]["paused_by_reason"] == {"break": 1}
        # 小休 allows 15 minutes: sixteen minutes later the wallboard warns.
        real_clock = stack.engine.clock
        monkeypatch.setattr(stack.engine, "clock", lambda: real_clock() + 16 * 60)
        status, board = await stack.api("GET", "/api/wallboard", token=tokens["wallboard"])
        monkeypatch.setattr(stack.engine, "clock", real_clock)
        (alarm,) = _open(board, "pause_minutes", "1003")
        assert alarm["level"] == "amber" and alarm["threshold"] == 15 and alarm["value"] >= 16
        status, _ = await stack.api("POST", "/api/agents/me/ready", token=token)
        status, board = await stack.api("GET", "/api/wallboard", token=tokens["wallboard"])
        assert _open(board, "pause_minutes", "1003") == []
