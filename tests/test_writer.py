"""The buffered writer against a real PostgreSQL that goes away and returns."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cti.pgserver import PrivatePostgres
from cti.store import Database
from cti.writer import BufferedWriter

pytestmark = [pytest.mark.foundation, pytest.mark.resilience]


async def _insert(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, role, action, target) VALUES ('t', 'test', 'seq', $1)",
        str(payload["n"]),
    )


async def _targets(db: Database) -> list[int]:
    rows = await db.fetch("SELECT target FROM audit_log WHERE action = 'seq' ORDER BY id")
    return [int(r["target"]) for r in rows]


async def test_writes_in_order(empty_dsn: str, tmp_path: Path) -> None:
    db = Database(empty_dsn)
    await db.open()
    writer = BufferedWriter(db, tmp_path / "spool.jsonl")
    writer.register("seq", _insert)
    writer.start()
    try:
        for n in range(50):
            writer.submit("seq", {"n": n})
        await writer.flushed(10)
        assert await _targets(db) == list(range(50))
    finally:
        await writer.stop()
        await db.close()


async def test_outage_buffers_spools_and_flushes_in_order(
    empty_dsn: str, tmp_path: Path, pg_server: PrivatePostgres
) -> None:
    db = Database(empty_dsn)
    await db.open()
    spool = tmp_path / "spool.jsonl"
    writer = BufferedWriter(db, spool, memory_limit=20, retry_base=0.05, retry_cap=0.3)
    writer.register("seq", _insert)
    writer.start()
    try:
        writer.submit("seq", {"n": 0})
        await writer.flushed(10)
        pg_server.stop("immediate")
        try:
            for n in range(1, 101):
                writer.submit("seq", {"n": n})
                await asyncio.sleep(0)  # let the writer try (and fail) between submits
            async with asyncio.timeout(10):
                while writer.database_up:  # noqa: ASYNC110 - polling a plain flag
                    await asyncio.sleep(0.05)
            assert writer.pending == 100
            assert spool.exists(), "past the memory limit, ops go to the on-disk spool"
        finally:
            pg_server.start()
        await writer.flushed(30)
        assert await _targets(db) == list(range(101))
        assert not spool.exists()
    finally:
        await writer.stop()
        await db.close()


async def test_spool_survives_a_restart_of_the_writer(empty_dsn: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    first = BufferedWriter(db, spool, retry_base=0.01, retry_cap=0.05)
    first.register("seq", _insert)
    first.start()
    for n in range(5):
        first.submit("seq", {"n": n})
    await first.stop(flush_timeout=0.2)
    assert spool.exists()

    real = Database(empty_dsn)
    await real.open()
    second = BufferedWriter(real, spool)
    second.register("seq", _insert)
    assert second.pending == 5
    second.start()
    try:
        await second.flushed(10)
        assert await _targets(real) == list(range(5))
    finally:
        await second.stop()
        await real.close()


async def _insert_nullable(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, role, action, target) VALUES ($1, 'test', 'seq', $2)",
        payload.get("actor"),
        str(payload["n"]),
    )


async def test_a_bad_write_in_a_batch_drops_only_itself(empty_dsn: str, tmp_path: Path) -> None:
    db = Database(empty_dsn)
    await db.open()
    writer = BufferedWriter(db, tmp_path / "spool.jsonl")
    writer.register("seq", _insert_nullable)
    try:
        for n in range(10):
            # actor NULL violates NOT NULL: the 5th write is refused by the database
            writer.submit("seq", {"n": n, "actor": None if n == 4 else "t"})
        writer.start()  # all ten wait: they go in one batch
        await writer.flushed(10)
        assert await _targets(db) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
        assert writer.stats.dropped_invalid == 1
    finally:
        await writer.stop()
        await db.close()
