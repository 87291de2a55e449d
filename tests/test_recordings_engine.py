"""The engine's bridge recordings end reported: pbxsim over real sockets, the engine,
PostgreSQL.

Asterisk 22 publishes a bridge recording's ``RecordingFinished`` on the bridge's
topic, which the application leaves when the bridge is destroyed; destroyed while
the recording still ran, the bridge takes the event with it more often than not
(measured on the real tier's Asterisk: lost in 24 of 30 tries on a loaded core,
in none of 30 when the recording was stopped first, as
``inbound_answer_bridge_record.jsonl`` does).  So the engine stops the recording
before it destroys the bridge, whoever hangs up first; the recording service
watches live recordings for the cases where the event is lost anyway
(``test_recordings_pbxsim.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.recordings_support import eventually
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.recordings, pytest.mark.hardening]

SURVEY = "sound:hotline/zh/survey-question"


async def _stop_then_destroy(stack: Stack, call_id: str) -> tuple[Any, Any]:
    """The requests that stopped the call's recording and destroyed its bridge, once both
    were sent (they follow the call's end, in its lane of requests)."""

    async def sent() -> list[Any] | None:
        destroy = stack.requests("DELETE", f"/bridges/br-{call_id}")
        return destroy or None

    (destroy,) = await eventually(sent)
    (stop,) = stack.requests("POST", f"/recordings/live/{call_id}-1/stop")
    return stop, destroy


async def _stored(stack: Stack, call_id: str) -> dict[str, Any] | None:
    row = await stack.db.fetchrow(
        "SELECT * FROM recordings WHERE call_id = $1 AND status = 'stored'", call_id
    )
    return dict(row) if row is not None else None


async def test_agent_hangs_up_the_recording_is_stopped_before_its_bridge_goes(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.5, hangup_after=2.0)
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(
            CallerScript(
                number="13800138000", digits=(DigitPress(at=0.5, digits="2", on_media=SURVEY),)
            )
        )
        (call,) = await stack.wait_ended(1)
        stop, destroy = await _stop_then_destroy(stack, call.call_id)
        assert stop.status == 204 and destroy.status == 204
        assert stack.sim.requests.index(stop) < stack.sim.requests.index(destroy)
        stored = await eventually(lambda: _stored(stack, call.call_id))
        assert stored["agents"] == ["1001"]


async def test_caller_hangs_up_the_recording_is_stopped_before_its_bridge_goes(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.5)
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(CallerScript(number="13800138000", hangup_after_bridged=2.0))
        (call,) = await stack.wait_ended(1, timeout=30)
        stop, destroy = await _stop_then_destroy(stack, call.call_id)
        assert stop.status == 204 and destroy.status == 204
        assert stack.sim.requests.index(stop) < stack.sim.requests.index(destroy)
        stored = await eventually(lambda: _stored(stack, call.call_id))
        assert stored["agents"] == ["1001"]
