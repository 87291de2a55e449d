"""The toolbar's callback panel in a real headless Chromium, by keyboard alone, and the
work-order form opened on answer from outbound.yaml's URL template."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pbxsim import CallerScript, PhoneScript, RemoteScript
from tests.faces_support import Chromium, chromium, eventually, keyboard_login, press, role_env
from tests.support.stack import running_stack

pytestmark = [pytest.mark.outbound, pytest.mark.browser]

FIRST, SECOND, VISITED = "13800138000", "13900139000", "13700137001"


def no_quiet_hours(data: Any) -> None:
    data["callbacks"]["quiet_hours"] = {"start": "00:00", "end": "00:00"}


def short_wait(data: Any) -> None:
    data["queues"]["general"]["max_wait"] = 1


async def f7(page: Chromium) -> None:
    await page.key("F7", "F7", 118)


def active(attribute: str) -> str:
    return f"(document.activeElement.dataset || {{}}).{attribute}"


async def ask_person_visit(stack: Any, token: str, ticket: str, number: str, summary: str) -> None:
    """A return visit due now, that a person must make (the F7 panel lists it)."""
    now = dt.datetime.now(dt.UTC)
    visit = {
        "ticket_id": ticket,
        "number": number,
        "due_from": (now - dt.timedelta(hours=1)).isoformat(),
        "due_until": (now + dt.timedelta(days=1)).isoformat(),
        "survey": "satisfaction",
        "person_required": True,
        "summary": summary,
    }
    status, _ = await stack.api("POST", "/api/return-visits", token=token, json=visit)
    assert status == 201


def entry_js(number: str) -> str:
    return f"[...document.querySelectorAll('#cb-list li')].find(li => li.dataset.key && li.dataset.key.startsWith('{number}@'))"


async def test_callback_panel_by_keyboard_and_the_work_order_form_on_answer(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    patches = {"outbound.yaml": no_quiet_hours, "queues.yaml": short_wait}
    phone = PhoneScript("8001", answer_after=5.0)
    async with (
        running_stack(tmp_path, empty_dsn, patches=patches, phones=[phone]) as stack,
        chromium() as page,
    ):
        # Two citizens miss the hotline while nobody is logged in.
        stack.sim.place_call(CallerScript(number=FIRST, name="甲"))
        await stack.wait_ended(1)
        stack.sim.place_call(CallerScript(number=SECOND, name="乙"))
        await stack.wait_ended(2)
        await stack.flushed()

        await ask_person_visit(stack, tokens["admin"], "WO-77", "13700137000", "路灯不亮，已修复")

        await page.goto(stack.url + "/agent")
        await keyboard_login(page, "1003", "s01")
        await page.wait_for("!document.getElementById('desk').classList.contains('hidden')", 10)
        await page.wait_for("document.activeElement.id === 'btn-ready'", 10)  # the desk is set up

        # F7: the panel, the oldest miss first, focus on its first button (claim).
        await f7(page)
        await page.wait_for("!document.getElementById('callbacks').classList.contains('hidden')")
        await page.wait_for(f"!!{entry_js(SECOND)}", 10)
        keys = await page.evaluate(
            "[...document.querySelectorAll('#cb-list li')].map(li => li.dataset.key)"
        )
        assert [k.split("@")[0] for k in keys] == [FIRST, SECOND]
        await page.wait_for(f"{active('act')} === 'claim'")
        assert "溢出" in await page.evaluate(f"{entry_js(FIRST)}.textContent")
        await press(page, "Enter")
        await page.wait_for(f"{entry_js(FIRST)}.dataset.status === 'claimed'")
        await page.wait_for(f"{active('act')} === 'outcome'")
        await page.screenshot("agent-callbacks.png")
        await press(page, "Enter")
        await page.wait_for("!document.getElementById('cb-menu').classList.contains('hidden')")
        assert await page.evaluate(f"{active('value')}") == "reached"
        await press(page, "1")  # reached
        await page.wait_for(f"!{entry_js(FIRST)}")
        status, done = await stack.api(
            "GET", "/api/callbacks?status=done", token=tokens["supervisor"]
        )
        assert status == 200 and [e["number"] for e in done] == [FIRST]
        assert done[0]["attempts"][0]["agent"] == "1003"
        assert done[0]["attempts"][0]["outcome"] == "reached"

        # The second: Tab to Skip, a digit for the reason; it stays on the list, skipped.
        await page.wait_for(f"{active('act')} === 'claim'")
        await press(page, "Tab")
        assert await page.evaluate(f"{active('act')}") == "skip"
        await press(page, "Enter")
        await page.wait_for("!document.getElementById('cb-menu').classList.contains('hidden')")
        await press(page, "2")  # citizen_asked_later
        await page.wait_for("document.getElementById('cb-menu').classList.contains('hidden')")

        async def skipped() -> Any:
            status, rows = await stack.api("GET", "/api/callbacks", token=tokens["supervisor"])
            assert status == 200
            return rows if rows and rows[0]["skips"] else None

        (entry,) = await eventually(skipped)
        assert entry["number"] == SECOND and entry["status"] == "pending"
        assert entry["skips"][0]["reason"] == "citizen_asked_later"

        # The return visit, below the callbacks: its summary shown; Tab past the entry's
        # buttons and the visit's Call to Record result, a digit for the outcome.
        row = "document.querySelector('#rv-list li[data-ticket=\"WO-77\"]')"
        assert "路灯不亮，已修复" in await page.evaluate(f"{row}.textContent")
        await page.wait_for(f"{active('act')} === 'claim'")
        await press(page, "Tab")
        await press(page, "Tab")
        assert await page.evaluate(f"{active('act')}") == "visit-call"
        await press(page, "Tab")
        assert await page.evaluate(f"{active('act')}") == "visit-result"
        await press(page, "Enter")
        await page.wait_for("!document.getElementById('cb-menu').classList.contains('hidden')")
        await press(page, "1")  # reached
        await page.wait_for(f"!{row}")
        status, visits = await stack.api(
            "GET", "/api/return-visits?status=done", token=tokens["supervisor"]
        )
        assert status == 200 and [v["ticket_id"] for v in visits] == ["WO-77"]
        assert visits[0]["results"][0]["agent"] == "1003"
        await stack.backend.wait_until(lambda: "WO-77" in stack.backend.return_visits)
        await press(page, "Escape")
        await page.wait_for("document.getElementById('callbacks').classList.contains('hidden')")
        assert await page.evaluate("document.activeElement.id") == "btn-callbacks"

        # The second citizen calls again and is answered: the work-order form opens with
        # the call's fields, and the entry leaves the list.
        await press(page, "F2")
        await page.wait_for("document.getElementById('state-label').dataset.state === 'idle'")
        stack.sim.place_call(CallerScript(number=SECOND, name="乙", hangup_after_bridged=20))
        await page.wait_for("!!document.getElementById('call-work-order').getAttribute('href')", 15)
        call_id = await page.evaluate("document.getElementById('call').dataset.callId")
        repeat = await page.evaluate("document.getElementById('call-repeat').dataset.repeat")
        assert repeat == "1"  # the missed call is in the window
        href = await page.evaluate(
            "document.getElementById('call-work-order').getAttribute('href')"
        )
        assert href == (
            f"http://127.0.0.1:8090/orders/new?call={quote(call_id, safe='')}&caller={SECOND}"
            "&line=12345&department=&repeat=1"
        )
        await stack.wait_ended(3, timeout=30)
        await stack.flushed()

        async def cleared() -> Any:
            status, rows = await stack.api(
                "GET", "/api/callbacks?status=cleared", token=tokens["supervisor"]
            )
            assert status == 200
            return rows or None

        (gone,) = await eventually(cleared)
        assert gone["number"] == SECOND and gone["cleared_by"] == call_id


async def tab_to(page: Chromium, condition: str, limit: int = 30) -> None:
    """Tab until ``condition`` (JavaScript) holds; fail after ``limit`` presses."""
    for _ in range(limit):
        if await page.evaluate(condition):
            return
        await press(page, "Tab")
    raise AssertionError(f"never reached by Tab: {condition}")


async def test_a_call_from_the_panel_and_click_to_dial_by_keyboard(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    patches = {"outbound.yaml": no_quiet_hours, "queues.yaml": short_wait}
    phone = PhoneScript("8001", answer_after=0.5, hangup_after=2.0)
    remotes = (
        RemoteScript(FIRST, answer_after=0.5),
        RemoteScript(SECOND, answer_after=0.5),
        RemoteScript(VISITED, answer_after=0.5),
    )
    async with (
        running_stack(
            tmp_path, empty_dsn, patches=patches, phones=[phone], sim_options={"remotes": remotes}
        ) as stack,
        chromium() as page,
    ):
        stack.sim.place_call(CallerScript(number=FIRST, name="甲"))
        await stack.wait_ended(1)
        await stack.flushed()
        await ask_person_visit(stack, tokens["admin"], "WO-78", VISITED, "噪声扰民，已处理")

        await page.goto(stack.url + "/agent")
        await keyboard_login(page, "1003", "s01")
        await page.wait_for("document.activeElement.id === 'btn-ready'", 10)

        # Preview: claim the entry (number and misses shown), then Call: my phone, then
        # the citizen.
        await f7(page)
        await page.wait_for(f"!!{entry_js(FIRST)}", 10)
        await page.wait_for(f"{active('act')} === 'claim'")
        await press(page, "Enter")
        await page.wait_for(f"{entry_js(FIRST)}.dataset.status === 'claimed'")
        await tab_to(page, f"{active('act')} === 'call'")
        await press(page, "Enter")
        called = (await stack.wait_ended(2, timeout=30))[1]
        row = await stack.call_row(called.call_id)
        assert row["tags"]["callback"].startswith(FIRST) and row["outcome"] == "answered"

        # The return visit's Call: my phone, then the citizen; the call is the visit's attempt.
        await page.wait_for("!!document.querySelector('#rv-list li[data-ticket=\"WO-78\"]')", 10)
        await tab_to(page, f"{active('act')} === 'visit-call'")
        await press(page, "Enter")
        await page.wait_for("document.getElementById('message').textContent.includes('WO-78')", 10)
        visited = (await stack.wait_ended(3, timeout=30))[2]
        row = await stack.call_row(visited.call_id)
        assert row["tags"]["return_visit"] == "WO-78" and row["caller_number"] == VISITED
        assert row["outcome"] == "answered"
        await stack.backend.wait_until(lambda: "WO-78" in stack.backend.return_visits)
        assert stack.backend.return_visits["WO-78"][0]["call_id"] == visited.call_id

        # Click-to-dial: the number field below the lists, Enter dials; a refused number
        # is said in one line.
        await tab_to(page, "document.activeElement.id === 'dial-number'")
        await page.type("00441234567")
        await press(page, "Enter")
        await page.wait_for(
            "document.getElementById('message').textContent.includes('international')", 10
        )
        await page.wait_for("document.activeElement.id === 'dial-number'")
        for _ in "00441234567":
            await page.key("Backspace", "Backspace", 8)
        await page.type(SECOND)
        await press(page, "Enter")
        await page.wait_for("document.getElementById('message').textContent.includes('12345')", 10)
        dialled = (await stack.wait_ended(4, timeout=30))[3]
        row = await stack.call_row(dialled.call_id)
        assert row["caller_number"] == SECOND and row["tags"]["direction"] == "outbound"
        assert row["outcome"] == "answered"
