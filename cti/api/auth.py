"""Who is asking: bearer tokens for agents and for the other roles.

Agents log in with their number and PIN (checked against the PBKDF2 hash in
``agents.yaml``) and receive a random session token that expires.  The other
roles — supervisor, quality inspector, admin, wallboard — present tokens
configured through environment variables, never the YAML:

=================  ==============================
role               environment variable
=================  ==============================
supervisor         ``HOTLINE_SUPERVISOR_TOKEN``
quality_inspector  ``HOTLINE_INSPECTOR_TOKEN``
admin              ``HOTLINE_ADMIN_TOKEN``
wallboard          ``HOTLINE_WALLBOARD_TOKEN``
=================  ==============================

Several tokens may be given for one role, separated by commas, each
optionally as ``name:token`` so the audit log names the person.  Persons
with a role of their own in ``agents.yaml`` (supervisors) may also log in
with their number and PIN (:mod:`cti.api.persons`) and receive a session
token for that role, named after them.

Sessions live in memory and, when the engine has a session store
(:mod:`cti.api.sessions`), in PostgreSQL too: a token this process does not
know is looked up there once (:meth:`Authenticator.recall`), so that a login
outlives a restart of the engine or a takeover by a standby.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cti.api.sessions import SessionStore


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    QUALITY_INSPECTOR = "quality_inspector"
    ADMIN = "admin"
    WALLBOARD = "wallboard"


ROLE_ENV = {
    Role.SUPERVISOR: "HOTLINE_SUPERVISOR_TOKEN",
    Role.QUALITY_INSPECTOR: "HOTLINE_INSPECTOR_TOKEN",
    Role.ADMIN: "HOTLINE_ADMIN_TOKEN",
    Role.WALLBOARD: "HOTLINE_WALLBOARD_TOKEN",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller of the API: ``id`` is the agent number or token name."""

    id: str
    role: Role
    seat: str | None = None

    def __repr__(self) -> str:
        return f"<Principal {self.role}:{self.id}>"


@dataclass
class AgentSession:
    agent: str
    seat: str
    expires: float


class Authenticator:
    """Maps bearer tokens to principals."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        session_ttl_s: float = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        self._clock = clock
        self.session_ttl_s = session_ttl_s
        self._role_tokens: list[tuple[str, Principal]] = []
        for role, variable in ROLE_ENV.items():
            for index, item in enumerate(filter(None, env.get(variable, "").split(","))):
                name, _, token = item.strip().rpartition(":")
                self._role_tokens.append((token, Principal(name or f"{role}-{index + 1}", role)))
        self._sessions: dict[str, AgentSession] = {}
        self._persons: dict[str, tuple[Principal, float]] = {}
        self.on_closed: list[Callable[[str], None]] = []
        self.store: SessionStore | None = None
        # What this process ended, in case the store has not heard of it yet (its
        # writes are buffered): a token, or every session of a principal opened before.
        self._ended_tokens: set[str] = set()
        self._ended_principals: dict[tuple[str, Role], float] = {}

    def __repr__(self) -> str:
        return f"<Authenticator roles={len(self._role_tokens)} sessions={len(self._sessions)}>"

    def open_session(self, agent: str, seat: str) -> tuple[str, float]:
        """A new token for ``agent``; earlier sessions of the agent end."""
        self.close_sessions(agent)
        token = secrets.token_urlsafe(24)
        now = self._clock()
        expires = now + self.session_ttl_s
        self._sessions[token] = AgentSession(agent, seat, expires)
        if self.store is not None:
            self.store.opened(token, agent, Role.AGENT, seat, now, expires)
        return token, expires

    def open_person_session(self, person: str, role: Role) -> tuple[str, float]:
        """A new token acting as ``role`` in the name of ``person`` (``"<number> <name>"``)."""
        token = secrets.token_urlsafe(24)
        now = self._clock()
        expires = now + self.session_ttl_s
        self._persons[token] = (Principal(person, role), expires)
        if self.store is not None:
            self.store.opened(token, person, role, None, now, expires)
        return token, expires

    def close_person_session(self, token: str) -> None:
        self._persons.pop(token, None)
        self._ended_tokens.add(token)
        if self.store is not None:
            self.store.closed(token)

    def close_sessions(self, agent: str) -> None:
        """End every session of ``agent``; ``on_closed`` listeners hear of it."""
        tokens = [t for t, s in self._sessions.items() if s.agent == agent]
        for token in tokens:
            del self._sessions[token]
        self._ended_principals[(agent, Role.AGENT)] = self._clock()
        if self.store is not None:
            self.store.principal_closed(agent, Role.AGENT)
        if tokens:
            for listener in self.on_closed:
                listener(agent)

    def session(self, token: str) -> Principal | None:
        """The agent or person of a live session token (random, 192 bits: never worth
        throttling)."""
        if not token:
            return None
        session = self._sessions.get(token)
        if session is not None:
            if session.expires < self._clock():
                del self._sessions[token]
                return None
            return Principal(session.agent, Role.AGENT, session.seat)
        person = self._persons.get(token)
        if person is not None:
            if person[1] < self._clock():
                del self._persons[token]
                return None
            return person[0]
        return None

    async def recall(self, token: str) -> Principal | None:
        """:meth:`session`, or else the session the store keeps for ``token`` (opened
        before this process started, or by another engine), remembered from then on."""
        found = self.session(token)
        if found is not None or not token or self.store is None or token in self._ended_tokens:
            return found
        stored = await self.store.find(token)
        if stored is None or stored.expires < self._clock():
            return None
        try:
            role = Role(stored.role)
        except ValueError:
            return None
        ended = self._ended_principals.get((stored.principal, role))
        if ended is not None and stored.opened <= ended:
            return None
        if role is Role.AGENT:
            if stored.seat is None:
                return None
            self._sessions[token] = AgentSession(stored.principal, stored.seat, stored.expires)
        else:
            self._persons[token] = (Principal(stored.principal, role), stored.expires)
        return self.session(token)

    @staticmethod
    def bearer(header: str | None) -> str | None:
        """The token of an ``Authorization: Bearer`` header, or ``None``."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip()

    def principal(self, token: str) -> Principal | None:
        if not token:
            return None
        found = self.session(token)
        if found is not None:
            return found
        for known, principal in self._role_tokens:
            if hmac.compare_digest(known.encode(), token.encode()):
                return principal
        return None

    def from_header(self, header: str | None) -> Principal | None:
        token = self.bearer(header)
        return None if token is None else self.principal(token)
