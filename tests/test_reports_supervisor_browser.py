"""The supervisor console in a real headless Chromium, against pbxsim.

A supervisor logs in as a person (number and password from ``agents.yaml``),
sees a call appear, listens to it by one key (the snoop on the agent's leg is
asserted on pbxsim), forces the agent to pause, and acknowledges an alarm in
their own name (audited).  Screenshots: ``test-artifacts/supervisor*.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, PhoneScript
from tests.faces_support import chromium, eventually, press, role_env
from tests.support.stack import running_stack
from tests.transfer_support import connected_call

pytestmark = [pytest.mark.reports, pytest.mark.browser]

CALLER = "13800138000"
PERSON = "1001 张敏"


def _judge_from_one_call(data: Any) -> None:
    data["wallboard"]["connection_rate_min_offered"] = 1


def _sel(css: str) -> str:
    return f"document.querySelector({css!r})"


async def test_supervisor_logs_in_listens_forces_a_pause_and_acknowledges_an_alarm(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    phones = [PhoneScript("8001", answer_after=0.3), PhoneScript("8037", answer_after=0.2)]
    patches = {"engine.yaml": _judge_from_one_call}
    async with (
        running_stack(tmp_path, empty_dsn, phones=phones, patches=patches) as stack,
        chromium() as page,
    ):
        await page.goto(stack.url + "/supervisor")
        await page.wait_for("document.activeElement.id === 'person'")
        assert await page.evaluate("document.title") == "班长席"
        await page.type("1001")
        await press(page, "Tab")
        await page.type("wrong")
        await press(page, "Enter")
        await page.wait_for(f"{_sel('#login-error')}.textContent.length > 0")
        await page.evaluate("document.getElementById('person').focus(); true")
        await page.evaluate("document.getElementById('person').value = ''; true")
        await page.type("1001")
        await press(page, "Tab")
        await page.type("1001")
        await press(page, "Enter")
        await page.wait_for("!document.getElementById('console').classList.contains('hidden')")
        assert await page.evaluate(f"{_sel('#who')}.textContent") == PERSON
        assert await page.evaluate(f"{_sel('#seat')}.value") == "s37"

        call, _, _ = await connected_call(
            stack, "1003", "s01", CallerScript(number=CALLER, hangup_after_bridged=300)
        )
        row = f"#calls tr[data-key='{call.call_id}']"
        await page.wait_for(f"!!{_sel(row)} && {_sel(row)}.dataset.state === 'talking'", 5)
        assert await page.evaluate(f"{_sel(row + ' td')}.textContent") == CALLER
        await page.screenshot("supervisor-call.png")

        # Listen by one key on the focused row: the engine rings s37, then snoops the agent leg.
        await page.evaluate(f"{_sel(row)}.focus(); true")
        await press(page, "l")
        session = await stack.sim.wait_for(
            lambda: stack.engine.monitors.session_of(call.call_id, PERSON), what="a session"
        )
        await stack.sim.wait_for(lambda: session.plan.snoop is not None, what="the snoop")
        heard = stack.sim.channel_log(session.plan.snoop).heard
        assert any(k == "snoop" and v.startswith(str(call.agent_channel)) for k, v in heard), heard
        await page.wait_for(f"{_sel(row)}.classList.contains('monitored')", 5)

        # A second caller gives up while the agent talks: 接通率 falls to 50 %, a red alarm.
        stack.sim.place_call(CallerScript(number="13900139000", hangup_after=1))
        ack = "#alarms li.red[data-figure=connection_rate] button[data-op=ack]"
        await page.wait_for(f"!!{_sel(ack)}", 20)
        alarm_id = await page.evaluate(f"{_sel(ack)}.closest('li').dataset.id")
        await page.evaluate(f"{_sel(ack)}.click(); true")
        acked = f"#alarms li[data-id='{alarm_id}'].acked"
        await page.wait_for(f"!!{_sel(acked)} && {_sel(acked)}.textContent.includes('{PERSON}')")

        # Force the agent to pause, by one key on their row.
        agent_row = "#agents tr[data-key='1003']"
        await page.evaluate(f"{_sel(agent_row)}.focus(); true")
        await press(page, "p")

        def paused() -> bool:
            return stack.engine.agent_states["1003"].status.value == "paused"

        await stack.sim.wait_for(paused, what="agent 1003 paused")
        await page.wait_for(f"{_sel(agent_row)}.dataset.status === 'paused'", 5)
        await page.screenshot("supervisor-console.png")

        await stack.flushed()

        async def audited() -> list[Any]:
            rows = await stack.db.fetch(
                "SELECT actor, action, allowed FROM audit_log WHERE actor = $1 ORDER BY id",
                PERSON,
            )
            return rows if len(rows) >= 3 else []

        rows = await eventually(audited, timeout=5)
        actions = {(r["action"], r["allowed"]) for r in rows}
        assert {("monitor_listen", True), ("alarm_ack", True)} <= actions, actions
        assert ("agent_force_pause", True) in actions, actions
        assert page.exceptions == []
