"""Asterisk restarts: every call ends cleanly as "pbx_restart", and service resumes by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.app import ARI
from pbxsim import CallerScript, PhoneScript
from tests.support.stack import running_stack

pytestmark = pytest.mark.resilience


async def test_pbx_restart_ends_calls_cleanly_and_service_resumes(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.2, hangup_after=None)
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(CallerScript(number="13800138000"))  # will be bridged
        stack.sim.place_call(CallerScript(number="13900139000"))  # will wait in the queue
        async with asyncio.timeout(10):
            while not (  # noqa: ASYNC110
                any(
                    c.public_state == "talking" and c.bridge_id for c in stack.engine.calls.values()
                )
                and any(c.public_state == "waiting" for c in stack.engine.calls.values())
            ):
                await asyncio.sleep(0.05)
        ari = stack.engine_process.app[ARI]
        before = ari.link.reconnects
        await stack.sim.restart(down_for=1.0)
        ended = await stack.wait_ended(2, timeout=30)
        for call in ended:
            row = await stack.call_row(call.call_id)
            assert row["end_reason"] == "pbx_restart", row
            assert row["ended_at"] is not None
        await ari.link.wait_until(lambda link: link.reconnects > before, timeout=30)
        assert not stack.engine.calls
        # The agent was re-synchronised: back to ready once the ended call's
        # wrap-up is over, and a new call is answered without anyone's help.
        status, _ = await stack.api("POST", "/api/agents/me/wrapup/end", token=stack.tokens["1001"])
        assert status in (200, 409)
        stack.sim.place_call(CallerScript(number="13700137000", hangup_after=20))
        async with asyncio.timeout(20):
            while not any(c.public_state == "talking" for c in stack.engine.calls.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
