"""Return visits under random orders of requests, calls, results, expiry and time passing.

After every step: nobody is called outside the visit's window or in quiet hours,
never twice at once; a repeated request changes nothing and a different one for
the same ticket is refused; no visit has more results than the attempts allow,
and one is done only after a result that ends it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import callbacks as cb

pytestmark = pytest.mark.outbound

ZONE = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=ZONE)
QUIET = cb.CallbackPolicy(timezone="Asia/Shanghai")
POLICY = cb.VisitPolicy(attempts=3, spacing=dt.timedelta(hours=1))
TICKETS = ["WO-1", "WO-2", "WO-3"]


class VisitDays(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.visits: dict[str, cb.Visit] = {}
        self.violations: list[str] = []

    @rule(minutes=st.integers(min_value=0, max_value=600))
    def time_passes(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)

    @rule(
        ticket=st.sampled_from(TICKETS),
        opens_in=st.integers(min_value=-300, max_value=600),
        hours=st.integers(min_value=1, max_value=48),
        person=st.booleans(),
    )
    def backend_asks(self, ticket: str, opens_in: int, hours: int, person: bool) -> None:
        due_from = self.now + dt.timedelta(minutes=opens_in)
        req = cb.VisitRequest(ticket, "13800138000", due_from, due_from + dt.timedelta(hours=hours),
                              "satisfaction", person)  # fmt: skip
        existing = self.visits.get(ticket)
        try:
            visit, new = cb.request(existing, req)
        except cb.Refusal:
            assert existing is not None and existing.request != req
            return
        assert new == (existing is None)
        if existing is not None:
            assert visit is existing
        self.visits[ticket] = visit
        again, new_again = cb.request(visit, req)
        assert again is visit and not new_again

    @rule(ticket=st.sampled_from(TICKETS), agent=st.sampled_from([None, "1001", "1002"]))
    def call_starts(self, ticket: str, agent: str | None) -> None:
        visit = self.visits.get(ticket)
        if visit is None:
            return
        try:
            started = cb.start_call(visit, agent, self.now, QUIET)
        except cb.Refusal:
            return
        req = visit.request
        if QUIET.is_quiet(self.now) or not (req.due_from <= self.now < req.due_until):
            self.violations.append(f"{ticket} called at {self.now}")
        if visit.status is not cb.VisitStatus.PENDING:
            self.violations.append(f"{ticket} called while {visit.status}")
        self.visits[ticket] = started

    @rule(ticket=st.sampled_from(TICKETS), outcome=st.sampled_from(list(cb.Outcome)))
    def result(self, ticket: str, outcome: cb.Outcome) -> None:
        visit = self.visits.get(ticket)
        if visit is None:
            return
        try:
            after = cb.record_result(
                visit, cb.VisitResult(outcome, self.now, "1001"), POLICY, QUIET
            )
        except cb.Refusal:
            assert visit.status in (cb.VisitStatus.DONE, cb.VisitStatus.FAILED,
                                    cb.VisitStatus.EXPIRED) or visit.request.person_required  # fmt: skip
            return
        if after.status is cb.VisitStatus.DONE:
            assert after.results[-1].outcome in cb.FINAL_OUTCOMES
        self.visits[ticket] = after

    @rule()
    def sweep(self) -> None:
        for ticket, visit in list(self.visits.items()):
            self.visits[ticket] = cb.expire(visit, self.now)

    @invariant()
    def no_violation(self) -> None:
        assert not self.violations, self.violations

    @invariant()
    def within_attempts(self) -> None:
        for visit in self.visits.values():
            assert len(visit.results) <= POLICY.attempts
            if visit.status is cb.VisitStatus.EXPIRED:
                assert not any(r.outcome in cb.FINAL_OUTCOMES for r in visit.results)
            if visit.status is cb.VisitStatus.CALLING:
                assert visit.calling_since is not None

    @invariant()
    def due_only_when_callable(self) -> None:
        for visit in self.visits.values():
            if visit.due(self.now, POLICY, QUIET):
                assert not QUIET.is_quiet(self.now)
                assert visit.request.due_from <= self.now < visit.request.due_until


VisitDays.TestCase.settings = settings(
    max_examples=120, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
TestVisitDays = VisitDays.TestCase
