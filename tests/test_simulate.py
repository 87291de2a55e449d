"""``hotline simulate``: against queueing theory, on the shipped configs, and its input errors.

The Erlang tests run one queue with Poisson arrivals, exponential talk, no
wrap-up, no prompt before the queue and phones that answer at once, for two
days of virtual time, and compare with the closed forms: the estimate is
the mean of hourly batches (batch means), and the closed form must lie
within its 99 % confidence interval (mean +- 2.68 standard errors, 47
degrees of freedom).  The interval's half-width is bounded too, so a run
too short to tell anything fails rather than passes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from cti.config import load_config
from simulate.day import Staffing, run
from simulate.erlang import erlang_a, erlang_c
from simulate.errors import SimulateError
from simulate.flowmap import Pool
from simulate.history import fit
from simulate.results import summarise
from simulate.traffic import Profile
from simulate.yamlfile import load_model

pytestmark = pytest.mark.simulate

REPO = Path(__file__).resolve().parents[1]
T_99 = 2.68  # Student's t, 99 % two-sided, 47 degrees of freedom
PER_HOUR, AHT, AGENTS, DAYS = 160.0, 180.0, 10, 2
DAY = dt.date(2026, 3, 11)


def _hotline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cti.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=env,
        check=False,
    )


def _one_queue(target: Path) -> Path:
    """The shipped config reduced to M/M/n: one skill, no wrap-up, no prompt, no overflow."""
    shutil.copytree(REPO / "config", target)
    yaml = YAML()

    def patch(name: str, mutate: Any) -> None:
        path = target / name
        data = yaml.load(path.read_text(encoding="utf-8"))
        mutate(data)
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)

    def queues(data: Any) -> None:
        q = data["queues"]["general"]
        q["skills"] = [{"skill": "general", "min_level": 1}]
        q["wrapup"] = 0
        for key in ("max_length", "max_wait", "overflow", "announce"):
            q.pop(key, None)

    def routing(data: Any) -> None:
        data["routes"]["main"].pop("notice", None)

    def agents(data: Any) -> None:
        for agent in data["agents"]:
            agent["skills"] = {"general": 5}
            agent.pop("wrapup", None)

    patch("queues.yaml", queues)
    patch("routing.yaml", routing)
    patch("agents.yaml", agents)
    return target


def _profile(patience_s: float | None) -> Profile:
    data: dict[str, Any] = {
        "date": DAY.isoformat(),
        "lines": {"12345": {"intervals": {"00:00": PER_HOUR / 4}}},
        "talk": {"dist": "exponential", "mean": AHT},
        "answer_delay": {"dist": "fixed", "value": 0},
        "caller_hangs_up_first": 1.0,
    }
    if patience_s is not None:
        data["patience"] = {"dist": "exponential", "mean": patience_s}
    return Profile.model_validate(data)


def _hourly(tmp_path: Path, patience_s: float | None, seed: int) -> list[dict[str, float]]:
    """Per hour of the run: P(wait), ASA, mean wait of all, P(abandon)."""
    config = load_config(_one_queue(tmp_path / "config"))
    pool = Pool(config)
    staffing = Staffing.from_levels(pool, [AGENTS] * 96)
    outcome = run(config, _profile(patience_s), staffing, pool, date=DAY, days=DAYS, seed=seed)
    hours: list[list[tuple[float, bool]]] = [[] for _ in range(24 * DAYS)]
    for final in outcome.records:
        r = final.record
        assert r.queued_at is not None and r.ended_at is not None
        end = r.answered_at if r.answered_at is not None else r.ended_at
        hour = int((r.queued_at - outcome.start) // 3600)
        hours[min(hour, len(hours) - 1)].append((end - r.queued_at, r.answered_at is not None))
    out = []
    for calls in hours:
        answered = [w for w, a in calls if a]
        out.append(
            {
                "p_wait": sum(w > 1e-6 for w, _ in calls) / len(calls),
                "asa": statistics.fmean(answered),
                "mean_wait": statistics.fmean(w for w, _ in calls),
                "p_abandon": sum(not a for _, a in calls) / len(calls),
            }
        )
    summary = summarise(outcome).as_dict()["total"]
    assert summary["offered"] == len(outcome.records)
    return out


def _within(batches: list[dict[str, float]], key: str, expected: float, width: float) -> None:
    values = [b[key] for b in batches]
    mean = statistics.fmean(values)
    half = T_99 * statistics.stdev(values) / math.sqrt(len(values))
    assert half < width, f"{key}: the run is too short to tell (+-{half:.3f})"
    assert abs(mean - expected) <= half, (
        f"{key}: simulated {mean:.4f} +- {half:.4f} (99 %), closed form {expected:.4f}"
    )


def test_erlang_c_probability_of_waiting_and_asa(tmp_path: Path) -> None:
    theory = erlang_c(PER_HOUR, AHT, AGENTS)
    batches = _hourly(tmp_path, None, seed=7)
    assert all(b["p_abandon"] == 0 for b in batches)
    _within(batches, "p_wait", theory.p_wait, width=0.1)
    assert theory.asa_s is not None
    _within(batches, "asa", theory.asa_s, width=15.0)


def test_erlang_a_probability_of_waiting_abandon_and_wait(tmp_path: Path) -> None:
    theory = erlang_a(PER_HOUR, AHT, 120.0, AGENTS)
    batches = _hourly(tmp_path, 120.0, seed=11)
    _within(batches, "p_wait", theory.p_wait, width=0.1)
    _within(batches, "p_abandon", theory.p_abandon, width=0.05)
    _within(batches, "mean_wait", theory.mean_wait_s, width=5.0)


def test_erlang_a_without_impatience_is_erlang_c() -> None:
    a = erlang_a(PER_HOUR, AHT, 1e12, AGENTS)
    c = erlang_c(PER_HOUR, AHT, AGENTS)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.mean_wait_s == pytest.approx(c.mean_wait_s, rel=1e-6)


SHIPPED = [
    ("config", "examples/traffic/nantong.yaml", "40"),
    ("examples/liyang", "examples/traffic/liyang.yaml", "15"),
]


@pytest.fixture(scope="module")
def day_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The module's whole-day runs of ``hotline simulate`` and ``hotline bench simulate``.

    Each is a process of its own running for seconds; they go a few at a
    time, and each test reads the one it is about (``folder`` holds their files).
    """
    folder = tmp_path_factory.mktemp("day-runs")
    runs: dict[str, list[str]] = {}
    for config, traffic, seats in SHIPPED:
        report = folder / f"{Path(config).name}.html"
        runs[config] = [
            "simulate", "--config", config, "--traffic", traffic, "--seats", seats,
            "--json", "--html", str(report), "--quiet",
        ]  # fmt: skip
    # Liyang's profile at a quarter of its calls: the search still runs some twenty
    # days and staffs the night and the peak differently, in a quarter of the time.
    yaml = YAML()
    traffic = yaml.load((REPO / "examples/traffic/liyang.yaml").read_text(encoding="utf-8"))
    traffic["calls"] = traffic["calls"] // 4
    quarter = folder / "liyang-quarter.yaml"
    with quarter.open("w", encoding="utf-8") as fh:
        yaml.dump(traffic, fh)
    runs["search"] = [
        "simulate", "--config", "examples/liyang", "--traffic", str(quarter),
        "--date", "2017-06-15", "--target", "接通率>=0.9", "--json", "--quiet",
    ]  # fmt: skip
    runs["bench"] = [
        "bench", "simulate", "--json", "--skip-search", "--large-calls", "1500",
        "--large-seats", "20",
    ]  # fmt: skip
    with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        done = {key: pool.submit(_hotline, *argv) for key, argv in runs.items()}
        return {"folder": folder} | {key: run.result() for key, run in done.items()}


@pytest.mark.parametrize(("config", "traffic", "seats"), SHIPPED)
def test_shipped_profiles_run_and_write_the_report(
    day_runs: dict[str, Any], config: str, traffic: str, seats: str
) -> None:
    report = day_runs["folder"] / f"{Path(config).name}.html"
    done = day_runs[config]
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    total = result["total"]
    for key in ("offered", "answered", "abandoned", "connection_rate", "within_15s_rate"):
        assert key in total
    assert total["offered"] > 500
    assert total["answered"] + total["abandoned"] <= total["offered"]
    assert 0.5 < total["connection_rate"] <= 1.0
    assert len(result["intervals"]) == 96
    assert sum(i["offered"] for i in result["intervals"]) == total["offered"]
    assert {i["agents"] for i in result["intervals"]} == {int(seats)}
    assert sum(q["offered"] for q in result["queues"].values()) == total["offered"]
    page = report.read_text(encoding="utf-8")
    assert (
        page.count("<svg") >= 3
        and "<script" not in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )


def test_more_seats_answer_more_calls() -> None:
    def rate(seats: str) -> float:
        done = _hotline(
            "simulate", "--config", "examples/liyang", "--traffic",
            "examples/traffic/liyang.yaml", "--seats", seats, "--json", "--quiet",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        value: float = json.loads(done.stdout)["total"]["connection_rate"]
        return value

    with ThreadPoolExecutor(2) as pool:  # two processes of their own, side by side
        few, many = pool.map(rate, ["6", "20"])
    assert few < many


def test_text_tables_and_what_if() -> None:
    done = _hotline(
        "simulate", "--config", "examples/liyang", "--traffic", "examples/traffic/liyang.yaml",
        "--seats", "15", "--what-if", "date=2017-05-15", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "接通率" in done.stdout and "date=2017-05-15" in done.stdout
    assert "08:00" in done.stdout


def test_help_lists_simulate() -> None:
    done = _hotline("--help")
    assert "simulate" in done.stdout


BAD_PROFILES = [
    (
        "lines: {'12345': {share: 1}}\ntalk: {dist: lognormal, mean: 100}\ncalls: 10\ncurve: {'00:00': 1}\n",
        ":2: talk: lognormal needs sd",
    ),
    (
        "lines:\n  '12345': {intervals: {'08:10': 3}}\ntalk: {dist: fixed, value: 3}\n",
        ":2: lines.12345.intervals: ",
    ),
    ("lines: [\n", ":2: YAML syntax"),
    (
        "lines: {'12345': {share: 1}}\ntalk: {dist: fixed, value: 3}\nsurvy: {}\n",
        ":3: survy: unknown key",
    ),
]
BAD_OPTIONS = [
    (["--seats", "forty"], "--seats 'forty'"),
    (["--target", "接通率>0.95"], "--target"),
    (["--what-if", "colour=blue"], "--what-if 'colour'"),
    (["--what-if", "seats"], "--what-if 'seats': write KEY=VALUE"),
    (["--date", "2026-13-01"], "--date '2026-13-01'"),
    (["--days", "0"], "--days"),
]


def _profile_file(folder: Path, content: str) -> Path:
    """Where the refusals fixture wrote the bad profile ``content``."""
    return folder / f"bad-{[c for c, _ in BAD_PROFILES].index(content)}.yaml"


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``hotline simulate`` run with every bad profile and every bad option of this module.

    Each run is a process of its own; they go a few at a time, and each test
    below reads the one it is about.
    """
    folder = tmp_path_factory.mktemp("bad-profiles")
    runs: dict[str, list[str]] = {}
    for content, _ in BAD_PROFILES:
        bad = _profile_file(folder, content)
        bad.write_text(content, encoding="utf-8")
        runs[content] = ["--config", "config", "--traffic", str(bad), "--seats", "3"]
    for args, _ in BAD_OPTIONS:
        runs[" ".join(args)] = [
            "--config", "config", "--traffic", "examples/traffic/nantong.yaml", *args,
        ]  # fmt: skip
    with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        done = {key: pool.submit(_hotline, "simulate", *argv) for key, argv in runs.items()}
        return {"folder": folder} | {key: run.result() for key, run in done.items()}


@pytest.mark.parametrize(("content", "expected"), BAD_PROFILES)
def test_bad_profile_is_one_line_with_its_place(
    refusals: dict[str, Any], content: str, expected: str
) -> None:
    bad = _profile_file(refusals["folder"], content)
    with pytest.raises(SimulateError, match=None) as caught:
        load_model(bad, Profile)
    assert expected in str(caught.value) and str(caught.value).startswith(str(bad))
    done = refusals[content]
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and expected in done.stderr


@pytest.mark.parametrize(("args", "expected"), BAD_OPTIONS)
def test_bad_options_are_one_line(refusals: dict[str, Any], args: list[str], expected: str) -> None:
    done = refusals[" ".join(args)]
    assert done.returncode == 1, done.stdout
    assert done.stderr.count("\n") == 1 and expected in done.stderr


def test_staffing_search_meets_the_target(day_runs: dict[str, Any]) -> None:
    done = day_runs["search"]
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["search"]["met"] is True and result["search"]["simulations"] > 1
    assert result["total"]["connection_rate"] >= 0.9
    assert min(i["agents"] for i in result["intervals"]) >= 1
    assert max(i["agents"] for i in result["intervals"]) > min(
        i["agents"] for i in result["intervals"]
    )


def test_profile_fitted_from_history_rows() -> None:
    config = load_config(REPO / "config")
    zone = config.timezone
    rows = []
    monday = dt.date(2026, 11, 2)
    for week in range(4):
        day = monday + dt.timedelta(days=7 * week)
        for n in range(8):  # eight calls at 09:00-09:15 each Monday
            at = dt.datetime.combine(day, dt.time(9, n), tzinfo=zone)
            answered = n % 4 != 0
            rows.append(
                {
                    "dialled": "12345",
                    "arrived_at": at,
                    "queued_at": at + dt.timedelta(seconds=2),
                    "answered_at": at + dt.timedelta(seconds=12) if answered else None,
                    "ended_at": at + dt.timedelta(seconds=132 if answered else 32),
                    "outcome": "answered" if answered else "abandoned",
                    "rating": 1 if answered else None,
                    "hangup_by": "agent",
                    "menu_path": [],
                }
            )
        # a Tuesday call, left out by --weekday mon
        rows.append(
            {
                **rows[-1],
                "arrived_at": dt.datetime.combine(
                    day + dt.timedelta(days=1), dt.time(9), tzinfo=zone
                ),
            }
        )
    profile = fit(rows, config, monday, monday + dt.timedelta(days=27), 0)
    expected = profile.expected()["12345"]
    assert expected[36] == pytest.approx(8.0)  # 09:00
    assert sum(expected) == pytest.approx(8.0)
    assert profile.talk.expected == pytest.approx(120.0)
    # 32 calls waited 10 s (answered) or 30 s (abandoned): 24*10 + 8*30 seconds over 8 abandons
    assert profile.patience is not None and profile.patience.expected == pytest.approx(60.0)
    assert profile.survey == {"1": 24}


async def test_from_history_reads_the_stored_calls(empty_dsn: str) -> None:
    from cti.store import Database

    config = load_config(REPO / "config")
    zone = config.timezone
    db = Database(empty_dsn, min_size=1, max_size=1)
    await db.open()
    try:
        monday = dt.date(2026, 11, 2)
        for week in range(2):
            for n in range(6):  # six calls at 10:00-10:15 on each of two Mondays
                at = dt.datetime.combine(
                    monday + dt.timedelta(days=7 * week), dt.time(10, n), tzinfo=zone
                )
                await db.execute(
                    "INSERT INTO calls (call_id, dialled, arrived_at, queued_at, answered_at,"
                    " ended_at, outcome, queue, hangup_by) VALUES ($1, '12345', $2, $3, $4, $5,"
                    " 'answered', 'general', 'caller')",
                    f"h-{week}-{n}",
                    at,
                    at + dt.timedelta(seconds=2),
                    at + dt.timedelta(seconds=5),
                    at + dt.timedelta(seconds=95),
                )
    finally:
        await db.close()
    env = {**os.environ, "HOTLINE_DATABASE_URL": empty_dsn}
    args = ["simulate", "--config", "config", "--from-history", "2026-11-02..2026-11-15"]
    done = await asyncio.to_thread(
        _hotline, *args, "--weekday", "mon", "--seats", "2", "--json", "--quiet", env=env
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["date"] == "2026-11-15"
    busy = [i for i in result["intervals"] if i["offered"]]
    assert {i["start"] for i in busy} <= {"10:00", "10:15"} and busy
    assert result["total"]["offered"] >= 1
    env["HOTLINE_DATABASE_URL"] = empty_dsn.rsplit("/", 1)[0] + "/no_such_database"
    done = await asyncio.to_thread(_hotline, *args, "--seats", "2", env=env)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("hotline simulate: --from-history")


def test_bench_simulate_prints_its_figures(day_runs: dict[str, Any]) -> None:
    done = day_runs["bench"]
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["nantong_day_s"] > 0 and figures["large_day_s"] > 0
    assert figures["nantong_calls"] > 9000 and 1200 < figures["large_calls"] < 1800
    assert set(figures["met"]) == {"nantong_day_s", "large_day_s"}


def test_roster_and_seat_counts(tmp_path: Path) -> None:
    from simulate.staffing import Roster, parse_seats, roster_staffing

    assert parse_seats("40") == [40] * 96
    levels = parse_seats("00:00=8,08:00=40,20:00=12")
    assert levels[0] == 8 and levels[31] == 8 and levels[32] == 40 and levels[80] == 12
    roster_file = tmp_path / "roster.yaml"
    roster_file.write_text(
        "shifts:\n"
        '  - {from: "08:00", to: "17:00", agents: 3}\n'
        '  - {from: "08:00", to: "17:00", agents: 1, skills: {market: 6}}\n'
        '  - {from: "20:00", to: "08:00", agent: "1001"}\n',
        encoding="utf-8",
    )
    config = load_config(REPO / "config")
    pool = Pool(config)
    staffing = roster_staffing(load_model(roster_file, Roster), pool, config)
    assert staffing.levels[32] == 4 and staffing.levels[0] == 1 and staffing.levels[79] == 0
    assert staffing.shifts[90] == ("1001",)
    market = [
        a for a in pool.agents if a.id in staffing.shifts[40] and a.skills == (("market", 6),)
    ]
    assert len(market) == 1
    roster_file.write_text(
        'shifts:\n  - {from: "08:00", to: "17:00", agent: "9999"}\n', encoding="utf-8"
    )
    with pytest.raises(SimulateError, match="no agent 9999"):
        roster_staffing(load_model(roster_file, Roster), Pool(config), config)
    roster_file.write_text(
        'shifts:\n  - {from: "08:07", to: "17:00", agents: 2}\n', encoding="utf-8"
    )
    with pytest.raises(SimulateError, match=r"roster.yaml:2: shifts\[0\]"):
        load_model(roster_file, Roster)
