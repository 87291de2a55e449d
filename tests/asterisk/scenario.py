"""What the engine scenarios share: the tier's config, prompt lengths, the call record.

Waiting is done with deadlines on outcomes (a SIPp exiting, a row
appearing), never with bare sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import wave
from pathlib import Path
from typing import Any

import asyncpg

from cti.ari import Bridge
from switchboard.picture import STATE_VAR
from tests.asterisk.engine import config_copy, edit_yaml
from tests.asterisk.pbx import SHIPPED_CONF, Asterisk

# Scenario timing: a short ring timeout and wrap-up keep each test brief.
RING_TIMEOUT = 6
WRAPUP = 2


def prompt_seconds(sound: str, language: str = "zh") -> float:
    """Length of a shipped prompt, e.g. ``prompt_seconds("recording-notice")``."""
    with wave.open(str(SHIPPED_CONF / "sounds/hotline" / language / f"{sound}.wav")) as w:
        return w.getnframes() / w.getframerate()


def tier_config(dest: Path) -> Path:
    """config/ with the general queue's ring timeout and wrap-up shortened."""
    config_copy(dest)
    queues = dest / "queues.yaml"
    edit_yaml(
        queues,
        "    strategy: longest_idle\n    ring_timeout: 15\n    wrapup: 15\n",
        f"    strategy: longest_idle\n    ring_timeout: {RING_TIMEOUT}\n    wrapup: {WRAPUP}\n",
    )
    return dest


async def picture_says(asterisk: Asterisk, text: str, timeout: float) -> str:
    """The channel whose call picture (``HOTLINE_STATE``) contains ``text``, once one
    does: read as an outside application, so it works while no engine runs."""
    watcher = asterisk.ari(app="watcher")
    try:
        async with asyncio.timeout(timeout):
            while True:
                for channel in await watcher.channels.list():
                    with contextlib.suppress(Exception):  # a channel gone meanwhile
                        state = await watcher.channels.get_variable(channel.id, STATE_VAR)
                        if text in (state or ""):
                            return channel.id
                await asyncio.sleep(0.2)  # polling Asterisk under a deadline
    finally:
        await watcher.close()


async def call_record(dsn: str, timeout: float = 15.0, **where: Any) -> asyncpg.Record:
    """The one row of ``calls`` matching ``where`` once it has ``ended_at``."""
    clauses = " AND ".join(f"{key} = ${i}" for i, key in enumerate(where, start=1))
    query = "SELECT * FROM calls" + (f" WHERE {clauses}" if clauses else "")
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        while True:
            rows = await conn.fetch(query, *where.values())
            if len(rows) == 1 and rows[0]["ended_at"] is not None:
                return rows[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no ended call record {where}: {[dict(r) for r in rows]}")
            await asyncio.sleep(0.2)  # the engine's writer flushes in batches
    finally:
        await conn.close()


async def stored_recordings(dsn: str, call_id: str, timeout: float = 10.0) -> list[asyncpg.Record]:
    """The call's recordings once none is still being recorded or fetched."""
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(timeout):
            while True:
                rows = await conn.fetch(
                    "SELECT * FROM recordings WHERE call_id = $1 ORDER BY segment", call_id
                )
                if rows and all(row["status"] in ("stored", "failed") for row in rows):
                    return rows
                await asyncio.sleep(0.2)  # fetched and hashed after the call ends
    finally:
        await conn.close()


async def call_timeline(dsn: str, call_id: str) -> list[asyncpg.Record]:
    """The call's timeline rows (kind, at, agent, detail) in order."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            "SELECT kind, at, agent FROM call_events WHERE call_id = $1 ORDER BY at, id", call_id
        )
    finally:
        await conn.close()


async def call_events(dsn: str, call_id: str) -> list[str]:
    """The kinds of the call's timeline rows, in order."""
    return [row["kind"] for row in await call_timeline(dsn, call_id)]


async def bridged_call(asterisk: Asterisk, timeout: float, parties: int = 2) -> Bridge:
    """The mixing bridge holding ``parties`` channels (caller and agent), once there is one."""
    watcher = asterisk.ari(app="watcher")
    try:
        async with asyncio.timeout(timeout):
            while True:
                for bridge in await watcher.bridges.list():
                    if bridge.bridge_type == "mixing" and len(bridge.channels) == parties:
                        return bridge
                await asyncio.sleep(0.1)  # polling Asterisk, the truth about calls
    finally:
        await watcher.close()


async def trunk_reachable(asterisk: Asterisk, endpoint: str) -> None:
    """Make Asterisk see a trunk's far end now that a SIPp listens there.

    The trunk is qualified every 60 s and PJSIP does not dial a contact it last
    found unreachable; a qualify on demand (CLI) refreshes it.  The state read
    just after a qualify may still be an earlier SIPp's verdict, and a qualify
    sent while no SIPp listened comes back "unreachable" at once: only three
    "online" readings in a row, each after a qualify of its own, count.
    """
    watcher = asterisk.ari(app="watcher")
    online_in_a_row = 0
    try:
        async with asyncio.timeout(20):
            while online_in_a_row < 3:
                asterisk.cli(f"pjsip qualify {endpoint}")
                await asyncio.sleep(0.3)  # the qualify's answer arrives on Asterisk's side
                state = (await watcher.endpoints.get("PJSIP", endpoint)).state
                online_in_a_row = online_in_a_row + 1 if state == "online" else 0
    finally:
        await watcher.close()
