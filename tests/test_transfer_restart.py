"""Transfers and monitoring across a restart of the engine.

Over real sockets: the agent hands the caller to 110 with one key, 110
answers, and the engine restarts.  The new engine finds the caller's
picture (``handed_off``) and 110's leg (``HOTLINE_LEG``), and leaves the two
talking in their bridge; when the caller hangs up, the call ends with one
record that still marks the emergency hand-off, and 110's leg is hung up.
A supervisor listening in when the engine restarts is hung up (nobody could
stop the monitoring any more), and the snoop and the monitoring bridge go
too; the conversation goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, RemoteScript
from switchboard import CallPhase
from tests.faces_support import eventually
from tests.support.stack import running_stack
from tests.test_transfer_handoff_e2e import AGENT_PHONE, SUPERVISOR_PHONE, SUPERVISOR_TOKEN
from tests.transfer_support import CALLER, PATCHES, connected_call, members, rows

pytestmark = pytest.mark.transfer


async def test_a_caller_handed_off_to_110_keeps_talking_through_a_restart(
    tmp_path: Path, empty_dsn: str
) -> None:
    remotes = (RemoteScript(number="110", answer_after=0.3),)
    async with running_stack(
        tmp_path, empty_dsn, phones=[AGENT_PHONE], patches=PATCHES, sim_options={"remotes": remotes}
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        call_id, caller = call.call_id, call.caller_channel
        status, emergency = await stack.api(
            "POST", f"/api/calls/{call_id}/emergency", token=token, json={"number": "110"}
        )
        assert status == 201, emergency
        party = emergency["leg"]
        await stack.sim.wait_for(lambda: call.phase is CallPhase.HANDED_OFF, what="110 answers")
        await stack.engine.drain()
        bridge = call.bridge_id
        await stack.flushed()

        await stack.restart_engine()

        async def taken_back() -> Any:
            found = stack.engine.board.call(call_id)
            return found if found is not None and found.phase is CallPhase.HANDED_OFF else None

        adopted = await eventually(taken_back, 15)
        assert adopted.facts.bridge == bridge
        await stack.engine.drain()
        assert await members(stack, bridge) == {caller, party}
        assert not stack.sim.channel_log(party).destroyed
        assert stack.ended == [], "nothing ended while the engine was away"

        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        assert ended.call_id == call_id
        await stack.sim.wait_for(lambda: stack.sim.channel_log(party).destroyed, 10, "110 hung up")
        row = await stack.call_row(call_id)
        assert row["outcome"] == "answered" and row["tags"]["emergency"] == "110"
        kinds = [r["kind"] for r in await rows(stack, call_id)]
        assert "adopted" in kinds and kinds[-1] == "ended"


async def test_a_supervisor_listening_at_a_restart_is_hung_up_and_the_call_goes_on(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SUPERVISOR_TOKEN", f"张敏:{SUPERVISOR_TOKEN}")
    async with running_stack(
        tmp_path, empty_dsn, phones=[AGENT_PHONE, SUPERVISOR_PHONE], patches=PATCHES
    ) as stack:
        call, handle, _ = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        call_id, caller, agent_leg = call.call_id, call.caller_channel, call.agent_channel
        status, started = await stack.api(
            "POST",
            f"/api/calls/{call_id}/monitor",
            token=SUPERVISOR_TOKEN,
            json={"mode": "listen", "seat": "s37"},
        )
        assert status == 201, started
        plan = stack.engine.monitors.session_of(call_id, "张敏").plan
        await stack.sim.wait_for(lambda: plan.snoop is not None, what="the snoop is bridged")
        supervisor = stack.sim.channel_log(plan.leg)
        await stack.flushed()

        await stack.restart_engine()

        # The conversation is taken back; the supervisor's leg, which nobody could
        # manage any more, is hung up rather than left listening unmanaged.
        snoop = stack.sim.channel_log(plan.snoop)
        await stack.sim.wait_for(lambda: supervisor.destroyed, 15, "the supervisor hung up")
        assert supervisor.hangup_by == "api"
        await stack.sim.wait_for(lambda: snoop.destroyed, 15, "the snoop hung up")

        async def taken_back() -> Any:
            found = stack.engine.board.call(call_id)
            return found if found is not None and found.phase is CallPhase.CONNECTED else None

        adopted = await eventually(taken_back, 15)
        await stack.engine.drain()
        assert await members(stack, adopted.facts.bridge) == {caller, agent_leg}

        async def only_the_calls_bridge() -> bool:
            bridges = await stack.engine.pbx.ari.bridges.list()
            return [b.id for b in bridges] == [adopted.facts.bridge]

        await eventually(only_the_calls_bridge, 10)  # the monitoring bridge is gone
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        row = await stack.call_row(ended.call_id)
        assert row["outcome"] == "answered"
