"""Faults on the links to Asterisk: the ARI WebSocket and the AMI connection cut mid-call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.app import AMI, ARI
from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.support.stack import running_stack

pytestmark = pytest.mark.resilience

CALLER = "13800138000"
SURVEY = "sound:hotline/zh/survey-question"


async def _bridged(stack, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while True:
            calls = [c for c in stack.engine.calls.values() if c.public_state == "talking"]
            if calls and calls[0].bridge_id:
                return calls[0]
            await asyncio.sleep(0.05)


async def test_ari_and_ami_cut_for_ten_seconds_during_a_bridged_call(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.2, hangup_after=None)
    caller = CallerScript(number=CALLER, digits=(DigitPress(at=0.2, digits="1", on_media=SURVEY),))
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(caller)
        call = await _bridged(stack)
        ari = stack.engine_process.app[ARI]
        ami = stack.engine_process.app[AMI]
        ari_before, ami_before = ari.link.reconnects, ami.link.reconnects
        await stack.sim.drop_ari_websockets(refuse_for=10.0)
        await stack.sim.drop_ami_connections()
        await ari.link.wait_until(lambda link: link.reconnects > ari_before, timeout=30)
        await ami.link.wait_until(lambda link: link.reconnects > ami_before, timeout=30)
        report = ari.last_report
        assert report is not None
        assert call.caller_channel in report.channels.present
        assert call.bridge_id in report.bridges.present
        assert not report.channels.vanished
        # The call goes on after the cut: the agent hangs up, the caller rates.
        stack.sim.hangup_phone("8001")
        (ended,) = await stack.wait_ended(1, timeout=20)
        row = await stack.call_row(ended.call_id)
        assert row["outcome"] == "answered" and row["rating"] == 1
        assert row["hangup_by"] == "agent"


async def test_a_caller_who_hangs_up_while_the_socket_is_cut_is_ended_by_reconciliation(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.2, hangup_after=None)
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack:
        await stack.login("1001", "s01")
        handle = stack.sim.place_call(CallerScript(number=CALLER))
        call = await _bridged(stack)
        ari = stack.engine_process.app[ARI]
        before = ari.link.reconnects
        await stack.sim.drop_ari_websockets(refuse_for=3.0)
        stack.sim.hangup_call(handle)  # its StasisEnd goes nowhere
        await ari.link.wait_until(lambda link: link.reconnects > before, timeout=30)
        (ended,) = await stack.wait_ended(1, timeout=20)
        assert ended.call_id == call.call_id
        row = await stack.call_row(ended.call_id)
        assert row["outcome"] == "answered" and row["hangup_by"] == "caller"
        assert row["ended_at"] is not None
        # The agent's leg was hung up, so no phone is left on a dead line.
        assert stack.sim.channel_log(str(call.agent_channel)).destroyed
