"""The satisfaction survey (满意度评价): five levels by one key, timeouts, retries, hang-ups."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ivr import (
    CancelTimer,
    Digit,
    Hangup,
    IllegalTransition,
    NotRated,
    NotRatedReason,
    Play,
    PlaybackFinished,
    Rated,
    SnapshotError,
    StartTimer,
    StopPlayback,
    Survey,
    SurveySession,
)
from ivr.survey import SURVEY_TRANSITIONS, SurveyState
from tests.ivr_support import ROOT, WEEKDAY_MORNING, Shell, load_yaml, normalise

pytestmark = pytest.mark.flows

NANTONG = Survey.model_validate(load_yaml(ROOT / "config" / "survey.yaml"))
NOW = WEEKDAY_MORNING


def shell_for(survey: Survey = NANTONG, language: str = "zh") -> Shell:
    return Shell(SurveySession(survey, session_id="s", language=language), NOW)  # type: ignore[arg-type]


def survey(**changes: Any) -> Survey:
    data = NANTONG.model_dump()
    data.update(changes)
    return Survey.model_validate(data)


def test_shipped_scale_is_the_five_levels_in_order() -> None:
    labels = [(lv.key, lv.level, lv.label) for lv in NANTONG.levels]
    assert labels == [
        ("1", 1, "非常满意"),
        ("2", 2, "满意"),
        ("3", 3, "基本满意"),
        ("4", 4, "不满意"),
        ("5", 5, "非常不满意"),
    ]


@pytest.mark.parametrize(
    ("key", "level", "label"),
    [("1", 1, "非常满意"), ("3", 3, "基本满意"), ("5", 5, "非常不满意")],
)
def test_one_key_rates_then_thanks_then_hangs_up(key: str, level: int, label: str) -> None:
    shell = shell_for(language="en")
    assert shell.start() == [Play("s-p1", ("survey_question",), "en", True)]
    assert shell.finish_playback() == [StartTimer("s-t2", 8.0)]
    out = shell.press(key)
    assert out == [
        CancelTimer("s-t2"),
        Rated(level, label, key, NOW),
        Play("s-p3", ("survey_thanks",), "en", False),
    ]
    assert shell.press("1") == []  # the thanks prompt cannot be rated again
    assert shell.finish_playback() == [Hangup("survey_rated")]
    assert shell.ended
    session = shell.session
    assert isinstance(session, SurveySession) and session.result == Rated(level, label, key, NOW)


def test_a_key_during_the_question_rates_at_once() -> None:
    shell = shell_for()
    shell.start()
    out = shell.press("2")
    assert out[:2] == [StopPlayback("s-p1"), Rated(2, "满意", "2", NOW)]


def test_timeout_is_not_rated() -> None:
    shell = shell_for()
    shell.start()
    shell.finish_playback()
    out = shell.fire_timer()
    assert out == [NotRated(NotRatedReason.TIMEOUT, NOW), Play("s-p3", ("goodbye",), "zh", False)]
    assert shell.finish_playback() == [Hangup("survey_not_rated")]


def test_an_invalid_key_is_asked_again_once_then_not_rated() -> None:
    shell = shell_for()
    shell.start()
    shell.finish_playback()
    out = shell.press("9")
    assert out == [
        CancelTimer("s-t2"),
        Play("s-p3", ("survey_invalid", "survey_question"), "zh", True),
    ]
    out = shell.press("#")
    assert out == [
        StopPlayback("s-p3"),
        NotRated(NotRatedReason.INVALID, NOW),
        Play("s-p4", ("goodbye",), "zh", False),
    ]


def test_an_invalid_key_then_a_valid_one_rates() -> None:
    shell = shell_for()
    shell.start()
    shell.press("0")
    shell.finish_playback()
    assert Rated(4, "不满意", "4", NOW) in shell.press("4")


@pytest.mark.parametrize("moment", ["asking", "waiting", "closing"])
def test_caller_hangup_is_not_rated_unless_already_rated(moment: str) -> None:
    shell = shell_for()
    shell.start()
    if moment != "asking":
        shell.finish_playback()
    if moment == "closing":
        shell.press("1")
    out = shell.hang_up()
    assert not any(isinstance(c, Hangup) for c in out)
    assert shell.ended and not shell.playbacks and not shell.timers
    session = shell.session
    assert isinstance(session, SurveySession)
    if moment == "closing":
        assert isinstance(session.result, Rated)
        assert not any(isinstance(c, NotRated) for c in out)
    else:
        assert out[-1] == NotRated(NotRatedReason.CALLER_HANGUP, NOW)


def test_exactly_one_outcome_per_session_whatever_happens() -> None:
    shell = shell_for()
    shell.start()
    shell.press("1")
    shell.hang_up()
    session = shell.session
    assert session.handle(Digit("2"), NOW) == []
    assert len(shell.of(Rated)) + len(shell.of(NotRated)) == 1


def test_configurable_keys_and_labels_and_no_closing_prompts() -> None:
    custom = survey(
        levels=[
            {"key": "9", "level": 1, "label": "好"},
            {"key": "8", "level": 2, "label": "不好"},
        ],
        thanks_prompts=[],
        not_rated_prompts=[],
    )
    shell = shell_for(custom)
    shell.start()
    out = shell.press("8")
    assert out == [StopPlayback("s-p1"), Rated(2, "不好", "8", NOW), Hangup("survey_rated")]
    assert shell.ended


def test_disabled_survey_ends_not_rated_at_once() -> None:
    shell = shell_for(survey(enabled=False))
    assert shell.start() == [NotRated(NotRatedReason.DISABLED, NOW), Hangup("survey_disabled")]
    assert shell.ended


def test_stale_ids_and_illegal_calls() -> None:
    session = SurveySession(NANTONG, session_id="s", language="zh")  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        session.handle(Digit("1"), NOW)
    session.start(NOW)
    with pytest.raises(IllegalTransition):
        session.start(NOW)
    assert session.handle(PlaybackFinished("s-p9"), NOW) == []  # type: ignore[arg-type]
    assert set(SURVEY_TRANSITIONS) == set(SurveyState)
    assert SURVEY_TRANSITIONS[SurveyState.CLOSING] == frozenset({SurveyState.FINISHED})


@pytest.mark.parametrize(
    "script",
    [
        ["play", "3", "play"],
        ["play", "9", "play", "timer", "play"],
        ["7", "play", "2", "play"],
        ["play", "timer", "hangup"],
    ],
)
def test_restore_at_every_step_gives_the_same_commands(script: list[str]) -> None:
    for cut in range(len(script) + 1):
        first = shell_for()
        first.start()
        for action in script[:cut]:
            first.act(action)
        assert isinstance(first.session, SurveySession)
        snapshot = json.loads(json.dumps(first.session.snapshot()))
        mark = len(first.log)
        for action in script[cut:]:
            first.act(action)
        restored = SurveySession.restore(NANTONG, snapshot)
        second = Shell(restored, NOW)
        second.adopt(restored.playback_id, restored.timer_id)
        second.resume()
        start = len(second.log)
        for action in script[cut:]:
            second.act(action)
        assert normalise(second.log[start:]) == normalise(first.log[mark:]), (script, cut)
        assert first.ended and second.ended


def test_restore_refuses_a_rating_off_the_new_scale() -> None:
    shell = shell_for()
    shell.start()
    shell.press("5")
    assert isinstance(shell.session, SurveySession)
    snapshot = shell.session.snapshot()
    smaller = survey(
        levels=[
            {"key": "1", "level": 1, "label": "满意"},
            {"key": "2", "level": 2, "label": "不满意"},
        ]
    )
    with pytest.raises(SnapshotError):
        SurveySession.restore(smaller, snapshot)
    with pytest.raises(SnapshotError):
        SurveySession.restore(NANTONG, {**snapshot, "state": "asking"})
