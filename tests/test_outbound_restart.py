"""Calls out across a restart of the engine: pbxsim over real sockets, a real PostgreSQL.

A conversation out goes on while the engine is away and is taken back from
the picture on the citizen's leg: the agent stays on the call, and when it
ends its record is the call's one record, answered.  A dial that still rang
when the engine went ends as ``failed`` (``engine_restart``), both legs hung
up, and the agent is free to dial again.  An automatic return visit is not
taken back: its citizen's leg is hung up and the visit is due again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pbxsim import RemoteScript
from switchboard import CallPhase
from tests.faces_support import eventually, role_env
from tests.support.stack import running_stack
from tests.test_outbound_e2e import CITIZEN, citizen, seat_call
from tests.test_visits_e2e import CITIZEN as VISITED
from tests.test_visits_e2e import ask, dialler, visits_settings

pytestmark = pytest.mark.outbound


def call_of(stack: Any, phase: CallPhase) -> Any:
    calls = stack.engine.board.calls()
    return calls[0] if len(calls) == 1 and calls[0].phase is phase else None


async def test_a_conversation_out_is_taken_back_after_a_restart(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with running_stack(tmp_path, empty_dsn, sim_options=citizen(answer_after=0.5)) as stack:
        await stack.login("1001", "s01")
        seat = stack.sim.place_seat_call(seat_call())

        async def connected() -> Any:
            return call_of(stack, CallPhase.CONNECTED)

        call = await eventually(connected, 15)
        call_id, leg = call.call_id, call.facts.caller_channel
        await stack.flushed()
        await stack.restart_engine()

        adopted = await eventually(connected, 15)
        assert adopted.call_id == call_id and adopted.facts.incarnation == 1
        assert stack.ended == [], "nothing ended while the engine was away"
        view = stack.engine.acd.agent_view("1001")
        assert view is not None and view.state.value == "on_call"
        assert leg in {c.id for c in await stack.engine.pbx.ari.channels.list()}

        stack.sim.hangup_call(seat)  # the agent hangs up: a call out ends with them
        (ended,) = await stack.wait_ended(1, timeout=20)
        assert ended.call_id == call_id
        await stack.flushed()
        row = await stack.call_row(call_id)
        assert (row["outcome"], row["caller_number"]) == ("answered", CITIZEN)
        assert row["tags"]["direction"] == "outbound" and row["first_agent"] == "1001"
        kinds = [r["kind"] for r in await stack.timeline(call_id)]
        assert kinds.count("answered") == 1 and "adopted" in kinds and kinds[-1] == "ended"

        async def no_channels() -> bool:
            return not await stack.engine.pbx.ari.channels.list()

        await eventually(no_channels, 10)


async def test_a_dial_ringing_at_a_restart_ends_and_frees_the_agent(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with running_stack(tmp_path, empty_dsn, sim_options=citizen(answer_after=None)) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_seat_call(seat_call())

        async def dialling() -> Any:
            dials = [r for r in stack.requests("POST", "/channels/") if r.path.endswith("/dial")]
            return call_of(stack, CallPhase.QUEUED) and dials

        await eventually(dialling, 15)
        (call,) = stack.engine.board.calls()
        call_id = call.call_id
        await stack.flushed()
        await stack.restart_engine()

        (ended,) = await stack.wait_ended(1, timeout=20)
        assert ended.call_id == call_id
        await stack.flushed()
        row = await stack.call_row(call_id)
        assert (row["outcome"], row["end_reason"]) == ("failed", "engine_restart")

        async def nothing_left() -> bool:
            return not await stack.engine.pbx.ari.channels.list()

        await eventually(nothing_left, 10)
        view = stack.engine.acd.agent_view("1001")
        assert view is not None and view.state.value == "idle"


async def test_a_return_visit_in_progress_at_a_restart_is_hung_up_and_due_again(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = role_env(monkeypatch)["supervisor"]
    patches = {"outbound.yaml": visits_settings()}
    async with running_stack(tmp_path, empty_dsn, patches=patches) as stack:
        stack.sim.set_remote(RemoteScript(VISITED, answer_after=0.5))  # listens, keys nothing
        await ask(stack, sup, "WO-9")
        assert await dialler(stack).tick() == ["WO-9"]

        def visit_legs() -> list[str]:
            return [r.params["channelId"] for r in stack.requests("POST", "/channels/create")]

        (first,) = await stack.sim.wait_for(visit_legs, 10, "the visit dialled")
        log = stack.sim.channel_log(first)
        await stack.sim.wait_for(lambda: log.answered, 10, "the citizen answered")
        await stack.restart_engine()

        # The new engine cannot take the visit back: it hangs up the citizen's leg
        # (not left on a silent line) and the visit is due again, and dialled again.
        await stack.sim.wait_for(lambda: log.destroyed, 10, "the old visit leg hung up")
        assert log.hangup_by == "api"

        async def dialled_again() -> bool:
            await dialler(stack).tick()
            return len(visit_legs()) == 2

        await eventually(dialled_again, 15, every=0.5)
        row = await stack.db.fetchrow("SELECT status FROM return_visits WHERE ticket_id = 'WO-9'")
        assert row["status"] == "calling"
