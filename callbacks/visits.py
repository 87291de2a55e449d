"""Return visits (回访): the work-order backend asks, the centre calls the citizen back.

Theory of operation
-------------------
A request names the ticket, the citizen's number, a due window, the survey
to ask and whether a person must make the call.  It is idempotent on the
ticket id: the same request again changes nothing (:func:`request`), a
different request for the same ticket is refused.  A visit moves through
:data:`TRANSITIONS`::

    pending --claim/dial--> calling --result--> pending | done | failed
    pending --window passed--> expired
    calling --survey refused--> pending (an agent's visit from now on)

``calling`` is the one state in which the citizen is being called.  An
attempt that did not reach them returns the visit to ``pending`` until the
attempts are spent; reached (with its answers), wrong number or refused end
it.  Nobody is called outside the window or in quiet hours.

The automatic survey (the dialler) takes only visits that it may make:
not ``person_required`` and not fallen back.  A citizen who refuses the
survey (a configured key, no answer to the question) or asks for a person
sends the visit to the agents (:func:`fall_back`): the attempt is kept, the
visit waits in ``pending`` for an agent and is never dialled automatically
again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from callbacks.errors import CallbacksError, IllegalTransition, Refusal
from callbacks.policy import FINAL_OUTCOMES, CallbackPolicy, Outcome, VisitPolicy, aware


class VisitStatus(StrEnum):
    PENDING = "pending"
    CALLING = "calling"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


TRANSITIONS: dict[VisitStatus, frozenset[VisitStatus]] = {
    VisitStatus.PENDING: frozenset({VisitStatus.CALLING, VisitStatus.EXPIRED}),
    VisitStatus.CALLING: frozenset({VisitStatus.PENDING, VisitStatus.DONE, VisitStatus.FAILED}),
    VisitStatus.DONE: frozenset(),
    VisitStatus.FAILED: frozenset(),
    VisitStatus.EXPIRED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class VisitRequest:
    ticket_id: str
    number: str
    due_from: dt.datetime
    due_until: dt.datetime
    survey: str
    person_required: bool
    summary: str = ""
    """The ticket's summary, shown to the agent who makes the call."""

    def __post_init__(self) -> None:
        aware(self.due_from, "due_from")
        aware(self.due_until, "due_until")


@dataclass(frozen=True, slots=True)
class VisitResult:
    outcome: Outcome
    at: dt.datetime
    agent: str | None = None
    answers: tuple[tuple[str, str], ...] = ()
    """(question id, answer) pairs, in the order asked."""
    recording: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Visit:
    request: VisitRequest
    status: VisitStatus = VisitStatus.PENDING
    results: tuple[VisitResult, ...] = ()
    calling_by: str | None = None
    calling_since: dt.datetime | None = None
    fallback: str | None = None
    """Why the automatic survey handed the visit to the agents (None: it did not)."""

    def __repr__(self) -> str:
        return f"<Visit {self.request.ticket_id} {self.status} tries={len(self.results)}>"

    @property
    def ticket_id(self) -> str:
        return self.request.ticket_id

    def due(self, now: dt.datetime, policy: VisitPolicy, quiet: CallbackPolicy) -> bool:
        """May the citizen be called for this visit at ``now``?"""
        req = self.request
        if self.status is not VisitStatus.PENDING or quiet.is_quiet(now):
            return False
        if not (req.due_from <= aware(now) < req.due_until):
            return False
        return not self.results or self.results[-1].at + policy.spacing <= now

    @property
    def needs_person(self) -> bool:
        """Only an agent may make this visit (asked so, or the survey was refused)."""
        return self.request.person_required or self.fallback is not None

    def automatic_due(self, now: dt.datetime, policy: VisitPolicy, quiet: CallbackPolicy) -> bool:
        """May the dialler call the citizen for this visit at ``now``?"""
        return not self.needs_person and self.due(now, policy, quiet)


def _move(visit: Visit, target: VisitStatus, **changes: object) -> Visit:
    if target not in TRANSITIONS[visit.status]:
        raise IllegalTransition("return visit", visit.ticket_id, visit.status, target)
    return replace(visit, status=target, **changes)  # type: ignore[arg-type]


def check_request(req: VisitRequest, surveys: Iterable[str], now: dt.datetime) -> None:
    """Refuse a request that cannot be carried out (one clear message)."""
    if req.due_until <= req.due_from:
        raise Refusal("bad_window", "due_until: must be after due_from")
    if req.due_until <= aware(now):
        raise Refusal("bad_window", "due_until: the window is already over")
    known = set(surveys)
    if req.survey not in known:
        raise Refusal(
            "unknown_survey",
            f"survey: no survey {req.survey!r} (known: {', '.join(sorted(known))})",
        )


def request(existing: Visit | None, req: VisitRequest) -> tuple[Visit, bool]:
    """The visit for ``req`` and whether it is new; the same ticket asked differently is refused."""
    if existing is None:
        return Visit(req), True
    if existing.request != req:
        raise Refusal(
            "conflict",
            f"ticket_id: a different return visit for ticket {req.ticket_id!r} exists already",
        )
    return existing, False


def start_call(visit: Visit, agent: str | None, now: dt.datetime, quiet: CallbackPolicy) -> Visit:
    """A call to the citizen starts: only within the due window, never in quiet hours."""
    if quiet.is_quiet(now):
        raise Refusal("quiet_hours", "no calls to citizens in quiet hours")
    req = visit.request
    if not req.due_from <= aware(now) < req.due_until:
        raise Refusal("outside_window", "the return visit is not due now (outside its window)")
    return _begin(visit, agent, now)


def _begin(visit: Visit, agent: str | None, now: dt.datetime) -> Visit:
    if visit.status is VisitStatus.CALLING:
        raise Refusal("busy", f"the citizen is being called already (by {visit.calling_by})")
    if visit.status is not VisitStatus.PENDING:
        raise Refusal("closed", f"the return visit is {visit.status}")
    if visit.request.person_required and agent is None:
        raise Refusal("person_required", "this return visit must be made by a person")
    return _move(visit, VisitStatus.CALLING, calling_by=agent, calling_since=aware(now))


def record_result(
    visit: Visit, result: VisitResult, policy: VisitPolicy, quiet: CallbackPolicy
) -> Visit:
    """One attempt's result; an agent may record a call made outside the engine.

    Quiet hours and the window guard calls that start; the result of a call
    already made is always kept (unless the visit is closed).
    """
    if visit.status is VisitStatus.PENDING:
        visit = _begin(visit, result.agent, result.at)
    if visit.status is not VisitStatus.CALLING:
        raise Refusal("closed", f"the return visit is {visit.status}")
    results = (*visit.results, result)
    common: dict[str, object] = {"results": results, "calling_by": None, "calling_since": None}
    if result.outcome in FINAL_OUTCOMES:
        return _move(visit, VisitStatus.DONE, **common)
    if len(results) >= policy.attempts:
        return _move(visit, VisitStatus.FAILED, **common)
    return _move(visit, VisitStatus.PENDING, **common)


def fall_back(visit: Visit, result: VisitResult, reason: str) -> Visit:
    """The automatic survey gave up on the citizen: the attempt kept, the visit to the agents.

    The visit returns to ``pending`` whatever attempts were spent: an agent
    still owes the citizen the visit (100% return visits).
    """
    if visit.status is not VisitStatus.CALLING:
        raise Refusal("closed", f"the return visit is {visit.status}")
    if not reason:
        raise CallbacksError("a fallback needs its reason")
    return _move(
        visit,
        VisitStatus.PENDING,
        results=(*visit.results, result),
        calling_by=None,
        calling_since=None,
        fallback=reason,
    )


def expire(visit: Visit, now: dt.datetime) -> Visit:
    if visit.status is VisitStatus.PENDING and aware(now) >= visit.request.due_until:
        return _move(visit, VisitStatus.EXPIRED)
    return visit
