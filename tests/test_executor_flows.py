"""Inbound calls decided by the switchboard and carried out by the executor, over real sockets.

pbxsim plays Asterisk and the phones; PostgreSQL keeps the records.  Each
test asserts on the records the writer left and on the ARI requests pbxsim
received.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.executor_support import running_executor

pytestmark = pytest.mark.switchboard

CALLER = "13800138000"
NAME = "张三市民"
SURVEY = "sound:hotline/zh/survey-question"


async def test_a_call_is_answered_bridged_recorded_rated_and_written(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.5, hangup_after=2.0)
    async with running_executor(tmp_path, empty_dsn, phones=[phone]) as rig:
        rig.login("1001", "s01")
        rig.sim.place_call(
            CallerScript(
                number=CALLER,
                name=NAME,
                digits=(DigitPress(at=0.5, digits="2", on_media=SURVEY),),
            )
        )
        (final,) = await rig.wait_ended(1)
        call_id = final.record.call_id
        row = await rig.call_row(call_id)
        assert row["outcome"] == "answered"
        assert row["first_agent"] == "1001"
        assert row["rating"] == 2 and row["rating_label"] == "满意"
        assert row["hangup_by"] == "agent"
        assert row["caller_name"] == NAME and row["caller_number"] == CALLER
        assert row["route"] == "main" and row["queue"] == "general"
        kinds = await rig.kinds(call_id)
        assert kinds[:2] == ["arrived", "routed"]
        assert kinds.index("queued") < kinds.index("offered") < kinds.index("answered")
        assert "recording_started" in kinds and "rated" in kinds and kinds[-1] == "ended"
        (originate,) = rig.requests("POST", "/channels")[:1]
        assert originate.params["endpoint"] == "PJSIP/8001"
        assert originate.params["appArgs"] == f"agent,{call_id},1001"
        records = [r for r in rig.requests("POST", "/bridges/") if r.path.endswith("/record")]
        assert [r.params["name"] for r in records] == [f"{call_id}-1"]
        await rig.executor.drain()
        assert len(rig.executor.lanes) == 0
        assert rig.call_timers(call_id) == []


async def test_a_caller_abandoning_in_the_queue_is_written_as_abandoned(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with running_executor(tmp_path, empty_dsn) as rig:
        rig.sim.place_call(CallerScript(number=CALLER, name=NAME, hangup_after=15.0))
        (final,) = await rig.wait_ended(1)
        row = await rig.call_row(final.record.call_id)
        assert row["outcome"] == "abandoned" and row["hangup_by"] == "caller"
        assert row["queued_at"] is not None and row["answered_at"] is None
        assert rig.requests("POST", "/channels") == [], "nobody was offered the call"
