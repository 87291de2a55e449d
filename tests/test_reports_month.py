"""Every figure of a report against a count by hand, on a seeded month of generated records.

The month (November 2026, 30 days of 40 calls) comes from
``bench.reportdata.month``; it is written into a real PostgreSQL through the
engine's tables, reported by ``cti.reports`` and counted again here with plain
loops over the generated rows.  Also: a day fed to the wallboard's
``figures.Day`` gives the day's report; the CLI writes CSV, JSON, XLSX and the
assessment sheet; bad input is one line and no file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import callbacks as cbk
import figures
from bench.reportdata import Month, month, store
from cti.config import Config, load_config
from cti.reports import assessment, export
from cti.reports.periods import days
from cti.reports.periods import month as month_period
from cti.reports.report import build
from cti.store.db import Database

pytestmark = pytest.mark.reports

REPO = Path(__file__).resolve().parents[1]
SEED = 20261101
FIRST = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


@pytest.fixture(scope="module")
def data(config: Config) -> Month:
    return month(SEED, FIRST, 30, 40, config.timezone)


def _hand(calls: list[dict[str, Any]], config: Config) -> dict[str, Any]:
    """The figures counted by hand: plain loops, no shared code with the reports."""
    n: Counter[str] = Counter()
    wait_answered = wait_all = wait_max = 0.0
    for c in calls:
        if c["queued_at"] is None:
            continue
        queue = config.queues.queues[c["queue"]]
        n["offered"] += 1
        if c["answered_at"] is not None:
            wait = (c["answered_at"] - c["queued_at"]).total_seconds()
            n["answered"] += 1
            if wait <= queue.service_level:
                n["answered_within_sl"] += 1
            wait_answered += wait
            if c["rating"] is not None:
                n["rated"] += 1
                n[f"level_{c['rating']}"] += 1
                if c["rating"] in (1, 2):
                    n["satisfied"] += 1
        elif c["ended_at"] is None:
            n["in_queue"] += 1
            continue
        else:
            wait = (c["ended_at"] - c["queued_at"]).total_seconds()
            if c["outcome"] == "abandoned":
                n["abandoned"] += 1
                if wait < queue.short_abandon:
                    n["short_abandoned"] += 1
            elif c["outcome"] == "overflowed":
                n["overflowed"] += 1
            else:
                n["unanswered_other"] += 1
        wait_all += wait
        wait_max = max(wait_max, wait)
    settled = n["offered"] - n["in_queue"]
    return {
        **{
            k: n[k]
            for k in (
                "offered",
                "in_queue",
                "answered",
                "answered_within_sl",
                "abandoned",
                "short_abandoned",
                "overflowed",
                "unanswered_other",
                "rated",
                "satisfied",
            )
        },
        **{f"level_{i}": n[f"level_{i}"] for i in range(1, 6)},
        "connection_rate": n["answered"] / settled,
        "answer_rate_sl": n["answered_within_sl"] / settled,
        "abandon_rate": n["abandoned"] / settled,
        "asa_s": wait_answered / n["answered"],
        "avg_wait_s": wait_all / settled,
        "longest_wait_s": wait_max,
        "satisfaction_rate": n["satisfied"] / n["rated"],
    }


def _agents_by_hand(data: Month) -> dict[str, dict[str, float]]:
    """Per agent: logged in from 08:00 to the logout, busy = talk + wrap-up, no pauses."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    opened: dict[str, dt.datetime] = {}
    talk_from: dict[str, dt.datetime] = {}
    wrap_from: dict[str, dt.datetime] = {}
    for ch in data.changes:
        a, at, state = ch["agent_id"], ch["at"], ch["state"]
        if ch["status"] == "logged_out":
            out[a]["logged_in_s"] += (at - opened.pop(a)).total_seconds()
        elif a not in opened:
            opened[a] = at
        if state == "on_call":
            talk_from[a] = at
            out[a]["handled"] += 1
        elif state == "wrapup":
            out[a]["busy_s"] += (at - talk_from.pop(a)).total_seconds()
            wrap_from[a] = at
        elif a in wrap_from:
            spent = (at - wrap_from.pop(a)).total_seconds()
            out[a]["busy_s"] += spent
            out[a]["wrapup_s"] += spent
    return out


def _close(got: dict[str, Any], want: dict[str, Any]) -> None:
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-6), name


async def _report(dsn: str, config: Config, data: Month, by: str, period: Any) -> Any:
    db = Database(dsn)
    await db.open()
    try:
        if not await db.fetchrow("SELECT 1 FROM calls LIMIT 1"):
            await store(db, data)
        return await build(db, config, period, by)
    finally:
        await db.close()


async def test_every_figure_of_the_month_matches_a_count_by_hand(
    empty_dsn: str, config: Config, data: Month
) -> None:
    period = month_period("2026-11", config.timezone)
    report = await _report(empty_dsn, config, data, "queue", period)
    records = export.as_json(report)
    total = report.records()[-1]
    _close(total, _hand(data.calls, config))
    assert total["in_queue"] > 0 and total["short_abandoned"] > 0 and total["overflowed"] > 0
    assert records["total"]["offered"] == total["offered"]
    # Per queue: the same count over that queue's calls.
    by_queue = {r["key"]: r for r in report.records()[:-1]}
    for queue in {c["queue"] for c in data.calls if c["queued_at"] is not None}:
        mine = [c for c in data.calls if c["queue"] == queue]
        _close(by_queue[queue], _hand(mine, config))

    # Agent time: handle time, wrap-up, occupancy, utilisation, in total.
    hand = _agents_by_hand(data)
    busy = sum(a["busy_s"] for a in hand.values())
    handled = sum(a["handled"] for a in hand.values())
    logged_in = sum(a["logged_in_s"] for a in hand.values())
    assert total["handled"] == handled
    assert total["avg_handle_s"] == pytest.approx(busy / handled)
    wrap = sum(a["wrapup_s"] for a in hand.values())
    assert total["avg_wrapup_s"] == pytest.approx(wrap / handled)
    assert total["utilisation"] == pytest.approx(busy / logged_in)
    assert total["occupancy"] == pytest.approx(busy / logged_in)  # ready all day: no pauses

    # The callback list (callback_entries, deadline 24 h from the first miss): every
    # number listed that needed a callback; a citizen who got through on their own
    # is left out.  Return visits: none generated, a column of zeros.
    entries = data.callbacks
    fates = Counter(e.status for e in entries)
    assert fates.keys() >= {cbk.Status.PENDING, cbk.Status.DONE, cbk.Status.FAILED,
                            cbk.Status.CLEARED}  # fmt: skip
    needed = [e for e in entries if e.status is not cbk.Status.CLEARED]
    assert total["callbacks_requested"] == len(needed)
    assert total["callbacks_done"] == fates[cbk.Status.DONE]
    in_time = sum(
        e.status is cbk.Status.DONE
        and e.closed_at is not None
        and e.closed_at - e.first_missed_at <= dt.timedelta(hours=24)
        for e in needed
    )
    assert total["callbacks_in_time"] == in_time and 0 < in_time < fates[cbk.Status.DONE]
    for queue, row in by_queue.items():
        mine = [e for e in needed if e.misses[-1].queue == queue]
        assert row["callbacks_requested"] == len(mine), queue
    sheet = {(line.scope, line.title): line.value for line in assessment.lines(report, config)}
    assert sheet[(config.platform.name, "漏接回拨按时率")] == pytest.approx(in_time / len(needed))
    # A row in the older `callbacks` table (before migration 0006) is not counted.
    db = Database(empty_dsn)
    await db.open()
    try:
        await db.execute(
            "INSERT INTO callbacks (call_id, caller_number, queue, requested_at, status, done_at)"
            " VALUES ('old-1', '13900000000', 'general', $1, 'done', $1)",
            period.start + dt.timedelta(days=3),
        )
    finally:
        await db.close()
    again = (await _report(empty_dsn, config, data, "queue", period)).records()[-1]
    assert again["callbacks_requested"] == len(needed)
    assert again["callbacks_done"] == fates[cbk.Status.DONE]
    assert total["return_visits_done"] == 0

    # Transfers and three-way calls by target, emergency hand-offs.
    want = Counter(
        (e["kind"], e["detail"]["mode"], e["detail"].get("target", e["detail"].get("number")))
        for e in data.events
    )
    got = {(h["kind"], h["mode"], h["target"]): h["n"] for h in report.handoffs}
    assert got == dict(want)
    assert any(k[0] == "emergency" for k in got)


@pytest.mark.parametrize("by", ["agent", "line", "department", "day", "hour", "kind", "skill"])
async def test_each_grouping_adds_up_to_the_hand_count(
    empty_dsn: str, config: Config, data: Month, by: str
) -> None:
    period = month_period("2026-11", config.timezone)
    report = await _report(empty_dsn, config, data, by, period)
    rows = report.records()[:-1]
    queued = [c for c in data.calls if c["queued_at"] is not None]
    assert sum(r["offered"] for r in rows) == len(queued)
    if by == "agent":
        hand = _agents_by_hand(data)
        for r in rows:
            mine = [c for c in queued if c["first_agent"] == (r["key"] or None)]
            assert r["answered"] == sum(c["answered_at"] is not None for c in mine)
            if r["key"]:
                assert r["handled"] == hand[r["key"]]["handled"]
                assert r["avg_handle_s"] == pytest.approx(
                    hand[r["key"]]["busy_s"] / hand[r["key"]]["handled"]
                )
    if by == "line":
        lines = Counter(c["dialled"] for c in queued)
        assert {r["key"]: r["offered"] for r in rows} == dict(lines)
    if by == "department":
        old = Counter(c["department"] or "" for c in queued)
        assert {r["key"]: r["offered"] for r in rows} == dict(old)
        assert any(r["key"] == "市文化广电和旅游局" and r["offered"] > 0 for r in rows)
    if by == "day":
        assert len(rows) == 30
        local = Counter(c["queued_at"].astimezone(config.timezone).date() for c in queued)
        assert {r["key"]: r["offered"] for r in rows} == {
            d.isoformat(): v for d, v in local.items()
        }
    if by == "skill":
        general = next(r for r in rows if r["offered"] and "general" not in r["key"])
        assert general["connection_rate"] is not None


async def test_a_day_kept_live_equals_the_day_report(
    empty_dsn: str, config: Config, data: Month
) -> None:
    day = FIRST + dt.timedelta(days=29)  # the last day: some callers still waiting
    report = await _report(
        empty_dsn, config, data, "queue", days(str(day), str(day), config.timezone)
    )

    def rules(queue: str | None) -> figures.Rules:
        q = config.queues.queues[queue or "general"]
        return figures.Rules(float(q.service_level), float(q.short_abandon))

    live = figures.Day(config.local_date, rules)
    for c in data.calls:
        if c["queued_at"] is not None and config.local_date(c["queued_at"]) == day:
            live.on_call(c)
    for ch in data.changes:
        if config.local_date(ch["at"]) == day:
            live.on_agent(ch["agent_id"], ch["status"], ch["state"], ch["at"])
    total = report.total.calls
    for name in (
        "offered",
        "in_queue",
        "answered",
        "answered_within_sl",
        "abandoned",
        "short_abandoned",
        "rated",
        "satisfied",
        "handled",
    ):
        assert getattr(live.total, name) == getattr(total, name), name
    assert live.total.in_queue > 0
    assert live.total.connection_rate == pytest.approx(total.connection_rate)
    assert live.total.handle_s == pytest.approx(total.handle_s)
    for queue, tally in live.queues.items():
        row = next(r for r in report.rows if r.key == queue)
        assert tally.offered == row.calls.offered and tally.answered == row.calls.answered


def ws_scope(config: Config) -> str:
    return config.platform.name


def _cli(args: list[str], dsn: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HOTLINE_DATABASE_URL": dsn}
    return subprocess.run(
        [sys.executable, "-m", "cti.cli", "report", "--config", str(REPO / "config"), *args],
        env=env,
        capture_output=True,
        timeout=60,
    )


async def test_the_cli_writes_csv_json_xlsx_and_the_assessment_sheet(
    empty_dsn: str, config: Config, data: Month, tmp_path: Path
) -> None:
    period = month_period("2026-11", config.timezone)
    report = await _report(empty_dsn, config, data, "queue", period)
    hand = _hand(data.calls, config)

    out = tmp_path / "november.csv"
    sheet = tmp_path / "assessment.xlsx"
    month_range = ["--from", "2026-11-01", "--to", "2026-11-30"]
    bad = [
        ["--month", "2026-13", "--format", "xlsx"],
        ["--from", "2026-11-30", "--to", "2026-11-01", "--format", "csv"],
        [*month_range, "--format", "pdf"],
    ]
    targets = [tmp_path / f"bad-{n}.out" for n in range(len(bad))]
    runs = [
        [*month_range, "--by", "queue", "--format", "json"],
        [*month_range, "--by", "queue", "--format", "csv", "--out", str(out)],
        ["--month", "2026-11", "--format", "xlsx", "--out", str(sheet)],
        ["--month", "2026-11", "--format", "html"],
        *([*args, "--out", str(target)] for args, target in zip(bad, targets, strict=True)),
    ]
    # Each run is a process of its own: a few at a time, checked in order below.
    with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        as_json, as_csv, as_xlsx, page, *refused = pool.map(lambda a: _cli(a, empty_dsn), runs)

    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["total"]["offered"] == hand["offered"]

    assert as_csv.returncode == 0, as_csv.stderr
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    names = lines[1].split(",")
    total = dict(zip(names, lines[-1].split(","), strict=True))
    assert int(total["offered"]) == hand["offered"] and total["key"] == "total"
    assert len(lines) == 2 + len(report.rows) + 1
    listed = [e for e in data.callbacks if e.status is not cbk.Status.CLEARED]
    assert int(total["callbacks_requested"]) == len(listed) > 0

    assert as_xlsx.returncode == 0, as_xlsx.stderr
    ws = load_workbook(sheet).active
    assert ws is not None
    centre = [
        row for row in ws.iter_rows(min_row=3, values_only=True) if row[0] == ws_scope(config)
    ]
    rate = next(row for row in centre if row[1] == "接通率")
    assert rate[2] == pytest.approx(hand["connection_rate"]) and rate[3] == "≥ 90%"
    missed = hand["connection_rate"] < 0.90
    assert rate[4] == ("否" if missed else "是")
    # The callback share comes from the callback list (see the month test for the count).
    share = next(row for row in centre if row[1] == "漏接回拨按时率")
    assert share[2] == pytest.approx(report.total.callbacks_in_time / len(listed))
    # Missed targets are red: the generated month answers about 70 % of its callers.
    red_rows = [
        r
        for r in ws.iter_rows(min_row=3)
        if r[0].font.color is not None and str(r[0].font.color.rgb).endswith("C00000")
    ]
    assert all(r[4].value == "否" for r in red_rows)
    assert missed and any(r[1].value == "接通率" for r in red_rows)
    assert any(r[1].value == "满意率（非常满意+满意）/评价量" for r in ws.iter_rows(min_row=3))

    assert page.returncode == 0 and b'class="missed"' in page.stdout

    # Bad input: one line on stderr, status 2, no file.
    for done, target in zip(refused, targets, strict=True):
        assert done.returncode == 2 and len(done.stderr.decode().strip().splitlines()) == 1
        assert not target.exists()
