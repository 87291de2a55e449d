"""The store against a real PostgreSQL server: migrations, basic writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cti.errors import StoreError
from cti.store import Database, available_migrations

pytestmark = pytest.mark.foundation

EXPECTED_TABLES = {
    "calls",
    "call_events",
    "agent_sessions",
    "agent_state_changes",
    "ratings",
    "ticket_outbox",
    "recordings",
    "callbacks",
    "config_versions",
    "audit_log",
    "schema_migrations",
}


async def test_migrations_on_empty_database_then_again_as_noop(empty_dsn: str) -> None:
    db = Database(empty_dsn)
    applied = await db.open()
    try:
        assert applied == [m.version for m in available_migrations()]
        assert applied, "at least one migration ships"
        tables = {
            r["tablename"]
            for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert tables >= EXPECTED_TABLES
        recorded = await db.fetch("SELECT version, checksum FROM schema_migrations ORDER BY 1")
        assert [r["version"] for r in recorded] == applied
    finally:
        await db.close()

    again = Database(empty_dsn)
    try:
        assert await again.open() == []
        count = await again.fetchrow("SELECT count(*) AS n FROM schema_migrations")
        assert count is not None and count["n"] == len(applied)
    finally:
        await again.close()


async def test_config_version_and_audit_rows(empty_dsn: str) -> None:
    db = Database(empty_dsn)
    await db.open()
    try:
        now = datetime.now(UTC)
        await db.record_config_version("ab" * 32, now, "admin:ops", "35 lines")
        await db.audit("sup1", "supervisor", "listen", "call-1", detail={"seat": "8001"})
        row = await db.fetchrow("SELECT * FROM config_versions")
        assert row is not None and row["requested_by"] == "admin:ops"
        audit = await db.fetchrow("SELECT * FROM audit_log")
        assert audit is not None and audit["detail"] == {"seat": "8001"} and audit["allowed"]
    finally:
        await db.close()


async def test_unreachable_database_raises_store_error() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError):
        await db.open()
