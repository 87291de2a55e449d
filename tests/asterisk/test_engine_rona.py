"""RONA on a real Asterisk: the first agent's phone rings out, the call moves to a second agent.

Ring-no-answer: the engine gives up on the first seat after the queue's ring
timeout (cancelling its INVITE), and offers the call to the next agent,
whose phone answers.  The agent who answered is the call's first-contact
agent (首接负责).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import RING_TIMEOUT, call_record, call_timeline, prompt_seconds
from tests.asterisk.sip import call

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]


async def test_rona_moves_the_call_to_a_second_agent(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    silent = await phones("8005", "noanswer")
    answering = await phones("8006", "answer", ring_ms=500, talk_ms=30_000)
    # The first agent to be ready is the longest idle: offered first.
    await AgentSession(runner, "1007", "s05").login()
    await AgentSession(runner, "1008", "s06").login()
    notice = prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + RING_TIMEOUT + 0.5 + 3) * 1000),
        then="hangup",
    )
    try:
        await caller.expect_success(timeout=45)
    finally:
        await caller.stop()
    assert silent.uas is not None and answering.uas is not None
    assert silent.uas.received("INVITE") == 1
    await silent.uas.wait_for_received("CANCEL", count=1, timeout=5)
    assert answering.uas.received("INVITE") == 1
    record = await call_record(empty_dsn, dialled="12345")
    assert record["outcome"] == "answered"
    assert record["first_agent"] == "1008"
    timeline = await call_timeline(empty_dsn, record["call_id"])
    offers = [row for row in timeline if row["kind"] == "offered"]
    assert [row["agent"] for row in offers] == ["1007", "1008"]
    # The first offer ended when the ring timeout ran out (a ring-no-answer),
    # and only then was the second agent offered the call.
    ended = next(row for row in timeline if row["kind"].startswith("offer_"))
    assert ended["agent"] == "1007"
    assert ended["kind"] == "offer_no_answer"
    rang = (ended["at"] - offers[0]["at"]).total_seconds()
    assert RING_TIMEOUT - 0.5 < rang < RING_TIMEOUT + 1.5, rang
    assert offers[1]["at"] >= ended["at"]
    kinds = [row["kind"] for row in timeline]
    assert kinds.index("answered") > kinds.index("offered")
