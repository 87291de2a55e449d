"""Who may listen to a call's recording, and who may see the caller's number.

Theory of operation
-------------------
Recordings are kept for quality inspection (质检) and disputes.  The rule,
given an authenticated :class:`Principal` and the facts of one call
(:class:`CallFacts`):

* the ``supervisor`` and ``quality_inspector`` roles may always listen;
* an ``agent`` may listen to a call they took (any segment lists them, or
  they were the call's first-contact agent) until ``agent_window`` (7 days by
  default) after the call ended;
* everyone else is refused.

:meth:`AccessPolicy.role_may_listen` answers from the role alone, before any
lookup, so a role that can never listen learns nothing about which calls
exist.  :meth:`AccessPolicy.decide` gives the full answer with a reason that
goes to the audit log.  Caller numbers in listings are masked
(``138****8000``) unless the role is one of ``number_roles``.

Pure: no clock (``now`` is an argument), no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    SUPERVISOR = "supervisor"
    QUALITY_INSPECTOR = "quality_inspector"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user: an id (an agent number, a login) and one role."""

    id: str
    role: str

    def __repr__(self) -> str:
        return f"<Principal {self.id} {self.role}>"


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the policy needs to know about one call.

    ``agents`` are every agent that took part (first-contact agent included);
    ``ended_at`` is when the call (or its last recording) ended.
    """

    call_id: str
    agents: frozenset[str]
    ended_at: datetime


class Reason(StrEnum):
    ROLE_ALWAYS = "role_always"
    AGENT_OF_CALL = "agent_of_call"
    AGENT_WINDOW_OVER = "agent_window_over"
    NOT_AGENT_OF_CALL = "not_agent_of_call"
    ROLE_DENIED = "role_denied"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason


def _default_full_roles() -> frozenset[str]:
    return frozenset({Role.SUPERVISOR.value, Role.QUALITY_INSPECTOR.value})


def _default_number_roles() -> frozenset[str]:
    return frozenset({Role.SUPERVISOR.value})


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The access rule of one deployment (see the module docstring)."""

    agent_window: timedelta = timedelta(days=7)
    full_access_roles: frozenset[str] = field(default_factory=_default_full_roles)
    agent_role: str = Role.AGENT.value
    number_roles: frozenset[str] = field(default_factory=_default_number_roles)

    def role_may_listen(self, principal: Principal) -> bool:
        """Whether the role can listen to any call at all."""
        return principal.role in self.full_access_roles or principal.role == self.agent_role

    def decide(self, principal: Principal, facts: CallFacts, now: datetime) -> Decision:
        """May ``principal`` listen to the recordings of the call described by ``facts``?"""
        if principal.role in self.full_access_roles:
            return Decision(True, Reason.ROLE_ALWAYS)
        if principal.role != self.agent_role:
            return Decision(False, Reason.ROLE_DENIED)
        if principal.id not in facts.agents:
            return Decision(False, Reason.NOT_AGENT_OF_CALL)
        if now > facts.ended_at + self.agent_window:
            return Decision(False, Reason.AGENT_WINDOW_OVER)
        return Decision(True, Reason.AGENT_OF_CALL)

    def may_see_numbers(self, principal: Principal) -> bool:
        return principal.role in self.number_roles

    def show_number(self, principal: Principal, number: str | None) -> str:
        """``number`` as ``principal`` may see it in a listing."""
        if self.may_see_numbers(principal):
            return number or ""
        return mask_number(number)


def mask_number(number: str | None) -> str:
    """Keep the first 3 and last 4 digits of a number of 8 digits or more.

    Short service numbers and extensions (12345, 110, 8001) are not personal
    data and are shown as they are.
    """
    if not number:
        return ""
    value = number.strip()
    if len(value) < 8:
        return value
    return f"{value[:3]}{'*' * (len(value) - 7)}{value[-4:]}"
