"""The IVR interpreter, node type by node type, on small menus written for each case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivr import (
    Calendar,
    CalendarError,
    CancelTimer,
    Digit,
    EnterQueue,
    Finished,
    Hangup,
    IllegalTransition,
    IvrPhase,
    IvrSession,
    MenuSet,
    Outcome,
    Play,
    PlaybackFinished,
    RecordVoicemail,
    SetLanguage,
    SetTag,
    SetVar,
    StartTimer,
    StepResult,
    StopPlayback,
    Timeout,
    TransferToNumber,
    UnknownMenu,
)
from ivr.machine import apply_transition
from ivr.walk import TRANSITIONS, IvrState
from tests.ivr_support import WEEKDAY_MORNING, Shell, at

pytestmark = pytest.mark.flows

CALENDAR = Calendar.model_validate(
    {
        "timezone": "Asia/Shanghai",
        "holidays": [
            {
                "name": "国庆节",
                "start": "2026-10-01",
                "end": "2026-10-07",
                "workdays": ["2026-10-10"],
            }
        ],
    }
)


def menus(nodes: dict[str, Any], **menu: Any) -> MenuSet:
    """A menu set with one menu ``m`` entering at ``start``, plus a queue node ``q``."""
    nodes = {"q": {"type": "queue", "queue": "general"}, **nodes}
    return MenuSet.model_validate(
        {"languages": ["zh", "en"], "menus": {"m": {"entry": "start", "nodes": nodes, **menu}}}
    )


def menu_node(**extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "type": "menu",
        "prompts": ["ask"],
        "choices": {"1": "one", "2": "two"},
        "first_digit_timeout": 5,
        "inter_digit_timeout": 2,
        "max_attempts": 3,
        "timeout_prompts": ["no_input"],
        "invalid_prompts": ["invalid"],
        "fallback": "q",
    }
    node.update(extra)
    return node


TWO_QUEUES = {
    "one": {"type": "queue", "queue": "q1", "skills": {"tax": 3}, "priority": 5, "tags": ["t1"]},
    "two": {"type": "queue", "queue": "q2"},
}


def shell_for(menu_set: MenuSet, now: dt.datetime = WEEKDAY_MORNING, **kw: Any) -> Shell:
    return Shell(IvrSession(menu_set, CALENDAR, menu="m", session_id="c", **kw), now)


def results(shell: Shell) -> list[tuple[str, str, str]]:
    session = shell.session
    assert isinstance(session, IvrSession)
    return [(s.node, s.result.value, s.keys) for s in session.path]


# ---------------------------------------------------------------- the table


def test_transition_table_covers_every_state_and_never_returns_to_idle() -> None:
    assert set(TRANSITIONS) == set(IvrState)
    assert all(IvrState.IDLE not in targets for targets in TRANSITIONS.values())
    assert TRANSITIONS[IvrState.FINISHED] == frozenset()
    waiting_from = {s for s, targets in TRANSITIONS.items() if IvrState.WAITING in targets}
    assert waiting_from == {IvrState.PROMPTING}


def test_apply_transition_raises_on_a_move_the_table_forbids() -> None:
    assert apply_transition("ivr", TRANSITIONS, IvrState.IDLE, IvrState.PLAYING) is (
        IvrState.PLAYING
    )
    with pytest.raises(IllegalTransition) as info:
        apply_transition("ivr", TRANSITIONS, IvrState.FINISHED, IvrState.PLAYING)
    assert (info.value.current, info.value.target) == ("finished", "playing")


def test_handle_before_start_and_start_twice_are_illegal() -> None:
    session = IvrSession(
        menus({"start": menu_node(), **TWO_QUEUES}), CALENDAR, menu="m", session_id="c"
    )
    with pytest.raises(IllegalTransition):
        session.handle(Digit("1"), WEEKDAY_MORNING)
    session.start(WEEKDAY_MORNING)
    with pytest.raises(IllegalTransition):
        session.start(WEEKDAY_MORNING)


def test_unknown_menu_is_refused() -> None:
    with pytest.raises(UnknownMenu):
        IvrSession(
            menus({"start": {"type": "goto", "menu": "m", "node": "q"}}),
            CALENDAR,
            menu="x",
            session_id="c",
        )


# ---------------------------------------------------------------- menu nodes


def test_menu_choice_after_prompt_goes_to_queue_with_skills_priority_tags_and_path() -> None:
    shell = shell_for(menus({"start": menu_node(), **TWO_QUEUES}))
    assert shell.start() == [Play("c-p1", ("ask",), "zh", True)]
    assert shell.finish_playback() == [StartTimer("c-t2", 5.0)]
    out = shell.press("1")
    assert out[0] == CancelTimer("c-t2")
    queue = out[1]
    assert isinstance(queue, EnterQueue)
    assert (queue.queue, queue.skills, queue.priority, queue.tags) == ("q1", {"tax": 3}, 5, ("t1",))
    assert [(s.node, s.result) for s in queue.path] == [
        ("start", StepResult.CHOSEN),
        ("one", StepResult.QUEUE),
    ]
    finished = out[2]
    assert isinstance(finished, Finished) and finished.outcome is Outcome.QUEUED
    assert finished.path == queue.path and len(out) == 3


def test_a_key_barges_into_an_interruptible_prompt() -> None:
    shell = shell_for(menus({"start": menu_node(), **TWO_QUEUES}))
    shell.start()
    out = shell.press("2")
    assert out[0] == StopPlayback("c-p1")
    assert isinstance(out[1], EnterQueue) and out[1].queue == "q2"
    # Asterisk still reports the stopped playback: a stale id, ignored.
    assert shell.session.handle(PlaybackFinished("c-p1"), WEEKDAY_MORNING) == []  # type: ignore[arg-type]


def test_keys_during_a_non_interruptible_prompt_are_ignored() -> None:
    shell = shell_for(menus({"start": menu_node(interruptible=False), **TWO_QUEUES}))
    shell.start()
    assert shell.press("1") == []
    assert shell.finish_playback() == [StartTimer("c-t2", 5.0)]
    assert isinstance(shell.press("1")[1], EnterQueue)


def test_invalid_key_retries_with_its_own_prompt_then_falls_back_after_the_limit() -> None:
    shell = shell_for(menus({"start": menu_node(), **TWO_QUEUES}))
    shell.start()
    shell.finish_playback()
    out = shell.press("7")
    assert out == [CancelTimer("c-t2"), Play("c-p3", ("invalid", "ask"), "zh", True)]
    shell.finish_playback()
    out = shell.fire_timer()
    assert out == [Play("c-p5", ("no_input", "ask"), "zh", True)]
    out = shell.press("9")  # barge-in, third attempt: the limit
    assert out[0] == StopPlayback("c-p5")
    assert isinstance(out[1], EnterQueue) and out[1].queue == "general"
    assert results(shell) == [
        ("start", "invalid", "7"),
        ("start", "timeout", ""),
        ("start", "invalid", "9"),
        ("start", "exhausted", ""),
        ("q", "queue", ""),
    ]


def test_multi_key_choice_inter_digit_timeout_and_terminator() -> None:
    node = menu_node(choices={"1": "one", "12": "two"}, max_digits=3)
    shell = shell_for(menus({"start": node, **TWO_QUEUES}))
    shell.start()
    shell.finish_playback()
    out = shell.press("1")  # "1" is a choice, but "12" may follow: wait
    assert out == [CancelTimer("c-t2"), StartTimer("c-t3", 2.0)]
    out = shell.fire_timer()  # nothing followed: "1" stands
    assert isinstance(out[0], EnterQueue) and out[0].queue == "q1"

    shell = shell_for(menus({"start": node, **TWO_QUEUES}))
    shell.start()
    shell.press("1")  # barge-in, then the inter-digit timer
    out = shell.press("#")
    assert out[0] == CancelTimer("c-t2")
    assert isinstance(out[1], EnterQueue) and out[1].queue == "q1"

    shell = shell_for(menus({"start": node, **TWO_QUEUES}))
    shell.start()
    out = shell.press("12")  # no longer choice extends "12": decided at once
    assert isinstance(out[-2], EnterQueue) and out[-2].queue == "q2"


def test_a_key_no_choice_starts_with_is_invalid_at_once_and_lone_terminator_too() -> None:
    node = menu_node(choices={"11": "one", "12": "two"}, max_digits=2)
    shell = shell_for(menus({"start": node, **TWO_QUEUES}))
    shell.start()
    out = shell.press("5")
    assert out == [StopPlayback("c-p1"), Play("c-p2", ("invalid", "ask"), "zh", True)]
    out = shell.press("#")
    assert out == [StopPlayback("c-p2"), Play("c-p3", ("invalid", "ask"), "zh", True)]
    assert results(shell) == [("start", "invalid", "5"), ("start", "invalid", "")]


def test_zero_reaches_the_operator_from_a_menu_that_allows_it() -> None:
    nodes = {
        "start": menu_node(),
        "human": {"type": "queue", "queue": "general", "prompts": ["to_agent"], "tags": ["op"]},
        **TWO_QUEUES,
    }
    shell = shell_for(menus(nodes, operator="human"))
    shell.start()
    out = shell.press("0")
    assert out == [StopPlayback("c-p1"), Play("c-p2", ("to_agent",), "zh", False)]
    out = shell.finish_playback()
    assert isinstance(out[0], EnterQueue) and out[0].tags == ("op",)
    assert results(shell) == [("start", "operator", "0"), ("human", "queue", "")]


def test_zero_is_an_ordinary_invalid_key_where_the_operator_is_not_allowed() -> None:
    nodes = {"start": menu_node(allow_operator=False), "human": {"type": "queue", "queue": "g"}}
    shell = shell_for(menus({**nodes, **TWO_QUEUES}, operator="human"))
    shell.start()
    out = shell.press("0")
    assert out[-1] == Play("c-p2", ("invalid", "ask"), "zh", True)
    shell = shell_for(menus({"start": menu_node(), **TWO_QUEUES}))  # no operator at all
    shell.start()
    assert shell.press("0")[-1] == Play("c-p2", ("invalid", "ask"), "zh", True)


# ---------------------------------------------------------------- other nodes


def test_play_node_plays_then_continues_and_an_interruptible_one_is_skipped() -> None:
    nodes = {
        "start": {"type": "play", "prompts": ["a", "b"], "next": "q"},
    }
    shell = shell_for(menus(nodes))
    assert shell.start() == [Play("c-p1", ("a", "b"), "zh", False)]
    assert shell.press("5") == []
    out = shell.finish_playback()
    assert isinstance(out[0], EnterQueue) and results(shell)[0] == ("start", "played", "")

    nodes["start"]["interruptible"] = True
    shell = shell_for(menus(nodes))
    shell.start()
    out = shell.press("5")
    assert out[0] == StopPlayback("c-p1") and isinstance(out[1], EnterQueue)
    assert results(shell)[0] == ("start", "skipped", "5")


def test_collect_node_stores_the_keys_in_a_variable_not_in_the_path() -> None:
    nodes = {
        "start": {
            "type": "collect",
            "prompts": ["enter_no"],
            "variable": "ticket_number",
            "min_digits": 4,
            "max_digits": 6,
            "max_attempts": 2,
            "invalid_prompts": ["invalid"],
            "fallback": "q",
            "next": "q",
        },
    }
    shell = shell_for(menus(nodes))
    shell.start()
    shell.press("12#")  # too short
    assert shell.last_play == Play("c-p4", ("invalid", "enter_no"), "zh", True)
    out = shell.press("123456")  # max_digits ends the entry
    assert SetVar("ticket_number", "123456") in out
    finished = out[-1]
    assert isinstance(finished, Finished) and finished.vars == {"ticket_number": "123456"}
    assert results(shell) == [
        ("start", "invalid", ""),
        ("start", "collected", ""),
        ("q", "queue", ""),
    ]


def test_language_choice_selects_the_prompt_set_of_later_prompts() -> None:
    nodes = {
        "start": {
            "type": "language",
            "prompts": ["pick"],
            "choices": {"1": "zh", "2": "en"},
            "timeout": 3,
            "next": "menu",
        },
        "menu": menu_node(),
        **TWO_QUEUES,
    }
    shell = shell_for(menus(nodes))
    shell.start()
    out = shell.press("2")
    assert out == [StopPlayback("c-p1"), SetLanguage("en"), Play("c-p2", ("ask",), "en", True)]
    out = shell.press("1")
    assert isinstance(out[1], EnterQueue) and out[1].language == "en"


def test_language_choice_can_send_each_language_its_own_way() -> None:
    nodes = {
        "start": {
            "type": "language",
            "prompts": ["pick"],
            "choices": {"1": "zh", "2": "en"},
            "next": "one",
            "next_by_language": {"en": "two"},
        },
        **TWO_QUEUES,
    }
    for key, queue in (("1", "q1"), ("2", "q2")):
        shell = shell_for(menus(nodes))
        shell.start()
        entered = shell.of(EnterQueue) if shell.press(key) else []
        assert [e.queue for e in entered] == [queue]
    shell = shell_for(menus(nodes), language="en")  # a call that arrived in English
    shell.start()
    shell.finish_playback()
    assert shell.fire_timer()[0].queue == "q2"  # type: ignore[union-attr]


def test_language_choice_keeps_the_default_on_no_key_or_a_wrong_key() -> None:
    nodes = {
        "start": {"type": "language", "prompts": ["pick"], "choices": {"2": "en"}, "next": "q"},
    }
    shell = shell_for(menus(nodes))
    shell.start()
    shell.finish_playback()
    out = shell.fire_timer()
    assert isinstance(out[0], EnterQueue) and out[0].language == "zh"
    shell = shell_for(menus(nodes))
    shell.start()
    out = shell.press("9")
    assert not any(isinstance(c, SetLanguage) for c in out)
    assert results(shell)[0] == ("start", "invalid", "9")


def test_set_node_tags_and_variables_flow_into_the_queue_and_the_record() -> None:
    nodes = {
        "start": {
            "type": "set",
            "tags": ["dept_12315", "x"],
            "vars": {"topic": "消费"},
            "next": "again",
        },
        "again": {"type": "set", "tags": ["x"], "next": "one"},
        "one": {"type": "queue", "queue": "q1", "tags": ["t1", "x"]},
    }
    shell = shell_for(menus(nodes))
    out = shell.start()
    assert out[:3] == [SetTag("dept_12315"), SetTag("x"), SetVar("topic", "消费")]
    queue = out[3]
    assert isinstance(queue, EnterQueue) and queue.tags == ("dept_12315", "x", "t1")
    finished = out[4]
    assert isinstance(finished, Finished)
    assert finished.tags == ("dept_12315", "x", "t1") and finished.vars == {"topic": "消费"}


OFFICE = {d: ["08:30-12:00", "13:30-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")}
TIME_NODES = {
    "start": {"type": "time_condition", "hours": OFFICE, "open": "one", "closed": "two"},
    **TWO_QUEUES,
}


@pytest.mark.parametrize(
    ("now", "queue", "result"),
    [
        (at(2026, 3, 11, 9, 0), "q1", "open"),  # Wednesday morning
        (at(2026, 3, 11, 12, 30), "q2", "closed"),  # lunch break
        (at(2026, 3, 14, 10, 0), "q2", "closed"),  # Saturday
        (at(2026, 10, 2, 10, 0), "q2", "closed"),  # National Day, a Friday
        (at(2026, 10, 10, 10, 0), "q1", "open"),  # Saturday worked for National Day (调休)
    ],
)
def test_time_condition_branches_on_office_hours_and_holidays(
    now: dt.datetime, queue: str, result: str
) -> None:
    shell = shell_for(menus(TIME_NODES), now)
    out = shell.start()
    assert isinstance(out[0], EnterQueue) and out[0].queue == queue
    assert results(shell)[0] == ("start", result, "")


def test_time_condition_holiday_branch_on_a_7x24_calendar_and_naive_now_raises() -> None:
    nodes = {"start": {"type": "time_condition", "open": "one", "closed": "one", "holiday": "two"}}
    nodes |= TWO_QUEUES
    assert shell_for(menus(nodes), at(2026, 10, 3, 3, 0)).start()[0].queue == "q2"  # type: ignore[union-attr]
    assert shell_for(menus(nodes), at(2026, 10, 8, 3, 0)).start()[0].queue == "q1"  # type: ignore[union-attr]
    session = IvrSession(menus(nodes), CALENDAR, menu="m", session_id="c")
    with pytest.raises(CalendarError):
        session.start(dt.datetime(2026, 10, 3, 3, 0))


def test_voicemail_plays_intro_and_beep_uninterruptibly_then_records() -> None:
    nodes = {
        "start": {
            "type": "voicemail",
            "prompts": ["leave_message"],
            "beep_prompt": "beep",
            "max_seconds": 90,
            "queue": "general",
            "tags": ["voicemail"],
        }
    }
    shell = shell_for(menus(nodes))
    assert shell.start() == [Play("c-p1", ("leave_message", "beep"), "zh", False)]
    assert shell.press("1") == []
    out = shell.finish_playback()
    record = out[0]
    assert isinstance(record, RecordVoicemail)
    assert (record.queue, record.max_seconds, record.max_silence_seconds, record.tags) == (
        "general",
        90,
        10,
        ("voicemail",),
    )
    assert isinstance(out[1], Finished) and out[1].outcome is Outcome.VOICEMAIL


def test_transfer_to_a_number_and_hangup_after_a_prompt() -> None:
    shell = shell_for(menus({"start": {"type": "transfer", "number": "12319"}}))
    out = shell.start()
    assert isinstance(out[0], TransferToNumber) and out[0].number == "12319"
    assert isinstance(out[1], Finished) and out[1].outcome is Outcome.TRANSFERRED

    nodes = {"start": {"type": "hangup", "prompts": ["goodbye"], "reason": "closed_line"}}
    shell = shell_for(menus(nodes))
    assert shell.start() == [Play("c-p1", ("goodbye",), "zh", False)]
    out = shell.finish_playback()
    assert out[0] == Hangup("closed_line")
    assert isinstance(out[1], Finished) and out[1].outcome is Outcome.HUNG_UP


def test_goto_continues_in_another_menu() -> None:
    menu_set = MenuSet.model_validate(
        {
            "languages": ["zh"],
            "menus": {
                "m": {
                    "entry": "start",
                    "nodes": {"start": {"type": "goto", "menu": "n", "node": "b"}},
                },
                "n": {
                    "entry": "a",
                    "nodes": {
                        "a": {"type": "hangup"},
                        "b": {"type": "queue", "queue": "general"},
                    },
                },
            },
        }
    )
    session = IvrSession(menu_set, CALENDAR, menu="m", session_id="c")
    out = session.start(WEEKDAY_MORNING)
    assert isinstance(out[0], EnterQueue)
    assert [(s.menu, s.node, s.result.value) for s in out[0].path] == [
        ("m", "start", "goto"),
        ("n", "b", "queue"),
    ]
    assert session.position == ("n", "b")


# ---------------------------------------------------------------- hang-up and stale


@pytest.mark.parametrize("moment", ["prompting", "waiting", "collecting", "playing"])
def test_caller_hangup_ends_the_session_and_clears_playback_and_timer(moment: str) -> None:
    nodes = {
        "start": menu_node(choices={"11": "one", "2": "hold"}, max_digits=2),
        "hold": {"type": "play", "prompts": ["wait"], "next": "q"},
        **TWO_QUEUES,
    }
    shell = shell_for(menus(nodes))
    shell.start()
    if moment in ("waiting", "collecting"):
        shell.finish_playback()
    if moment == "collecting":
        shell.press("1")
    if moment == "playing":
        shell.press("2")
    out = shell.hang_up()
    finished = out[-1]
    assert isinstance(finished, Finished) and finished.outcome is Outcome.CALLER_HANGUP
    assert not shell.timers and not shell.playbacks
    assert shell.session.handle(Digit("1"), WEEKDAY_MORNING) == []
    assert isinstance(shell.session, IvrSession) and shell.session.phase is IvrPhase.FINISHED


def test_stale_timer_and_playback_ids_are_ignored() -> None:
    shell = shell_for(menus({"start": menu_node(), **TWO_QUEUES}))
    shell.start()
    session = shell.session
    assert session.handle(Timeout("c-t9"), WEEKDAY_MORNING) == []  # type: ignore[arg-type]
    assert session.handle(PlaybackFinished("other"), WEEKDAY_MORNING) == []  # type: ignore[arg-type]
    shell.finish_playback()
    shell.press("7")  # the first-digit timer c-t2 is cancelled
    assert session.handle(Timeout("c-t2"), WEEKDAY_MORNING) == []  # type: ignore[arg-type]
    assert session.handle(PlaybackFinished("c-p1"), WEEKDAY_MORNING) == []  # type: ignore[arg-type]
    assert shell.last_play == Play("c-p3", ("invalid", "ask"), "zh", True)
