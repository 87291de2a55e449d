"""Login sessions kept in PostgreSQL, so that they outlive the engine that opened them.

An agent's toolbar or a supervisor's console holds a bearer token from its
login.  The :class:`~cti.api.auth.Authenticator` keeps live sessions in memory
and tells a :class:`SessionStore` of each one opened and closed; the store
writes them to ``api_sessions`` through the buffered writer (so a database
outage loses no login and stops nothing), as the SHA-256 of the token: a
stolen copy of the table opens nothing.  An engine that meets a token it does
not know — it was restarted, or it took over from another engine — looks the
token up here once (:meth:`SessionStore.find`), and the page that holds it goes
on without a new login.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cti.errors import StoreError
from cti.store import Database
from cti.writer import BufferedWriter

OPEN = "api_session_open"
CLOSE = "api_session_close"
CLOSE_PRINCIPAL = "api_session_close_principal"


def token_hash(token: str) -> bytes:
    """What the table keeps of a token."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class StoredSession:
    principal: str
    role: str
    seat: str | None
    opened: float
    expires: float


class SessionStore:
    """``api_sessions``: written through ``writer``, read from ``db``."""

    def __init__(self, db: Database, writer: BufferedWriter) -> None:
        self._db = db
        self._writer = writer
        writer.register(OPEN, _write_open)
        writer.register(CLOSE, _write_close)
        writer.register(CLOSE_PRINCIPAL, _write_close_principal)

    def __repr__(self) -> str:
        return "<SessionStore api_sessions>"

    def opened(
        self, token: str, principal: str, role: str, seat: str | None, at: float, expires: float
    ) -> None:
        """A session opened at ``at`` (epoch seconds), valid until ``expires``."""
        self._writer.submit(
            OPEN,
            {
                "hash": token_hash(token).hex(),
                "principal": principal,
                "role": role,
                "seat": seat,
                "opened_at": datetime.fromtimestamp(at, UTC),
                "expires_at": datetime.fromtimestamp(expires, UTC),
            },
        )

    def closed(self, token: str) -> None:
        self._writer.submit(CLOSE, {"hash": token_hash(token).hex(), "at": datetime.now(UTC)})

    def principal_closed(self, principal: str, role: str) -> None:
        """Every session of ``principal`` in ``role`` ended (an agent logged out or in again)."""
        self._writer.submit(
            CLOSE_PRINCIPAL, {"principal": principal, "role": role, "at": datetime.now(UTC)}
        )

    async def find(self, token: str) -> StoredSession | None:
        """The open, unexpired session of ``token``; ``None`` when there is none or the
        database cannot say."""
        try:
            row = await self._db.fetchrow(
                "SELECT principal, role, seat, opened_at, expires_at FROM api_sessions"
                " WHERE token_hash = $1 AND closed_at IS NULL AND expires_at > now()",
                token_hash(token),
            )
        except StoreError:
            return None
        if row is None:
            return None
        return StoredSession(
            row["principal"],
            row["role"],
            row["seat"],
            row["opened_at"].timestamp(),
            row["expires_at"].timestamp(),
        )


async def _write_open(conn: asyncpg.Connection, op: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO api_sessions (token_hash, principal, role, seat, opened_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_hash) DO NOTHING",
        bytes.fromhex(op["hash"]),
        op["principal"],
        op["role"],
        op["seat"],
        op["opened_at"],
        op["expires_at"],
    )


async def _write_close(conn: asyncpg.Connection, op: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE api_sessions SET closed_at = $2 WHERE token_hash = $1 AND closed_at IS NULL",
        bytes.fromhex(op["hash"]),
        op["at"],
    )


async def _write_close_principal(conn: asyncpg.Connection, op: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE api_sessions SET closed_at = $3"
        " WHERE principal = $1 AND role = $2 AND closed_at IS NULL",
        op["principal"],
        op["role"],
        op["at"],
    )
