"""Agents and supervisors never log in twice: the toolbar, the wallboard and the supervisor
console, open in a real headless Chromium through the shipped HAProxy front
(``deploy/haproxy/haproxy.cfg``), go on by themselves when the active engine is killed
and the standby takes over.  Not one of them shows its login form again; the agent, still
at the seat, is offered the next call by the new active engine."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from pbxsim import CallerScript, PbxSim, PhoneScript, SimConfig
from tests.faces_support import Chromium, chromium, keyboard_login, press, role_env
from tests.support import front as haproxy
from tests.support.pair import engine_pair, until_role

pytestmark = [pytest.mark.availability, pytest.mark.browser]

SECRET = "browser-standby-secret"

# Set when a page shows its login (or token) form after it was signed in.
_WATCH_LOGIN = """
(() => {
  const form = document.getElementById(%r);
  window.sawLogin = false;
  new MutationObserver(() => {
    if (!form.classList.contains('hidden')) window.sawLogin = true;
  }).observe(form, { attributes: true });
  return true;
})()
"""


def _el(element_id: str) -> str:
    return f"document.getElementById({element_id!r})"


async def _sessions_stored(dsn: str, count: int) -> None:
    """The logins reached PostgreSQL (the buffered writer is asynchronous)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(10):
            while await conn.fetchval("SELECT count(*) FROM api_sessions") < count:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def _online(page: Chromium, expression: str, timeout: float) -> None:
    await page.wait_for(expression, timeout)


async def test_pages_reconnect_to_the_new_active_engine_without_a_new_login(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert haproxy.installed(), "Debian's haproxy is missing: tools/bootstrap.sh --test"
    tokens = role_env(monkeypatch)  # the children inherit the role tokens
    phone = PhoneScript("8001", answer_after=None)  # rings until the caller gives up
    sim = PbxSim(SimConfig(user="hotline", secret=SECRET, phones=(phone,), time_scale=0.2))
    await sim.start()
    try:
        async with (
            engine_pair(tmp_path, empty_dsn, sim, {}) as (a, b),
            aiohttp.ClientSession() as http,
        ):
            front = await haproxy.Front(
                (a.url.removeprefix("http://"), b.url.removeprefix("http://")),
                tmp_path / "haproxy.log",
            ).start()
            try:
                a.proc.start()
                await until_role(http, a, "active", 30, ari="connected")
                b.proc.start()
                await until_role(http, b, "standby", 30)
                await front.until_active(http, 20)
                async with chromium() as agent:
                    wallboard = await agent.new_tab()
                    console = await agent.new_tab()

                    await agent.goto(front.url + "/agent")
                    await keyboard_login(agent, "1003", "s01", timeout=10)
                    toolbar_online = f"{_el('conn')}.classList.contains('online')"
                    await agent.wait_for(toolbar_online, 10)
                    await press(agent, "F2")
                    await agent.wait_for(f"{_el('state-label')}.dataset.state === 'idle'")
                    await agent.evaluate(_WATCH_LOGIN % "login")

                    await wallboard.goto(f"{front.url}/wallboard#token={tokens['wallboard']}")
                    board_online = "document.body.dataset.conn === 'online'"
                    await wallboard.wait_for(board_online, 10)
                    await wallboard.evaluate(_WATCH_LOGIN % "token-form-box")

                    await console.goto(front.url + "/supervisor")
                    await console.wait_for("document.activeElement.id === 'person'", 10)
                    await console.type("1001")
                    await press(console, "Tab")
                    await console.type("1001")
                    await press(console, "Enter")
                    await console.wait_for(f"!{_el('console')}.classList.contains('hidden')", 10)
                    await console.evaluate(_WATCH_LOGIN % "login-box")
                    await _sessions_stored(empty_dsn, 2)

                    a.proc.kill()
                    killed_ms = time.time() * 1000
                    await agent.wait_for(f"!{toolbar_online}", 10)
                    await wallboard.wait_for(f"!({board_online})", 10)
                    await until_role(http, b, "active", 30, ari="connected")

                    await agent.wait_for(toolbar_online, 30)
                    await wallboard.wait_for(board_online, 30)
                    await console.wait_for(
                        f"Number(document.body.dataset.refreshed || 0) > {killed_ms}", 30
                    )
                    # The new active engine knows the agent, ready at the seat: the next
                    # call rings on the same toolbar.
                    sim.place_call(CallerScript(number="13800138000", hangup_after=20))
                    await agent.wait_for(f"{_el('call')}.classList.contains('ringing')", 15)
                    row = "#calls tr[data-kind=call]"
                    await console.wait_for(f"!!document.querySelector({row!r})", 10)
                    for page in (agent, wallboard, console):
                        assert await page.evaluate("window.sawLogin") is False
                    assert await agent.evaluate(f"{_el('login')}.classList.contains('hidden')")
                    assert agent.exceptions == []
            finally:
                await front.stop()
    finally:
        await sim.stop()
