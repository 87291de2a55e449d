"""A restarted executor takes back the calls Asterisk kept, and ends them cleanly.

The first executor connects a call and goes away; Asterisk (pbxsim) keeps
the caller, the agent leg and the bridge.  A second executor, on a new
switchboard, finds the call from the picture on the caller's channel and
carries it on to its end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim import CallerScript, PhoneScript
from switchboard import CallPhase
from tests.executor_support import running_executor

pytestmark = pytest.mark.switchboard


async def test_a_conversation_is_taken_back_after_a_restart_and_ends_once(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.3)
    async with running_executor(tmp_path, empty_dsn, phones=[phone]) as rig:
        rig.login("1001", "s01")
        handle = rig.sim.place_call(CallerScript(number="13800138000"))

        def connected() -> bool:
            calls = rig.executor.board.calls()
            return bool(calls) and calls[0].phase is CallPhase.CONNECTED

        await rig.sim.wait_for(connected, 10.0, "the call connected")
        (call,) = rig.executor.board.calls()
        call_id, leg = call.call_id, call.facts.agent_leg
        await rig.executor.drain()
        await rig.stop()
        await rig.start(agents=(("1001", "s01"),))

        def adopted() -> bool:
            found = rig.executor.board.call(call_id)
            return found is not None and found.phase is CallPhase.CONNECTED

        await rig.sim.wait_for(adopted, 10.0, "the call taken back")
        assert leg is not None and leg in rig.executor.board.channels()
        assert rig.finals == [], "nothing ended while the engine was away"
        rig.sim.hangup_call(handle)
        (final,) = await rig.wait_ended(1)
        assert final.record.call_id == call_id
        row = await rig.call_row(call_id)
        assert row["outcome"] == "answered" and row["first_agent"] == "1001"
        assert "adopted" in await rig.kinds(call_id)
        await rig.sim.wait_for(lambda: not rig.live_channels(), 10.0, "every channel hung up")
        await rig.executor.drain()
        assert len(rig.executor.lanes) == 0 and rig.call_timers(call_id) == []
