"""``/metrics`` scraped from a running engine and parsed as Prometheus would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pbxsim import CallerScript, PhoneScript
from tests.faces_support import eventually, parse_exposition, role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.faces

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "hotline-cti.json"


def _dashboard_metrics() -> set[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    names = {name for expr in exprs for name in re.findall(r"hotline_[a-z_]+", expr)}
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


async def test_metrics_after_an_answered_call(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn, phones=[PhoneScript("8001")]) as stack:

        async def scrape() -> dict:
            headers = {"Authorization": f"Bearer {tokens['wallboard']}"}
            async with stack.http.get(stack.url + "/metrics", headers=headers) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                return parse_exposition(await r.text())

        before = await scrape()
        assert before["hotline_calls_total"].value(outcome="answered") == 0
        assert before["hotline_link_up"].value(link="ari") == 1
        assert before["hotline_link_up"].value(link="ami") == 1
        assert before["hotline_link_reconnects_total"].value(link="ari") == 0
        assert before["hotline_database_up"].value() == 1
        assert before["hotline_agents"].value(state="offline") == 35
        assert before["hotline_ari_requests"].value(state="in_flight") >= 0
        assert before["hotline_ari_requests"].value(state="waiting") == 0
        assert before["hotline_arrivals_waiting"].value() == 0

        token = await stack.login("1003", "s01")
        stack.backend.fail_with(503)  # the ticket stays pending: the outbox has depth
        stack.sim.place_call(CallerScript(number="13800138000", hangup_after_bridged=5))
        await stack.wait_ended(1)
        await stack.flushed()
        during = await scrape()
        assert during["hotline_calls_total"].value(outcome="answered") == 1
        wait = during["hotline_call_wait_seconds"].samples
        assert [v for n, _, v in wait if n.endswith("_count")] == [1]
        assert during["hotline_agents"].value(state="wrapup") == 1
        assert sum(v for _, _, v in during["hotline_agents"].samples) == 35
        assert during["hotline_queue_waiting"].value(queue="general") == 0
        assert during["hotline_queue_connection_rate_today"].value(queue="general") == 1.0
        assert during["hotline_outbox_pending"].value() == 1
        assert during["hotline_outbox_oldest_pending_age_seconds"].value() >= 0
        assert during["hotline_recording_failures_total"].value(kind="recording_failed") == 0
        assert during["hotline_engine_errors_total"].value() == 0

        # Handle time is talk plus wrap-up: observed when the wrap-up ends.
        status, _ = await stack.api("POST", "/api/agents/me/wrapup/end", token=token)
        assert status == 200

        async def retried() -> bool:
            return (await scrape())["hotline_tickets_sent_total"].value(result="retried") >= 1

        await eventually(retried, timeout=10)
        await stack.backend.recover()

        async def delivered() -> dict | None:
            # The sender counts the delivery when the backend accepts it; the outbox row
            # is marked delivered by a database write just after: wait for both.
            after = await scrape()
            sent = after["hotline_tickets_sent_total"].value(result="delivered")
            pending = after["hotline_outbox_pending"].value()
            return after if sent == 1 and pending == 0 else None

        after = await eventually(delivered, timeout=15)
        handle = after["hotline_call_handle_seconds"]
        (count,) = [v for n, _, v in handle.samples if n.endswith("_count")]
        (total,) = [v for n, _, v in handle.samples if n.endswith("_sum")]
        assert count == 1 and total > 0
        assert after["hotline_agents"].value(state="ready") == 1
        assert after["hotline_outbox_pending"].value() == 0
        # The sample Grafana dashboard asks only for what the engine exposes.
        assert _dashboard_metrics() <= set(after), _dashboard_metrics() - set(after)

        # Readers only: no token is 401, an agent 403.
        async with stack.http.get(stack.url + "/metrics") as r:
            assert r.status == 401
        status, _ = await stack.api("GET", "/metrics", token=token)
        assert status == 403
