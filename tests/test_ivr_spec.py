"""The IVR's YAML models: shipped files, strictness, wiring checks, the holiday calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from ivr import Calendar, CalendarError, MenuSet, Survey
from tests.ivr_support import ROOT, at, load_yaml

pytestmark = pytest.mark.flows

FOLDERS = {"nantong": ROOT / "config", "liyang": ROOT / "examples" / "liyang"}


def menu_set(nodes: dict[str, Any], entry: str = "a", **menu: Any) -> dict[str, Any]:
    return {"languages": ["zh", "en"], "menus": {"m": {"entry": entry, "nodes": nodes, **menu}}}


QUEUE = {"type": "queue", "queue": "general"}


# ---------------------------------------------------------------- shipped files


@pytest.mark.parametrize("city", sorted(FOLDERS))
def test_shipped_files_validate(city: str) -> None:
    folder = FOLDERS[city]
    menus = MenuSet.model_validate(load_yaml(folder / "menus.yaml"))
    calendar = Calendar.model_validate(load_yaml(folder / "calendar.yaml"))
    survey = Survey.model_validate(load_yaml(folder / "survey.yaml"))
    assert "main" in menus.menus and menus.default_language == "zh"
    assert calendar.hours is None, "12345 is 7x24 (GB/T 33358)"
    assert [lv.label for lv in survey.levels] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]
    assert calendar.references() == {"prompts": set(), "queues": set(), "menus": set()}
    assert survey.references()["prompts"] >= {"survey_question", "survey_thanks"}


def test_nantong_menu_reaches_the_general_queue_and_the_three_specialist_desks() -> None:
    menus = MenuSet.model_validate(load_yaml(FOLDERS["nantong"] / "menus.yaml"))
    refs = menus.references()
    assert refs["queues"] == {"general", "english", "desk_12315", "desk_12333", "desk_12329"}
    assert refs["menus"] == set()
    assert {"menu_main", "invalid_input", "language_choice"} <= refs["prompts"]
    main = menus.menus["main"]
    assert main.operator == "to_human"
    root = main.nodes["main_menu"]
    assert root.type == "menu" and root.max_attempts == 3 and root.fallback == "to_general"


@pytest.mark.parametrize("city", sorted(FOLDERS))
def test_every_queue_and_prompt_the_ivr_uses_is_defined_by_the_deployment(city: str) -> None:
    folder = FOLDERS[city]
    queues = set(load_yaml(folder / "queues.yaml")["queues"])
    prompts = set(load_yaml(folder / "prompts.yaml")["prompts"])
    menus = MenuSet.model_validate(load_yaml(folder / "menus.yaml")).references()
    survey = Survey.model_validate(load_yaml(folder / "survey.yaml")).references()
    assert menus["queues"] <= queues
    assert menus["prompts"] | survey["prompts"] <= prompts


def test_liyang_menu_transfers_to_12319_and_collects_a_ticket_number() -> None:
    menus = MenuSet.model_validate(load_yaml(FOLDERS["liyang"] / "menus.yaml"))
    nodes = menus.menus["main"].nodes
    assert nodes["city_management"].type == "transfer"
    assert nodes["city_management"].number == "12319"  # type: ignore[union-attr]
    assert nodes["ticket_number"].type == "collect"
    refs = menus.references()
    assert refs["queues"] == {"general", "desk_12315", "desk_12333", "desk_12329"}


def test_every_model_has_a_json_schema_for_editors() -> None:
    for model in (MenuSet, Calendar, Survey):
        schema = model.model_json_schema()
        assert schema["type"] == "object" and schema["additionalProperties"] is False


# ---------------------------------------------------------------- menus


def errors_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        MenuSet.model_validate(data)
    return info.value.errors()  # type: ignore[return-value]


def test_unknown_key_is_an_error_located_at_the_key() -> None:
    errors = errors_of(menu_set({"a": {**QUEUE, "colour": "red"}}))
    assert errors[0]["type"] == "extra_forbidden"
    assert errors[0]["loc"] == ("menus", "m", "nodes", "a", "queue", "colour")


def test_unknown_node_type_is_an_error() -> None:
    errors = errors_of(menu_set({"a": {"type": "dance"}}))
    assert errors[0]["type"] == "union_tag_invalid"


@pytest.mark.parametrize(
    ("nodes", "extra", "message"),
    [
        (
            {"a": {"type": "play", "prompts": ["p"], "next": "nowhere"}},
            {},
            "unknown node 'nowhere'",
        ),
        ({"b": QUEUE}, {}, "entry node 'a'"),
        ({"a": QUEUE}, {"operator": "human"}, "operator node 'human'"),
        (
            {
                "a": {"type": "menu", "prompts": ["p"], "choices": {"0": "a2"}, "fallback": "a2"},
                "a2": QUEUE,
            },
            {"operator": "a2"},
            "starts with 0",
        ),
        (
            {
                "a": {"type": "set", "tags": ["x"], "next": "b"},
                "b": {"type": "goto", "menu": "m", "node": "a"},
            },
            {},
            "loop without waiting",
        ),
        (
            {
                "a": {"type": "language", "prompts": ["p"], "choices": {"1": "fr"}, "next": "b"},
                "b": QUEUE,
            },
            {},
            "unknown 'fr'",
        ),
        ({"a": {"type": "goto", "menu": "other"}}, {}, "goto unknown menu 'other'"),
        (
            {
                "a": {
                    "type": "language",
                    "prompts": ["p"],
                    "choices": {"1": "en"},
                    "next": "b",
                    "next_by_language": {"en": "c"},
                },
                "b": QUEUE,
            },
            {},
            "next_by_language.en goes to unknown node 'c'",
        ),
        (
            {
                "a": {
                    "type": "menu",
                    "prompts": ["p"],
                    "choices": {"123": "b"},
                    "max_digits": 2,
                    "fallback": "b",
                },
                "b": QUEUE,
            },
            {},
            "longer than max_digits",
        ),
        (
            {
                "a": {
                    "type": "collect",
                    "prompts": ["p"],
                    "variable": "v",
                    "min_digits": 5,
                    "max_digits": 3,
                    "fallback": "b",
                    "next": "b",
                },
                "b": QUEUE,
            },
            {},
            "min_digits 5 > max_digits 3",
        ),
        ({"a": {"type": "set", "next": "b"}, "b": QUEUE}, {}, "needs tags or vars"),
    ],
)
def test_miswired_menus_are_refused_with_a_message_naming_the_problem(
    nodes: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    errors = errors_of(menu_set(nodes, **extra))
    assert any(message in e["msg"] for e in errors), errors


def test_bare_numeric_keys_from_yaml_are_read_as_key_presses() -> None:
    data = menu_set(
        {
            "a": {"type": "menu", "prompts": ["p"], "choices": {1: "b", 2: "b"}, "fallback": "b"},
            "b": QUEUE,
        }
    )
    menus = MenuSet.model_validate(data)
    assert set(menus.menus["m"].nodes["a"].choices) == {"1", "2"}  # type: ignore[union-attr]


def test_bad_values_are_refused() -> None:
    assert errors_of(menu_set({"a": {**QUEUE, "priority": 101}}))[0]["loc"][-1] == "priority"
    assert (
        errors_of(menu_set({"a": {"type": "transfer", "number": "12a"}}))[0]["loc"][-1] == "number"
    )
    assert errors_of(menu_set({"a": {**QUEUE, "skills": {"s": 11}}}))[0]["loc"][-2:] == (
        "skills",
        "s",
    )
    assert errors_of({"languages": ["zh", "en", "fr"], "menus": {}})[0]["loc"] == ("languages",)


def test_models_are_frozen() -> None:
    menus = MenuSet.model_validate(menu_set({"a": QUEUE}))
    with pytest.raises(ValidationError):
        menus.languages = ("en",)  # type: ignore[misc]


# ---------------------------------------------------------------- calendar

NANTONG_CALENDAR = Calendar.model_validate(load_yaml(FOLDERS["nantong"] / "calendar.yaml"))


def days(start: str, end: str) -> list[dt.date]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(n) for n in range((last - first).days + 1)]


def test_2026_public_holidays_as_published() -> None:
    expected = (
        days("2026-01-01", "2026-01-03")
        + days("2026-02-15", "2026-02-23")
        + days("2026-04-04", "2026-04-06")
        + days("2026-05-01", "2026-05-05")
        + days("2026-06-19", "2026-06-21")
        + days("2026-09-25", "2026-09-27")
        + days("2026-10-01", "2026-10-07")
    )
    year = days("2026-01-01", "2026-12-31")
    assert [d for d in year if NANTONG_CALENDAR.is_holiday(d)] == expected
    worked = [d for d in year if NANTONG_CALENDAR.is_adjusted_workday(d)]
    assert [d.isoformat() for d in worked] == [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ]
    assert all(d.weekday() >= 5 for d in worked)
    assert NANTONG_CALENDAR.holiday_name(dt.date(2026, 2, 17)) == "春节"


def test_a_7x24_calendar_is_open_at_night_on_weekends_and_on_holidays() -> None:
    for moment in (at(2026, 3, 14, 3, 0), at(2026, 2, 17, 23, 59), at(2026, 3, 11, 12, 0)):
        assert NANTONG_CALENDAR.is_open(moment)


OFFICE: dict[str, Any] = {
    d: ["08:30-12:00", "13:30-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")
}
OFFICE_CALENDAR = NANTONG_CALENDAR.model_copy(
    update={"hours": Calendar.model_validate({"timezone": "Asia/Shanghai", "hours": OFFICE}).hours}
)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (at(2026, 3, 11, 8, 29), False),
        (at(2026, 3, 11, 8, 30), True),
        (at(2026, 3, 11, 11, 59), True),
        (at(2026, 3, 11, 12, 0), False),  # the end of a range is closed
        (at(2026, 3, 11, 13, 30), True),
        (at(2026, 3, 14, 10, 0), False),  # Saturday
        (at(2026, 10, 1, 10, 0), False),  # National Day, a Thursday
        (at(2026, 10, 10, 10, 0), True),  # Saturday worked (调休): Monday's hours
        (at(2026, 10, 10, 12, 30), False),
        (dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC), True),  # 10:00 in Shanghai
        (dt.datetime(2026, 10, 9, 16, 30, tzinfo=dt.UTC), False),  # Saturday 00:30 local
    ],
)
def test_weekly_hours_with_holidays_and_adjusted_working_days(
    moment: dt.datetime, is_open: bool
) -> None:
    assert OFFICE_CALENDAR.is_open(moment) is is_open


def test_a_node_can_override_the_hours_and_naive_times_are_refused() -> None:
    hours = OFFICE_CALENDAR.hours
    assert NANTONG_CALENDAR.is_open(at(2026, 3, 14, 10, 0), hours) is False
    with pytest.raises(CalendarError):
        OFFICE_CALENDAR.is_open(dt.datetime(2026, 3, 11, 10, 0))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": "Asia/Shanghai", "hours": {"mon": ["9:00-12:00"]}}, "not HH:MM-HH:MM"),
        ({"timezone": "Asia/Shanghai", "hours": {"mon": ["12:00-09:00"]}}, "ends before it starts"),
        (
            {"timezone": "Asia/Shanghai", "hours": {"mon": ["08:00-12:00", "11:00-13:00"]}},
            "overlap",
        ),
        ({"timezone": "Asia/Shanghai", "hours": {"mon": ["08:00-24:30"]}}, "after 24:00"),
        (
            {
                "timezone": "Asia/Shanghai",
                "holidays": [{"name": "x", "start": "2026-01-03", "end": "2026-01-01"}],
            },
            "before it starts",
        ),
        (
            {
                "timezone": "Asia/Shanghai",
                "holidays": [
                    {"name": "a", "start": "2026-01-01", "end": "2026-01-03"},
                    {"name": "b", "start": "2026-01-03", "end": "2026-01-04"},
                ],
            },
            "overlap",
        ),
        (
            {
                "timezone": "Asia/Shanghai",
                "holidays": [
                    {
                        "name": "a",
                        "start": "2026-01-01",
                        "end": "2026-01-03",
                        "workdays": ["2026-01-10"],
                    },
                    {"name": "b", "start": "2026-01-09", "end": "2026-01-11"},
                ],
            },
            "working day of 'a' and a day off of 'b'",
        ),
        ({"timezone": "Asia/Shanghai", "hours": {"mon": []}, "extra": 1}, "Extra inputs"),
    ],
)
def test_bad_calendars_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Calendar.model_validate(data)
    assert message in str(info.value)


def test_full_day_range_ending_at_24_00() -> None:
    calendar = Calendar.model_validate(
        {"timezone": "Asia/Shanghai", "hours": {"sun": ["00:00-24:00"]}}
    )
    assert calendar.is_open(at(2026, 3, 15, 23, 59))
    assert not calendar.is_open(at(2026, 3, 16, 0, 0))


# ---------------------------------------------------------------- survey


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (
            [{"key": "1", "level": 1, "label": "a"}, {"key": "1", "level": 2, "label": "b"}],
            "share a key",
        ),
        (
            [{"key": "1", "level": 1, "label": "a"}, {"key": "2", "level": 3, "label": "b"}],
            "levels must be",
        ),
        (
            [{"key": "12", "level": 1, "label": "a"}, {"key": "2", "level": 2, "label": "b"}],
            "pattern",
        ),
    ],
)
def test_bad_scales_are_refused(levels: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Survey.model_validate({"question_prompts": ["q"], "levels": levels})
    assert message in str(info.value)
