"""Where a dialled number goes, by date and time: merged-line phases and time conditions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cti.config import Config, LinePhase, load_config
from cti.config.sections.platform import add_months

pytestmark = pytest.mark.foundation

ROOT = Path(__file__).resolve().parent.parent
CST = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


@pytest.fixture(scope="module")
def nantong() -> Config:
    return load_config(ROOT / "config")


@pytest.fixture(scope="module")
def liyang() -> Config:
    return load_config(ROOT / "examples" / "liyang")


@pytest.fixture(scope="module")
def minimal() -> Config:
    return load_config(ROOT / "tests" / "fixtures" / "configs" / "minimal")


@pytest.mark.parametrize(
    ("day", "phase", "route", "queue", "hangup"),
    [
        ("2014-12-31", LinePhase.BEFORE_GO_LIVE, "merged_line", "general", False),
        ("2015-01-01", LinePhase.TRANSITION, "merged_line", "general", False),
        ("2015-03-31", LinePhase.TRANSITION, "merged_line", "general", False),
        ("2015-04-01", LinePhase.AFTER_CUTOVER, "number_withdrawn", None, True),
        ("2026-06-01", LinePhase.AFTER_CUTOVER, "number_withdrawn", None, True),
    ],
)
def test_a_withdrawn_nantong_line_over_time(
    nantong: Config, day: str, phase: LinePhase, route: str, queue: str | None, hangup: bool
) -> None:
    decision = nantong.resolve("85098110", at(day))
    assert (decision.kind, decision.phase, decision.route_id) == ("merged", phase, route)
    assert (decision.route.queue, decision.route.hangup) == (queue, hangup)
    assert decision.line is not None and decision.line.department == "旅游局"


def test_the_transition_announcement_can_be_skipped(nantong: Config) -> None:
    route = nantong.resolve("85098110", at("2015-02-01")).route
    assert route.announcement == "merged_line_notice" and route.skippable


def test_a_kept_number_after_its_cut_over(nantong: Config) -> None:
    decision = nantong.resolve("12301", at("2016-01-01"))
    assert (decision.phase, decision.route_id, decision.route.queue) == (
        LinePhase.AFTER_CUTOVER,
        "kept_line",
        "general",
    )


def test_main_and_unknown_numbers(nantong: Config) -> None:
    main = nantong.resolve("12345", at("2026-01-01", hour=3))  # a holiday night: still 7x24
    assert (main.kind, main.route_id, main.route.queue, main.closed) == (
        "main",
        "main",
        "general",
        False,
    )
    assert main.route.notice == "recording_notice"
    unknown = nantong.resolve("88888888", at("2026-01-01"))
    assert (unknown.kind, unknown.route_id, unknown.route.hangup) == (
        "unknown",
        "not_in_service",
        True,
    )
    # Emergency and parallel numbers are never routes: dialled here they are not in service.
    assert nantong.resolve("110", at("2026-01-01")).kind == "unknown"
    assert nantong.resolve("12319", at("2026-01-01")).kind == "unknown"


def test_routed_numbers(nantong: Config) -> None:
    assert len(nantong.routed_numbers) == 36
    assert {"12345", "85529193", "85510951"} <= nantong.routed_numbers
    assert nantong.merged_line("12345") is None
    assert nantong.merged_line("85510951") is nantong.merged_line("85529193")


def test_liyang_modes_route_differently(liyang: Config) -> None:
    desk = liyang.resolve("12315", at("2017-06-01"))
    assert (desk.route_id, desk.route.queue) == ("desk_12315", "desk_12315")
    assert liyang.resolve("12315", at("2019-01-01")).route_id == "desk_12315"
    grid = liyang.resolve("12369", at("2017-09-01"))
    assert (grid.route_id, grid.route.queue, grid.route.announcement) == (
        "grid_line",
        "general",
        None,
    )
    assert liyang.resolve("12369", at("2019-01-01")).route_id == "grid_line"
    direct = liyang.resolve("87572588", at("2018-06-30"))
    assert (direct.phase, direct.route_id) == (LinePhase.TRANSITION, "merged_line")
    assert liyang.resolve("87572588", at("2018-07-01")).route_id == "number_withdrawn"
    assert liyang.line_dates("87572588").go_live_from == "batch 2017-09"
    assert liyang.line_dates("87572588").cut_over_from == "platform"


def test_time_condition_takes_the_closed_route(minimal: Config) -> None:
    # minimal: weekdays 08:30-17:30, 劳动节 2024-05-01..05, 2024-05-11 (Saturday) worked.
    assert minimal.resolve("12345", at("2024-02-05", hour=10)).route_id == "main"
    night = minimal.resolve("12345", at("2024-02-05", hour=20))
    assert (night.route_id, night.closed, night.route.hangup) == ("after_hours", True, True)
    assert minimal.resolve("12345", at("2024-05-02", hour=10)).closed  # holiday
    assert not minimal.resolve("12345", at("2024-05-11", hour=10)).closed  # adjusted workday
    # The extra DID takes its own route.
    assert minimal.resolve("85000099", at("2024-02-05", hour=10)).kind == "number"


def test_minimal_line_dates_come_from_the_most_specific_place(minimal: Config) -> None:
    platform = minimal.line_dates("85000001")
    assert (platform.go_live, platform.cut_over) == (dt.date(2024, 1, 1), dt.date(2024, 4, 1))
    batch = minimal.line_dates("85000003")
    assert (batch.go_live, batch.cut_over) == (dt.date(2024, 3, 1), dt.date(2024, 9, 1))
    assert minimal.line_phase("85000003", dt.date(2024, 2, 29)) is LinePhase.BEFORE_GO_LIVE


def test_local_date_uses_the_platform_time_zone(nantong: Config) -> None:
    # 2015-03-31 17:00 UTC is 2015-04-01 01:00 in Nantong: already cut over.
    late = dt.datetime(2015, 3, 31, 17, 0, tzinfo=dt.UTC)
    assert nantong.resolve("85098110", late).phase is LinePhase.AFTER_CUTOVER
    with pytest.raises(ValueError, match="aware"):
        nantong.resolve("85098110", dt.datetime(2015, 3, 31, 17, 0))


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2015-01-01", 3, "2015-04-01"),
        ("2015-11-30", 3, "2016-02-29"),
        ("2017-08-31", 1, "2017-09-30"),
    ],
)
def test_add_months_clamps_to_the_month_end(start: str, months: int, end: str) -> None:
    assert add_months(dt.date.fromisoformat(start), months) == dt.date.fromisoformat(end)


def test_dial_strings_of_hand_off_targets(nantong: Config, liyang: Config) -> None:
    city = nantong.parallel_line("city_management")
    assert city is not None and nantong.dial_string(city) == "PJSIP/12319@hotline-12319"
    power = nantong.parallel_line("power")
    assert power is not None and nantong.dial_string(power) == "PJSIP/95598@carrier"
    police = next(e for e in nantong.lines.emergency if e.number == "110")
    assert nantong.dial_string(police) == "PJSIP/110@carrier"
    assert nantong.dial_string("13800138000") == "PJSIP/13800138000@carrier"
    assert nantong.parallel_line("nosuch") is None
    local_tax = liyang.parallel_line("local_tax")
    assert local_tax is not None and liyang.dial_string(local_tax) == "PJSIP/12366@carrier"
    assert local_tax.extension == "2"


def test_sound_falls_back_to_the_primary_language(nantong: Config) -> None:
    assert nantong.sound("recording_notice", "en") == "hotline/en/recording-notice"
    assert nantong.sound("beep", "en") == "beep"
    assert nantong.sound("recording_notice", "zh") == "hotline/zh/recording-notice"
    with pytest.raises(KeyError):
        nantong.sound("nosuch", "zh")
