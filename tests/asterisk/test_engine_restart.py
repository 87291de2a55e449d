"""The engine killed (SIGKILL) and restarted during a bridged call, on a real Asterisk.

Asterisk keeps the call: the caller and the agent stay bridged and hear
each other while no engine runs, and the channels keep their call identity
(``HOTLINE_CALL_ID``), as ``engine_ws_drop_and_return.jsonl`` recorded.  The
restarted engine then finds the call again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import bridged_call, prompt_seconds
from tests.asterisk.sip import call

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]

TALK_S = 6  # long enough to kill, watch and restart the engine inside the conversation


async def test_bridged_call_survives_an_engine_kill(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    tmp_path: Path,
) -> None:
    runner = await engine()
    phone = await phones("8007", "answer", ring_ms=500, talk_ms=TALK_S * 1000)
    await AgentSession(runner, "1009", "s07").login()
    notice = prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + 0.5 + TALK_S + 2) * 1000),
        then="hangup",
    )
    try:
        bridge = await bridged_call(asterisk, timeout=notice + 10)
        await runner.kill()

        # No engine: nobody hangs up, the bridge and the call identity stay.
        with pytest.raises(TimeoutError):
            await caller.wait(timeout=3)
        assert phone.uas is not None
        assert phone.uas.received("BYE") == 0
        watcher = asterisk.ari(app="watcher")
        try:
            kept = await watcher.bridges.get(bridge.id)
            assert sorted(kept.channels) == sorted(bridge.channels)
            call_ids = {
                await watcher.channels.get_variable(channel, "HOTLINE_CALL_ID")
                for channel in bridge.channels
            }
            assert len(call_ids) == 1 and call_ids.pop().startswith("c-")
        finally:
            await watcher.close()

        await runner.start()
        reconciled = [e for e in runner.log_events() if e.get("event") == "ari_reconciled"]
        # The restarted engine's first look at Asterisk finds the call's channels.
        assert set(bridge.channels) <= set(reconciled[-1]["channels_unknown"]) | set(
            reconciled[-1].get("channels_adopted", [])
        ), reconciled[-1]
        # Still talking after the restart: the agent hangs up when the conversation ends.
        await phone.uas.wait_for_received("SIP/2.0 200 OK", count=1, timeout=TALK_S + 5)
        await caller.expect_success(timeout=TALK_S + notice + 10)
    finally:
        await caller.stop()
