"""After a restart the engine adopts the bridged call and completes it (issue 9's recovery).

The engine is killed (SIGKILL) while caller and agent talk, and started
again; when the agent then hangs up, the adopted caller is offered the
satisfaction survey and the call record is completed as for any call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import bridged_call, call_record, prompt_seconds
from tests.asterisk.sip import call

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]

TALK_S = 6


async def test_restarted_engine_completes_the_adopted_call(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    await phones("8008", "answer", ring_ms=500, talk_ms=TALK_S * 1000)
    await AgentSession(runner, "1010", "s08").login()
    notice = prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + 0.5 + TALK_S + 1.5) * 1000),
        then="press",
        digit="2",
        max_presses=4,
    )
    try:
        await bridged_call(asterisk, timeout=notice + 10)
        await runner.kill()
        await runner.start()
        # The agent hangs up after the restart; the adopted caller is offered the survey.
        await caller.expect_success(timeout=TALK_S + 20)
    finally:
        await caller.stop()
    record = await call_record(empty_dsn, timeout=3, dialled="12345")
    assert record["outcome"] == "answered"
    assert record["first_agent"] == "1010"
    assert record["hangup_by"] == "agent"
    assert record["rating"] == 2
