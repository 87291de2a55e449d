"""The SQL that reads call records and agent state changes back for the figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cti.store.db import Database

_CALL_ROWS = """
SELECT call_id, queue, first_agent, queued_at, answered_at, ended_at, outcome, rating
  FROM calls
 WHERE queued_at >= $1
 ORDER BY queued_at, call_id
"""

_AGENT_CHANGES = """
SELECT agent_id, at, status, state
  FROM agent_state_changes
 WHERE at >= $1
 ORDER BY at, id
"""


async def call_rows_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Calls queued at or after ``since``, oldest first (the fields :mod:`figures` reads)."""
    return await db.fetch(_CALL_ROWS, since)


async def agent_changes_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Agent state changes at or after ``since``, in the order they were written."""
    return await db.fetch(_AGENT_CHANGES, since)
