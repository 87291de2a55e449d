"""The toolbar and the wallboard in a real headless Chromium, driven by the keyboard alone.

Screenshots are kept under ``test-artifacts/`` (``agent-*.png``, ``wallboard*.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cti.api.live
from cti.app import EngineProcess
from pbxsim import CallerScript, PhoneScript
from tests.faces_support import chromium, keyboard_login, press, role_env
from tests.support.stack import running_stack

pytestmark = [pytest.mark.faces, pytest.mark.browser]

CALLER = "13800138000"
NAME = "张三市民"


def _text(selector: str) -> str:
    return f"(document.querySelector({selector!r}) || {{}}).textContent"


async def test_agent_logs_in_gets_ready_takes_a_call_and_pauses_by_keyboard(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_env(monkeypatch)
    phone = PhoneScript("8001", answer_after=15.0)  # rings 1.5 s: the pop shows the ring
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack, chromium() as page:
        await page.goto(stack.url + "/agent")
        await page.wait_for("document.activeElement.id === 'login-agent'")
        assert await page.evaluate("document.title") == "热线坐席工具条"
        await keyboard_login(page, "1003", "s01")
        await page.wait_for("!document.getElementById('desk').classList.contains('hidden')", 10)
        await page.wait_for(f"{_text('#conn')} === '已连接'")
        await press(page, "F2")
        await page.wait_for("document.getElementById('state-label').dataset.state === 'idle'")
        assert await page.evaluate(_text("#state-label")) == "空闲"
        assert stack.engine.agent_states["1003"].status.value == "ready"
        await page.wait_for(f"{_text('#state-timer')}.startsWith('本状态已持续')")

        stack.sim.place_call(CallerScript(number=CALLER, name=NAME, hangup_after_bridged=10))
        await page.wait_for("document.getElementById('call').classList.contains('ringing')")
        assert await page.evaluate(_text("#call-number")) == CALLER
        assert await page.evaluate(_text("#call-name")) == NAME
        assert await page.evaluate(_text("#call-dialled")) == "12345"
        assert await page.evaluate(_text("#call-queue")) == "综合座席"
        assert await page.evaluate("document.activeElement.id") == "call-title"
        await page.wait_for("document.getElementById('call-repeat').dataset.repeat === '0'")
        await page.screenshot("agent-pop.png")

        await page.wait_for("document.getElementById('state-label').dataset.state === 'on_call'")
        await page.wait_for("document.getElementById('state-label').dataset.state === 'wrapup'")
        await press(page, "F3")
        await page.wait_for("!document.getElementById('pause-menu').classList.contains('hidden')")
        labels = await page.evaluate(
            "[...document.querySelectorAll('#pause-reasons button')].map(b => b.dataset.reason)"
        )
        await press(page, str(labels.index("meeting") + 1))
        await page.wait_for("document.getElementById('state-label').dataset.reason === 'meeting'")
        assert await page.evaluate("document.getElementById('state-label').dataset.status") == (
            "paused"
        )
        assert stack.engine.agent_states["1003"].reason == "meeting"
        await press(page, "F6")
        await page.wait_for("!document.getElementById('transfer').classList.contains('hidden')")
        assert "12319" in await page.evaluate(_text("#tr-parallel"))
        assert "110" in await page.evaluate(_text("#tr-emergency"))
        # The transfer operations the server offers (cti/api/transfers.py) arm their buttons.
        armed = await page.evaluate(
            "[...document.querySelectorAll('#transfer button[data-op]')]"
            ".filter(b => !b.disabled).map(b => b.dataset.op)"
        )
        assert {"call_transfer_start", "call_emergency", "call_hold"} <= set(armed), armed
        await page.screenshot("agent-paused.png")
        await press(page, "Escape")
        await page.wait_for("document.getElementById('transfer').classList.contains('hidden')")
        await press(page, "F9")
        await page.wait_for("!document.getElementById('login').classList.contains('hidden')")
        assert stack.engine.agent_states["1003"].status.value == "logged_out"
        assert page.exceptions == []
        await stack.wait_ended(1)


_TILES = """
Object.fromEntries([...document.querySelectorAll('.tile')]
  .filter(t => t.id.startsWith('tile-') && t.querySelector('.value'))
  .map(t => [t.id.slice(5), t.querySelector('.value').textContent]))
"""


def _judge_the_rate_from_one_call(data: Any) -> None:
    data["wallboard"]["connection_rate_min_offered"] = 1


async def test_wallboard_follows_call_events_and_reconnects_after_restart(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiles change on the calls' events: the once-a-second recompute is held
    back for a minute, so only the pushes the events cause can show them."""
    tokens = role_env(monkeypatch)
    monkeypatch.setattr(cti.api.live, "TICK_S", 60.0)
    patches = {"engine.yaml": _judge_the_rate_from_one_call}
    async with (
        running_stack(tmp_path, empty_dsn, patches=patches) as stack,
        chromium() as page,
    ):
        await page.goto(f"{stack.url}/wallboard#token={tokens['wallboard']}")
        await page.wait_for(f"{_text('#tile-waiting .value')} === '0'")
        assert await page.evaluate("location.hash") == ""  # the token left the address bar
        assert await page.evaluate(_text("#platform")) == "南通市“12345”政府公共服务平台"

        stack.sim.place_call(CallerScript(number=CALLER, name=NAME, hangup_after=25))
        await page.wait_for(f"{_text('#tile-waiting .value')} === '1'")
        await page.wait_for("!!document.querySelector('#queue-rows tr[data-queue=general]')")
        assert await page.evaluate(_text("#tile-offered .value")) == "1"
        assert await page.evaluate("document.querySelectorAll('#chart rect.bar').length") == 36
        await page.screenshot("wallboard.png")
        await stack.wait_ended(1)
        await page.wait_for(f"{_text('#tile-abandoned .value')} === '1'")
        await page.wait_for("document.getElementById('tile-rate').dataset.level === 'red'")
        await page.wait_for(
            "!!document.querySelector('#alarm-list li.alarm.red[data-figure=connection_rate]')"
        )
        await page.screenshot("wallboard-alarm.png")
        tiles = await page.evaluate(_TILES)
        assert tiles["offered"] == "1" and tiles["abandoned"] == "1", tiles

        # The engine restarts on the same port: the page reconnects by itself, and
        # today's figures, rebuilt from the store, are the ones it showed before.
        await stack.flushed()
        old = stack.engine_process
        port = old.port
        await old.stop()
        await page.wait_for("document.body.dataset.conn !== 'online'", 5)
        again = EngineProcess(old.settings.with_(http_port=port), old.manager)
        await again.start()
        try:
            await page.wait_for("document.body.dataset.conn === 'online'", 10)
            await page.wait_for(f"{_text('#tile-abandoned .value')} === '1'", 5)
            assert await page.evaluate(_TILES) == tiles
        finally:
            await again.stop()
        assert page.exceptions == []
