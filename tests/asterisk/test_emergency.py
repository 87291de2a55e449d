"""The one-key hand-off to 110 on a real Asterisk: 110 sees the citizen's number.

Emergency services call the person in danger back, so the INVITE that reaches
"110" must carry the caller's number, in ``From`` and in
``P-Asserted-Identity`` (the trunk template sends PAI: ``send_pai = yes``).
Here 110 is reached through the second trunk of the tier (a SIPp at the
``hotline-12319`` port) so that it is a peer of its own, apart from the
carrier's SIPp that places the citizen's call.  The hand-off also holds
through an engine killed and restarted while the citizen talks to 110.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession, EngineRunner, edit_yaml
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import (
    bridged_call,
    call_record,
    picture_says,
    prompt_seconds,
    tier_config,
)
from tests.asterisk.sip import CALLER_NUMBER, Sipp, call
from tests.asterisk.test_threeway import centre_reachable

pytestmark = [pytest.mark.asterisk, pytest.mark.hardening, pytest.mark.usefixtures("no_leftovers")]

POLICE_TALK_S = 20  # long enough to kill and restart the engine while 110 talks


def _invite_headers(messages: str) -> dict[str, str]:
    """The headers of the first INVITE in a SIPp message log (name lower-cased)."""
    start = messages.index("INVITE sip:")
    block = messages[start:].split("\n\n", 1)[0]
    headers: dict[str, str] = {}
    for line in block.splitlines()[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return headers


@dataclass
class HandOff:
    """An agent on a call from the citizen, and 110 answering on the second trunk."""

    runner: EngineRunner
    agent: AgentSession
    police: Sipp
    caller: Sipp
    call_id: str


@asynccontextmanager
async def handed_to_110(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    tmp_path: Path,
    police_talk_s: int,
) -> AsyncIterator[HandOff]:
    """The agent at s12 on a bridged call with the citizen, who is handed to 110 (which
    talks ``police_talk_s`` seconds, then hangs up); the citizen's SIPp and 110 are
    stopped at the end."""
    config = tier_config(tmp_path / "config")
    edit_yaml(
        config / "lines.yaml",
        '{number: "110", name: 报警电话, department: 公安局}',
        '{number: "110", name: 报警电话, department: 公安局, dial: "PJSIP/110@hotline-12319"}',
    )
    runner = await engine(config)
    await phones("8012", "answer", ring_ms=300, talk_ms=60_000)
    agent = AgentSession(runner, "1013", "s12")
    await agent.login()
    police = await centre_reachable(asterisk, tmp_path, talk_ms=police_talk_s * 1000)
    notice = prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + police_talk_s + 60) * 1000),
    )
    try:
        view = await agent.wait_for_call(timeout=notice + 10)
        call_id = str(view["call_id"])
        await bridged_call(asterisk, timeout=10)
        started = await agent.post(f"/api/calls/{call_id}/emergency", {"number": "110"})
        assert started["kind"] == "emergency"
        yield HandOff(runner, agent, police, caller, call_id)
    finally:
        await caller.stop()
        await police.stop()


async def test_a_hand_off_to_110_presents_the_citizens_number(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    async with handed_to_110(asterisk, engine, phones, tmp_path, police_talk_s=3) as hand:
        await hand.police.wait_for_received("INVITE", count=1, timeout=10)
        headers = _invite_headers(hand.police.messages())
        assert re.search(rf"<sip:{CALLER_NUMBER}@", headers["from"]), headers["from"]
        assert CALLER_NUMBER in headers["p-asserted-identity"], headers
        assert "12345" not in headers["from"]
        # 110 hangs up after 3 s; the caller is offered the survey, then the engine hangs up.
        await hand.caller.expect_success(timeout=45)
    record = await call_record(empty_dsn, dialled="12345")
    assert record["tags"]["emergency"] == "110"
    assert record["tags"]["emergency_presented"] == CALLER_NUMBER


async def test_a_citizen_handed_off_to_110_keeps_talking_through_an_engine_kill(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    async with handed_to_110(
        asterisk, engine, phones, tmp_path, police_talk_s=POLICE_TALK_S
    ) as hand:
        await hand.police.wait_for_received("ACK", count=1, timeout=15)
        await picture_says(asterisk, '"p":"handed_off"', timeout=10)
        await hand.runner.kill()
        await hand.runner.start()
        found = [e for e in hand.runner.log_events() if e.get("event") == "calls_found"]
        assert found and found[-1]["calls"] == 1, found
        # 110 talked on and hung up by itself; the caller was offered the survey,
        # then the engine hung up.
        await hand.caller.expect_success(timeout=POLICE_TALK_S + 45)
        assert hand.police.received("BYE") == 0, "110 was never hung up on"
    record = await call_record(empty_dsn, dialled="12345")
    assert record["call_id"] == hand.call_id and record["outcome"] == "answered"
    assert record["tags"]["emergency"] == "110"
