"""Automatic return visits (回访) end to end: the dialler, pbxsim citizens, PostgreSQL, the backend.

The citizens are pbxsim parties behind the carrier trunk: one answers and
keys the survey, one never answers, one asks for a person.  The dialler of
each test is driven pass by pass (:meth:`VisitDialler.tick`), on the real
clock when the quiet hours are patched away, on a virtual clock for the
quiet hours and the pacing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cti.executor.dialler import VisitDialler
from pbxsim import CallerScript, DigitPress, PhoneScript, RemoteScript
from tests.faces_support import eventually, role_env
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.outbound

CITIZEN = "13900002222"
ZONE = ZoneInfo("Asia/Shanghai")
QUESTION = "sound:hotline/zh/survey-question"
NOTICE = "sound:hotline/zh/visit-notice"


def visits_settings(*, real_clock: bool = True, **extra: Any) -> Callable[[Any], None]:
    def patch(data: Any) -> None:
        rv = data["return_visits"]
        rv.update({"attempts": 2, "spacing_minutes": 0, "ring_seconds": 5})
        rv["dial_every_seconds"] = 3600  # the app's own dialler passes once, at start
        rv.update(extra)
        if real_clock:
            # The tests run at any hour: quiet hours are tested on a virtual clock below.
            data["callbacks"]["quiet_hours"] = {"start": "00:00", "end": "00:00"}

    return patch


def visit_body(ticket: str, *, until: dt.datetime | None = None) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "ticket_id": ticket,
        "number": CITIZEN,
        "due_from": (now - dt.timedelta(hours=1)).isoformat(),
        "due_until": (until or now + dt.timedelta(days=2)).isoformat(),
        "survey": "satisfaction",
        "summary": "小区路灯不亮，已由城管局处理",
    }


async def ask(stack: Stack, token: str, ticket: str, **kw: Any) -> None:
    status, body = await stack.api(
        "POST", "/api/return-visits", token=token, json=visit_body(ticket, **kw)
    )
    assert status == 201, body


def dialler(stack: Stack, clock: Callable[[], dt.datetime] | None = None) -> VisitDialler:
    return VisitDialler(stack.db, stack.engine, clock=clock)


async def results(stack: Stack, ticket: str, count: int) -> list[dict[str, Any]]:
    await stack.backend.wait_until(
        lambda: len(stack.backend.return_visits.get(ticket, [])) >= count, timeout=20
    )
    return stack.backend.return_visits[ticket]


async def test_a_citizen_answers_and_keys_the_survey(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    # The engine's own dialler, every second: nothing here drives it.
    patches = {"outbound.yaml": visits_settings(dial_every_seconds=1)}
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        press = DigitPress(at=0.5, digits="2", on_media=QUESTION)
        stack.sim.set_remote(RemoteScript(CITIZEN, answer_after=1.0, digits=(press,)))
        await ask(stack, sup, "WO-1")
        (sent,) = await results(stack, "WO-1", 1)
        assert sent["reached"] is True and sent["outcome"] == "reached"
        assert sent["status"] == "done" and sent["attempt"] == 1 and sent["agent"] is None
        assert sent["answers"] == [{"question": "satisfaction", "answer": "2"}]
        assert sent["caller"] == {"number": CITIZEN} and sent["survey"] == "satisfaction"

        (call_id,) = [
            r["call_id"] for r in await stack.db.fetch("SELECT call_id FROM return_visit_results")
        ]
        leg = f"{call_id}-v1"
        log = stack.sim.channel_log(leg)
        assert ("CALLERID(num)", "12345") in log.variables_set  # the presented number
        assert ("CONNECTEDLINE(num,i)", "12345") in log.variables_set  # in From and PAI
        played = [m for m in log.media_played if m.startswith("sound:")]
        assert played[:2] == [NOTICE, QUESTION]
        assert "sound:hotline/zh/survey-thanks" in played
        await stack.sim.wait_for(lambda: log.destroyed, timeout=10, what="the engine hangs up")
        assert log.hangup_by == "api"
        row = await stack.db.fetchrow(
            "SELECT status, fallback FROM return_visits WHERE ticket_id = 'WO-1'"
        )
        assert (row["status"], row["fallback"]) == ("done", None)
        assert await dialler(stack).tick() == []  # done: never called again


async def test_a_citizen_who_does_not_answer_is_tried_again_then_given_up(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    patches = {"outbound.yaml": visits_settings()}
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        stack.sim.set_remote(RemoteScript(CITIZEN, answer_after=None))
        await ask(stack, sup, "WO-2")
        d = dialler(stack)
        assert await d.tick() == ["WO-2"]
        (first,) = await results(stack, "WO-2", 1)
        assert (first["outcome"], first["status"], first["reached"]) == (
            "no_answer",
            "pending",
            False,
        )
        assert await d.tick() == ["WO-2"]  # spacing 0: due again at once
        first, second = await results(stack, "WO-2", 2)
        assert (second["outcome"], second["status"], second["attempt"]) == (
            "no_answer",
            "failed",
            2,
        )
        assert await d.tick() == []
        rows = await stack.db.fetch(
            "SELECT n, outcome, call_id FROM return_visit_results ORDER BY n"
        )
        assert [(r["n"], r["outcome"]) for r in rows] == [(1, "no_answer"), (2, "no_answer")]
        assert rows[0]["call_id"] != rows[1]["call_id"]
        for r in rows:
            log = stack.sim.channel_log(f"{r['call_id']}-v1")
            assert not log.answered and log.destroyed


async def test_a_citizen_who_asks_for_a_person_is_offered_to_an_agent(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    patches = {"outbound.yaml": visits_settings()}
    phones = [PhoneScript("8001", answer_after=0.5)]
    async with running_stack(tmp_path, empty_dsn, patches=patches, phones=phones) as stack:
        token = await stack.login("1003", "s01")
        press = DigitPress(at=0.5, digits="0", on_media=NOTICE)
        stack.sim.set_remote(
            RemoteScript(CITIZEN, answer_after=1.0, digits=(press,), hangup_after=40)
        )
        await ask(stack, sup, "WO-3")
        assert await dialler(stack).tick() == ["WO-3"]

        async def offered() -> Any:
            status, me = await stack.api("GET", "/api/agents/me", token=token)
            assert status == 200, me
            return me.get("call")

        call = await eventually(offered, timeout=15)
        assert call["caller_number"] == CITIZEN
        assert call["tags"]["return_visit"] == "WO-3"
        assert call["tags"]["ticket_summary"] == "小区路灯不亮，已由城管局处理"
        assert call["tags"]["callback"] == "1"

        (sent,) = await results(stack, "WO-3", 1)
        assert (sent["outcome"], sent["agent"], sent["status"]) == ("reached", "1003", "done")
        (ended,) = await stack.wait_ended(1)
        assert ended.call_id == call["call_id"] and ended.last_agent == "1003"
        assert sent["recording"] is not None
        row = await stack.call_row(call["call_id"])
        assert row["queue"] == "general" and row["outcome"] == "answered"


async def test_quiet_hours_the_window_and_pacing_on_a_virtual_clock(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    # Quiet 21:00-08:00 (the shipped hours); one line; the dialler stops once one caller waits;
    # a visit not reached waits three days (so the second visit is the next one called).
    patches = {
        "outbound.yaml": visits_settings(real_clock=False, max_lines=1, slow_down_waiting=1,
                                         ring_seconds=20, spacing_minutes=4320),
        "queues.yaml": lambda data: data["queues"]["general"].update({"max_wait": 600}),
    }  # fmt: skip
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        stack.sim.set_remote(RemoteScript(CITIZEN, answer_after=None))
        real = dt.datetime.now(ZONE)
        night = (real + dt.timedelta(days=1)).replace(hour=22, minute=30, second=0, microsecond=0)
        morning = night.replace(hour=9, minute=0) + dt.timedelta(days=1)
        until = morning.replace(hour=12, minute=0)
        await ask(stack, sup, "WO-A", until=until)
        await ask(stack, sup, "WO-B", until=until)
        at = {"now": night}
        d = dialler(stack, clock=lambda: at["now"])

        assert await d.tick() == []  # 22:30: quiet hours
        at["now"] = until + dt.timedelta(minutes=30)
        assert await d.tick() == []  # 12:30 the day after: past the window
        at["now"] = morning
        (first,) = await d.tick()  # 09:00: one line, one call
        assert await d.tick() == []  # the line is taken
        await results(stack, first, 1)  # not answered: the line is free again

        # An inbound caller waits (nobody logged in): inbound first, nothing starts.
        handle = stack.sim.place_call(CallerScript(number="13700001234"))
        await stack.sim.wait_for(lambda: stack.engine.acd.totals().waiting == 1, timeout=10)
        assert await d.tick() == []
        stack.sim.hangup_call(handle)
        await stack.wait_ended(1)
        (second,) = await d.tick()
        assert {first, second} == {"WO-A", "WO-B"}


async def test_a_refused_survey_becomes_an_agents_visit(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    patches = {"outbound.yaml": visits_settings()}
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        press = DigitPress(at=0.5, digits="9", on_media=NOTICE)
        stack.sim.set_remote(RemoteScript(CITIZEN, answer_after=1.0, digits=(press,)))
        await ask(stack, sup, "WO-4")
        d = dialler(stack)
        assert await d.tick() == ["WO-4"]
        (sent,) = await results(stack, "WO-4", 1)
        assert (sent["outcome"], sent["status"], sent["reached"]) == ("refused", "pending", False)
        assert sent["note"] == "refused"
        status, rows = await stack.api("GET", "/api/return-visits?person_required=true", token=sup)
        assert status == 200, rows
        assert [(r["ticket_id"], r["status"], r["fallback"]) for r in rows] == [
            ("WO-4", "pending", "refused")
        ]
        assert await d.tick() == []  # an agent's visit now: never dialled automatically again
        agent = await stack.login("1003", "s01", ready=False)
        body = {"outcome": "reached", "answers": [{"question": "satisfaction", "answer": "1"}]}
        status, done = await stack.api(
            "POST", "/api/return-visits/WO-4/result", token=agent, json=body
        )
        assert status == 200 and done["status"] == "done", done
        _, second = await results(stack, "WO-4", 2)
        assert (second["agent"], second["attempt"], second["status"]) == ("1003", 2, "done")
