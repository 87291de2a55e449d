"""The callback list under random orders of misses, answered calls, claims, dials and outcomes.

A Hypothesis state machine plays a day (and a night, and the next day) in
virtual time against :class:`callbacks.CallbackBook`.  A dialler and agents
take whatever the list offers as due, skip, dial and record outcomes, while
citizens call again, get through or give up.  After every step: no number
is being called twice at once (and no number has two open entries), no call
started in quiet hours, and nobody was called back for a miss older than
their last successful call.
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
START = dt.datetime(2026, 3, 2, 19, 0, tzinfo=ZONE)  # two hours before quiet hours
NUMBERS = ["13800000001", "13800000002", "13800000003", "051385098110"]
AGENTS = ["1001", "1002", "1003"]
POLICY = cb.CallbackPolicy(
    attempts=3,
    spacing=dt.timedelta(minutes=30),
    deadline=dt.timedelta(hours=2),
    quiet=cb.QuietHours(dt.time(21), dt.time(8)),
    timezone="Asia/Shanghai",
)


class CallbackDay(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = cb.CallbackBook(POLICY)
        self.now = START
        self.calls = 0
        self.dials: list[tuple[str, dt.datetime, str]] = []  # (number, at, entry key)
        self.last_success: dict[str, int] = {}  # number -> the call (counter) that got through
        self.violations: list[str] = []

    def _call_id(self) -> str:
        self.calls += 1
        return f"c{self.calls}"

    @rule(minutes=st.integers(min_value=0, max_value=300))
    def time_passes(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)

    @rule(
        number=st.sampled_from(NUMBERS),
        reason=st.sampled_from(list(cb.Reason)),
        line=st.sampled_from(["12345", "85098110"]),
    )
    def citizen_missed(self, number: str, reason: cb.Reason, line: str) -> None:
        miss = cb.Miss(self._call_id(), self.now, line, reason)
        self.book.handle(cb.Missed(number, miss), self.now)

    @rule(number=st.sampled_from(NUMBERS))
    def citizen_got_through(self, number: str) -> None:
        call_id = self._call_id()
        self.book.handle(cb.GotThrough(number, call_id), self.now)
        self.last_success[number] = self.calls

    @rule(agent=st.sampled_from(AGENTS), data=st.data())
    def agent_takes_next(self, agent: str, data: st.DataObject) -> None:
        due = self.book.next_due(self.now, 3)
        if not due:
            return
        entry = data.draw(st.sampled_from(due))
        action = data.draw(st.sampled_from(["dial", "skip", "claim_then_dial"]))
        if action == "skip":
            self.book.handle(cb.SkipEntry(entry.key, agent, "busy with a ticket"), self.now)
            return
        if action == "claim_then_dial":
            self.book.handle(cb.Claim(entry.key, agent), self.now)
        self._dial(entry.key, agent)

    @rule(data=st.data())
    def agent_dials_any_open(self, data: st.DataObject) -> None:
        """An agent presses Call on whatever the panel shows, due or not."""
        keys = sorted(self.book.entries)
        if not keys:
            return
        key = data.draw(st.sampled_from(keys))
        self._dial(key, data.draw(st.sampled_from(AGENTS)))

    def _dial(self, key: str, agent: str) -> None:
        changes = self.book.handle(cb.Dial(key, agent), self.now)
        for change in changes:
            if isinstance(change, cb.Changed) and change.entry.status is cb.Status.DIALLING:
                self.dials.append((change.entry.number, self.now, key))
                self._check_dial(change.entry)

    def _check_dial(self, entry: cb.Entry) -> None:
        if POLICY.is_quiet(self.now):
            self.violations.append(f"{entry.key} dialled in quiet hours at {self.now}")
        success = self.last_success.get(entry.number)
        last_miss = max(int(m.call_id[1:]) for m in entry.misses)
        if success is not None and success > last_miss:
            self.violations.append(f"{entry.key} dialled after the citizen got through")

    @rule(data=st.data(), outcome=st.sampled_from(list(cb.Outcome)))
    def call_ends(self, data: st.DataObject, outcome: cb.Outcome) -> None:
        dialling = [k for k, e in self.book.entries.items() if e.status is cb.Status.DIALLING]
        if not dialling:
            return
        key = data.draw(st.sampled_from(sorted(dialling)))
        self.book.handle(cb.RecordOutcome(key, outcome), self.now)
        if outcome is cb.Outcome.REACHED:
            self.calls += 1
            self.last_success[self.book.entries[key].number] = self.calls

    @invariant()
    def nobody_called_twice_at_once(self) -> None:
        dialling = [e.number for e in self.book.entries.values() if e.status is cb.Status.DIALLING]
        assert len(dialling) == len(set(dialling)), dialling
        open_numbers = [e.number for e in self.book.entries.values() if e.is_open]
        assert len(open_numbers) == len(set(open_numbers)), open_numbers

    @invariant()
    def no_call_in_quiet_hours_nor_after_getting_through(self) -> None:
        assert not self.violations, self.violations

    @invariant()
    def attempts_within_policy(self) -> None:
        for entry in self.book.entries.values():
            assert entry.tries <= POLICY.attempts, entry
            if entry.status is cb.Status.FAILED:
                assert entry.tries == POLICY.attempts

    @invariant()
    def due_entries_respect_spacing(self) -> None:
        for entry in self.book.next_due(self.now, 100):
            assert not POLICY.is_quiet(self.now)
            if entry.attempts:
                assert self.now - entry.attempts[-1].at >= POLICY.spacing


CallbackDay.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCallbackDay = CallbackDay.TestCase
