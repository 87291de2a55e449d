"""Random event orders against the interpreter and the survey (Hypothesis).

Whatever the caller presses, whenever prompts end, timers run out, late events
arrive or the caller hangs up, a session: never raises; keeps the command
contract (checked by ``Shell`` on every batch); ends with exactly one
``Finished`` (survey: one outcome) within a bounded number of steps once prompts
and timers are let run; leaves every timer it started either cancelled or
fired; and, restored from a snapshot taken at any point, continues with the
same commands as if nothing had happened.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import (
    Calendar,
    Finished,
    IvrSession,
    MenuSet,
    NotRated,
    Play,
    PlaybackFinished,
    Rated,
    Survey,
    SurveySession,
    Timeout,
)
from tests.ivr_support import ROOT, Shell, at, load_yaml, normalise

pytestmark = pytest.mark.flows

CALENDAR = Calendar.model_validate(load_yaml(ROOT / "config" / "calendar.yaml"))
SURVEY = Survey.model_validate(load_yaml(ROOT / "config" / "survey.yaml"))

# Every node type, a goto between menus, a collect node and a multi-key menu.
ALL_NODES = MenuSet.model_validate(
    {
        "languages": ["zh", "en"],
        "menus": {
            "main": {
                "entry": "hello",
                "operator": "human",
                "nodes": {
                    "hello": {
                        "type": "play",
                        "prompts": ["hi"],
                        "interruptible": True,
                        "next": "lang",
                    },
                    "lang": {
                        "type": "language",
                        "prompts": ["pick"],
                        "choices": {"1": "zh", "2": "en"},
                        "next": "tag",
                    },
                    "tag": {"type": "set", "tags": ["menu"], "vars": {"k": "v"}, "next": "hours"},
                    "hours": {
                        "type": "time_condition",
                        "hours": {"mon": ["08:00-18:00"], "sat": ["09:00-12:00"]},
                        "open": "root",
                        "closed": "closed",
                        "holiday": "closed",
                    },
                    "closed": {"type": "hangup", "prompts": ["closed"], "reason": "closed"},
                    "root": {
                        "type": "menu",
                        "prompts": ["root"],
                        "choices": {"1": "q", "21": "sub", "22": "ticket", "3": "vm", "4": "out"},
                        "max_digits": 2,
                        "max_attempts": 3,
                        "timeout_prompts": ["again"],
                        "invalid_prompts": ["bad"],
                        "fallback": "q",
                    },
                    "sub": {"type": "goto", "menu": "second"},
                    "ticket": {
                        "type": "collect",
                        "prompts": ["no"],
                        "variable": "ticket",
                        "min_digits": 2,
                        "max_digits": 5,
                        "max_attempts": 2,
                        "fallback": "q",
                        "next": "q",
                    },
                    "vm": {"type": "voicemail", "beep_prompt": "beep", "queue": "general"},
                    "out": {"type": "transfer", "prompts": ["xfer"], "number": "12319"},
                    "human": {"type": "queue", "queue": "general", "prompts": ["agent"]},
                    "q": {"type": "queue", "queue": "general", "skills": {"s": 2}},
                },
            },
            "second": {
                "entry": "menu",
                "nodes": {
                    "menu": {
                        "type": "menu",
                        "prompts": ["second"],
                        "interruptible": False,
                        "choices": {"1": "back", "2": "bye"},
                        "fallback": "bye",
                    },
                    "back": {"type": "goto", "menu": "main", "node": "q"},
                    "bye": {"type": "hangup"},
                },
            },
        },
    }
)


def shipped(folder: str) -> MenuSet:
    return MenuSet.model_validate(load_yaml(ROOT / folder / "menus.yaml"))


MENU_SETS = {
    "nantong": shipped("config"),
    "liyang": shipped("examples/liyang"),
    "all_nodes": ALL_NODES,
}

MOMENTS = [
    at(2026, 3, 9, 10, 0),  # Monday
    at(2026, 3, 14, 10, 0),  # Saturday morning
    at(2026, 3, 14, 23, 0),  # Saturday night
    at(2026, 10, 3, 10, 0),  # National Day
    at(2026, 10, 10, 10, 0),  # Saturday worked for National Day
]

KEYS = list("0123456789*#ABCD")
action = st.one_of(
    st.sampled_from(["play", "play", "timer", "timer", "stale_play", "stale_timer"]),
    st.sampled_from(KEYS),
    st.just("hangup"),
)
actions = st.lists(action, max_size=40)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def step(shell: Shell, what: str) -> None:
    """One random event, delivered even when the session waits for nothing."""
    if what == "play":
        if shell.playbacks:
            shell.finish_playback()
        else:
            shell.send(PlaybackFinished("nobody-p0"))  # type: ignore[arg-type]
    elif what == "timer":
        if shell.timers:
            shell.fire_timer()
        else:
            shell.send(Timeout("nobody-t0"))  # type: ignore[arg-type]
    elif what == "stale_play":
        old = [c.playback_id for c in shell.of(Play) if c.playback_id not in shell.playbacks]
        shell.send(PlaybackFinished(old[-1] if old else "nobody-p1"))
    elif what == "stale_timer":
        old = shell.fired_timers + shell.cancelled_timers
        shell.send(Timeout(old[-1] if old else "nobody-t1"))  # type: ignore[arg-type]
    elif what == "hangup":
        shell.hang_up()
    else:
        shell.press(what)


def check_end(shell: Shell, outcome_types: tuple[type[Any], ...]) -> None:
    shell.settle(limit=200)
    assert shell.ended
    assert sorted(shell.cancelled_timers + shell.fired_timers) == sorted(shell.started_timers)
    assert len(shell.of(outcome_types)) == 1  # type: ignore[arg-type]


@SETTINGS
@given(
    name=st.sampled_from(sorted(MENU_SETS)),
    now=st.sampled_from(MOMENTS),
    script=actions,
)
def test_random_events_never_break_a_menu_session(
    name: str, now: dt.datetime, script: list[str]
) -> None:
    shell = Shell(IvrSession(MENU_SETS[name], CALENDAR, menu="main", session_id="c"), now)
    shell.start()
    for what in script:
        step(shell, what)
    check_end(shell, (Finished,))
    assert isinstance(shell.log[-1], Finished)


@SETTINGS
@given(
    name=st.sampled_from(sorted(MENU_SETS)),
    now=st.sampled_from(MOMENTS),
    script=actions,
    data=st.data(),
)
def test_a_restore_anywhere_continues_like_the_uninterrupted_session(
    name: str, now: dt.datetime, script: list[str], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(script)))
    menus = MENU_SETS[name]
    first = Shell(IvrSession(menus, CALENDAR, menu="main", session_id="c"), now)
    first.start()
    for what in script[:cut]:
        step(first, what)
    assert isinstance(first.session, IvrSession)
    snapshot = json.loads(json.dumps(first.session.snapshot()))
    mark = len(first.log)
    for what in script[cut:]:
        step(first, what)
    first.settle()

    restored = IvrSession.restore(menus, CALENDAR, snapshot)
    second = Shell(restored, now)
    second.adopt(restored.playback_id, restored.timer_id)
    second.resume()
    start = len(second.log)
    for what in script[cut:]:
        step(second, what)
    second.settle()
    assert normalise(second.log[start:]) == normalise(first.log[mark:])


@SETTINGS
@given(script=actions, enabled=st.booleans())
def test_random_events_never_break_a_survey(script: list[str], enabled: bool) -> None:
    survey = SURVEY if enabled else SURVEY.model_copy(update={"enabled": False})
    shell = Shell(SurveySession(survey, session_id="s", language="zh"), MOMENTS[0])  # type: ignore[arg-type]
    shell.start()
    for what in script:
        step(shell, what)
    check_end(shell, (Rated, NotRated))
