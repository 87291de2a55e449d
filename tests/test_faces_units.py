"""The pure parts of the faces: the Prometheus writer, the alarm book, the tracker,
and the OpenAPI document of a built (not started) application."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

import acd
from cti.api.alarms import AMBER, OK, RED, AlarmBook, Reading, level_of
from cti.api.auth import Authenticator, Principal, Role
from cti.api.openapi import document
from cti.api.tracker import Tracker
from cti.app import Settings, build_app
from cti.config import ConfigManager
from tests.faces_support import parse_exposition

pytestmark = pytest.mark.faces

REPO = Path(__file__).resolve().parents[1]


# -- Prometheus text -----------------------------------------------------------------


def _count_sum(histogram: Any) -> tuple[float, float]:
    (metric,) = histogram.collect()
    found = {s.name.rsplit("_", 1)[-1]: s.value for s in metric.samples}
    return found["count"], found["sum"]


def test_tracker_histograms_round_trip_through_a_strict_parser() -> None:
    tracker = Tracker()
    for v in (0.5, 1, 3, 7, 20):
        tracker.wait.observe(v)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(tracker.wait)
    families = parse_exposition(generate_latest(registry).decode())
    samples = families["hotline_call_wait_seconds"].samples
    buckets = {lab["le"]: v for n, lab, v in samples if n.endswith("_bucket")}
    # le is inclusive: 1 falls in the 1.0 bucket.
    assert buckets["1.0"] == 2 and buckets["5.0"] == 3 and buckets["10.0"] == 4
    assert buckets["+Inf"] == 5
    assert _count_sum(tracker.wait) == (5, 31.5)


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=50))
def test_histogram_buckets_are_cumulative_and_count_everything(values: list[float]) -> None:
    tracker = Tracker()
    for v in values:
        tracker.handle.observe(v)
    (metric,) = tracker.handle.collect()
    counts = [s.value for s in metric.samples if s.name.endswith("_bucket")]
    assert counts == sorted(counts) and counts[-1] == len(values)
    assert counts[0] == sum(1 for v in values if v <= 15)
    assert math.isclose(_count_sum(tracker.handle)[1], sum(values), abs_tol=1e-6)


# -- alarms --------------------------------------------------------------------------


def test_alarm_opens_escalates_and_clears_with_times() -> None:
    book = AlarmBook()
    assert book.update([Reading("waiting", "total", 3, OK)], now=100) == []
    (opened,) = book.update([Reading("waiting", "total", 6, AMBER, 5)], now=110)
    assert (opened.level, opened.raised_at, opened.cleared_at) == (AMBER, 110, None)
    assert book.update([Reading("waiting", "total", 7, AMBER, 5)], now=115) == []
    closed, red = book.update([Reading("waiting", "total", 12, RED, 10)], now=120)
    assert closed is opened and closed.cleared_at == 120
    assert (red.level, red.raised_at) == (RED, 120)
    (cleared,) = book.update([Reading("waiting", "total", 0, OK)], now=130)
    assert cleared is red and cleared.cleared_at == 130 and book.open == []
    assert [(r.level, r.raised_at, r.cleared_at) for r in book.records] == [
        (AMBER, 110, 120),
        (RED, 120, 130),
    ]


def test_alarm_of_a_scope_no_longer_read_is_cleared() -> None:
    book = AlarmBook()
    book.update([Reading("pause_minutes", "1003", 20, AMBER, 15)], now=1)
    (gone,) = book.update([], now=2)
    assert gone.cleared_at == 2 and book.open == []


def test_alarm_book_keeps_open_alarms_when_trimming() -> None:
    book = AlarmBook(keep=3)
    book.update([Reading("waiting", "q0", 9, RED, 5)], now=0)
    for i in range(1, 6):
        book.update([Reading("waiting", "q0", 9, RED, 5), Reading("x", f"s{i}", 1, AMBER)], i)
    assert any(r.scope == "q0" and r.cleared_at is None for r in book.records)
    assert len(book.records) <= 3


@pytest.mark.parametrize(
    ("value", "lower_is_worse", "level"),
    [
        (0.97, True, OK),
        (0.95, True, OK),  # at the threshold is not below it
        (0.94, True, AMBER),
        (0.89, True, RED),
        (None, True, OK),
        (5, False, OK),
        (6, False, AMBER),
        (11, False, RED),
    ],
)
def test_levels(value: float | None, lower_is_worse: bool, level: str) -> None:
    amber, red = (0.95, 0.90) if lower_is_worse else (5, 10)
    assert level_of(value, amber, red, lower_is_worse=lower_is_worse).level == level


# -- tracker ---------------------------------------------------------------------------


def _change(state: str, status: str = "ready", reason: str = "") -> acd.AgentStateChanged:
    return acd.AgentStateChanged(
        acd.AgentId("1003"), acd.AgentStatus(status), acd.AgentState(state), reason, None
    )


def test_tracker_handle_time_is_talk_plus_wrapup() -> None:
    tracker = Tracker()
    tracker.on_agent(_change("idle"), 0)
    tracker.on_agent(_change("ringing"), 10)
    tracker.on_agent(_change("on_call"), 12)
    tracker.on_agent(_change("wrapup"), 100)
    tracker.on_agent(_change("wrapup", "paused", "meeting"), 105)
    tracker.on_agent(_change("idle", "paused", "meeting"), 115)
    assert _count_sum(tracker.handle) == (1, 103)
    assert tracker.since["1003"] == 115
    assert tracker.paused_since["1003"] == ("meeting", 105)
    tracker.on_agent(_change("idle", "paused", "break"), 120)
    assert tracker.paused_since["1003"] == ("break", 120)
    tracker.on_agent(_change("idle"), 130)
    assert "1003" not in tracker.paused_since


def _ended(queue: str, rating: int | None, outcome: str = "answered") -> Any:
    t0 = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    stamps = {"queued_at": t0, "answered_at": t0 + dt.timedelta(seconds=8)}
    return SimpleNamespace(queue=queue, rating=rating, outcome=outcome, stamps=stamps)


def test_tracker_counts_outcomes_and_waits() -> None:
    tracker = Tracker()
    for queue, rating in (("general", 1), ("general", 2), ("general", 4), ("desk", None)):
        tracker.on_ended(_ended(queue, rating), 0)
    assert _count_sum(tracker.wait) == (4, 32)
    assert tracker.outcomes["answered"] == 4


# -- the OpenAPI document of a built application ---------------------------------------


def test_openapi_describes_every_route_with_roles_and_schemas(tmp_path: Path) -> None:
    manager = ConfigManager(REPO / "config")
    settings = Settings.from_config(str(REPO / "config"), manager.current, environ={}).with_(
        database_url="postgresql://nobody@127.0.0.1:1/none", state_dir=str(tmp_path)
    )
    app = build_app(settings, manager)
    doc = document(app, title="t", version="1")
    assert doc["openapi"].startswith("3.1")
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert not [(p, m) for p, m, op in ops if op.get("x-undescribed")], "undescribed routes"
    served = set()
    for route in app.router.routes():
        path = route.resource.get_info().get("path") or route.resource.get_info().get("formatter")
        api = path.startswith(("/api/", "/ws/")) or path in (
            "/metrics",
            "/healthz",
            "/healthz/active",
        )
        if api and route.method != "HEAD":
            served.add((path, route.method.lower()))
    assert served == {(p, m) for p, m, _ in ops}
    for path, method, op in ops:
        assert op["responses"], (path, method)
        if op["x-roles"]:
            assert {"401", "403"} <= set(op["responses"]), (path, method)
            assert op["security"] == [{"bearer": []}]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    schemas = doc["components"]["schemas"]
    for name in ("Wallboard", "AgentView", "CallerHistory", "Ticket", "Error"):
        assert name in schemas


# -- authentication ----------------------------------------------------------------------


def test_sessions_expire_and_role_tokens_come_from_the_environment() -> None:
    now = {"t": 1000.0}
    env = {
        "HOTLINE_SUPERVISOR_TOKEN": "zhang:s3cret, wang:other",
        "HOTLINE_WALLBOARD_TOKEN": "wb-token",
    }
    auth = Authenticator(env, session_ttl_s=60, clock=lambda: now["t"])
    closed: list[str] = []
    auth.on_closed.append(closed.append)
    token, expires = auth.open_session("1003", "s01")
    assert expires == 1060
    assert auth.from_header(f"Bearer {token}") == Principal("1003", Role.AGENT, "s01")
    assert auth.from_header(f"Basic {token}") is None
    assert auth.principal("s3cret") == Principal("zhang", Role.SUPERVISOR)
    assert auth.principal("other") == Principal("wang", Role.SUPERVISOR)
    assert auth.principal("wb-token") == Principal("wallboard-1", Role.WALLBOARD)
    assert auth.principal("") is None and auth.principal("s3cre") is None
    now["t"] = 1061
    assert auth.principal(token) is None, "an expired session is refused"
    again, _ = auth.open_session("1003", "s01")
    newer, _ = auth.open_session("1003", "s01")
    assert auth.principal(again) is None and auth.principal(newer) is not None
    assert closed == ["1003"], "the replaced session was announced"
