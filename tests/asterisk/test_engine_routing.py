"""A retired department number (直接整合) before and after its cut-over, on a real Asterisk.

Before the cut-over the caller hears that the line has merged into 12345 and
reaches a 12345 agent, the call tagged with the old department; after it, a
withdrawn number hears that it is no longer in service and is hung up,
never reaching a seat.  83531111 (城建局 城建服务热线) is withdrawn after the
Nantong plan's three-month transition; the "before" case gives it a
cut-over date in the future.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession, edit_yaml
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import call_record, prompt_seconds, tier_config
from tests.asterisk.sip import call

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]

LINE = "83531111"
SHIPPED_LINE = (
    '{no: 2, numbers: ["83531111"], department: 城建局, name: 城建服务热线, '
    "after_cutover: withdrawn, note: 过渡期满撤销号码}"
)


async def test_retired_number_after_its_cut_over(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    phone = await phones("8003", "answer", ring_ms=500, talk_ms=10_000)
    await AgentSession(runner, "1005", "s03").login()
    started = time.monotonic()
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled=LINE,
        wait_ms=30_000,
    )
    try:
        await caller.expect_success(timeout=35)  # the engine hung up after the prompt
    finally:
        await caller.stop()
    elapsed = time.monotonic() - started
    assert prompt_seconds("number-withdrawn") - 0.5 < elapsed < 20
    record = await call_record(empty_dsn, dialled=LINE)
    assert record["outcome"] == "withdrawn"
    assert record["original_number"] == LINE
    assert record["department"] == "城建局"
    assert record["first_agent"] is None
    assert phone.uas is not None
    assert phone.uas.received("INVITE") == 0


async def test_retired_number_before_its_cut_over(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    config = tier_config(tmp_path / "config")
    cut_over = dt.date.today() + dt.timedelta(days=30)
    edit_yaml(
        config / "lines.yaml",
        SHIPPED_LINE,
        SHIPPED_LINE.replace(
            "after_cutover: withdrawn,",
            f"go_live: 2015-01-01, cut_over: {cut_over}, after_cutover: withdrawn,",
        ),
    )
    runner = await engine(config)
    phone = await phones("8004", "answer", ring_ms=500, talk_ms=30_000)
    await AgentSession(runner, "1006", "s04").login()
    # The merged-line announcement, the recording notice, the ring; then 2 s of talk.
    announcements = prompt_seconds("merged-line-notice") + prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled=LINE,
        wait_ms=int((announcements + 0.5 + 3) * 1000),
        then="hangup",
    )
    try:
        await caller.expect_success(timeout=40)
    finally:
        await caller.stop()
    record = await call_record(empty_dsn, dialled=LINE)
    assert record["outcome"] == "answered"
    assert record["first_agent"] == "1006"
    assert record["original_number"] == LINE
    assert record["department"] == "城建局"
    assert record["line_name"] == "城建服务热线"
    assert record["tags"]["department"] == "城建局"
    assert phone.uas is not None
    assert phone.uas.received("INVITE") == 1
