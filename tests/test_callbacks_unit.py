"""The pure callbacks package: policy clock arithmetic, entries, return visits, pacing, dial rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import callbacks as cb

pytestmark = pytest.mark.outbound

ZONE = ZoneInfo("Asia/Shanghai")
POLICY = cb.CallbackPolicy()


def at(hour: int, minute: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=ZONE)


def test_quiet_hours_span_midnight_and_deadline_counts_service_time_only() -> None:
    assert POLICY.is_quiet(at(21, 0)) and POLICY.is_quiet(at(7, 59))
    assert not POLICY.is_quiet(at(8, 0)) and not POLICY.is_quiet(at(20, 59))
    assert POLICY.next_open(at(23, 0)) == at(8, 0, day=3)
    assert POLICY.next_open(at(3, 0)) == at(8, 0)
    # Missed at 20:30: 30 minutes that evening, 90 the next morning.
    assert POLICY.deadline_for(at(20, 30)) == at(9, 30, day=3)
    assert POLICY.deadline_for(at(2, 0)) == at(10, 0)
    assert POLICY.deadline_for(at(10, 0)) == at(12, 0)
    with pytest.raises(cb.CallbacksError):
        POLICY.is_quiet(dt.datetime(2026, 3, 2, 10, 0))


def test_one_entry_per_number_per_day_merging_repeat_misses() -> None:
    book = cb.CallbackBook(POLICY)
    book.handle(cb.Missed("13800138000", cb.Miss("c1", at(9), "12345", cb.Reason.ABANDONED)), at(9))
    book.handle(
        cb.Missed("13800138000", cb.Miss("c2", at(9, 5), "85098110", cb.Reason.VOICEMAIL)), at(9, 5)
    )
    (entry,) = book.entries.values()
    assert [(m.call_id, m.line, m.reason) for m in entry.misses] == [
        ("c1", "12345", cb.Reason.ABANDONED),
        ("c2", "85098110", cb.Reason.VOICEMAIL),
    ]
    # The next day: a new entry; yesterday's stops.
    book.handle(
        cb.Missed("13800138000", cb.Miss("c3", at(9, day=3), "12345", cb.Reason.OVERFLOWED)),
        at(9, day=3),
    )
    statuses = {e.key: e.status for e in book.entries.values()}
    assert statuses == {
        "13800138000@2026-03-02": cb.Status.SUPERSEDED,
        "13800138000@2026-03-03": cb.Status.PENDING,
    }


def test_attempts_spacing_outcomes_and_got_through() -> None:
    book = cb.CallbackBook(POLICY)
    book.handle(cb.Missed("139", cb.Miss("c1", at(9), "12345", cb.Reason.ABANDONED)), at(9))
    key = "139@2026-03-02"
    assert [e.key for e in book.next_due(at(9), 5)] == [key]
    book.handle(cb.Dial(key, "1001"), at(9, 1))
    assert book.next_due(at(9, 2), 5) == []  # being called
    (refused,) = book.handle(cb.Dial(key, "1002"), at(9, 2))
    assert isinstance(refused, cb.Refused) and refused.code == "not_claimed"
    book.handle(cb.RecordOutcome(key, cb.Outcome.NO_ANSWER), at(9, 2))
    assert book.next_due(at(9, 20), 5) == []  # spacing: 30 minutes after the attempt
    assert [e.key for e in book.next_due(at(9, 31), 5)] == [key]
    book.handle(cb.Dial(key, "1002"), at(9, 31))
    book.handle(cb.RecordOutcome(key, cb.Outcome.BUSY), at(9, 32))
    book.handle(cb.Dial(key, "1002"), at(10, 5))
    book.handle(cb.RecordOutcome(key, cb.Outcome.VOICEMAIL), at(10, 6))
    assert book.entries[key].status is cb.Status.FAILED
    # Another number gets through on its own before anybody calls.
    book.handle(cb.Missed("137", cb.Miss("c9", at(11), "12345", cb.Reason.QUEUE_FULL)), at(11))
    book.handle(cb.GotThrough("137", "c10"), at(11, 5))
    cleared = book.entries["137@2026-03-02"]
    assert cleared.status is cb.Status.CLEARED and cleared.cleared_by == "c10"
    (opened,) = book.handle(
        cb.Missed("136", cb.Miss("c11", at(22), "12345", cb.Reason.CLOSED)), at(22)
    )
    assert isinstance(opened, cb.Changed) and book.next_due(at(22, 30), 5) == []
    (refusal,) = book.handle(cb.Dial("136@2026-03-02", "1001"), at(22, 30))
    assert isinstance(refusal, cb.Refused) and refusal.code == "quiet_hours"
    # A call made at 20:58 from the seat phone, its outcome typed in at 21:02: kept.
    book.handle(cb.Missed("135", cb.Miss("c12", at(20, 0), "12345", cb.Reason.ABANDONED)), at(20))
    book.handle(cb.Claim("135@2026-03-02", "1001"), at(20, 57))
    (kept,) = book.handle(cb.RecordOutcome("135@2026-03-02", cb.Outcome.BUSY, "1001"), at(21, 2))
    assert isinstance(kept, cb.Changed) and kept.entry.attempts[0].outcome is cb.Outcome.BUSY


def test_skip_returns_the_entry_and_figures_add_up() -> None:
    book = cb.CallbackBook(POLICY)
    for n, number in enumerate(("131", "132", "133")):
        book.handle(cb.Missed(number, cb.Miss(f"c{n}", at(9), "12345", cb.Reason.ABANDONED)), at(9))
    book.handle(cb.SkipEntry("131@2026-03-02", "1001", "citizen asked for the afternoon"), at(9, 1))
    skipped = book.entries["131@2026-03-02"]
    assert skipped.status is cb.Status.PENDING and skipped.skips[0].agent == "1001"
    book.handle(cb.Dial("132@2026-03-02", "1001"), at(9, 10))
    book.handle(cb.RecordOutcome("132@2026-03-02", cb.Outcome.REACHED), at(9, 12))
    figures = cb.figures(book.entries.values(), POLICY, at(12, 0))
    assert (figures.pending, figures.overdue, figures.done_today, figures.listed_today) == (
        2, 2, 1, 3,
    )  # fmt: skip
    assert figures.in_time_share == pytest.approx(1 / 3)


def test_missed_reason_from_call_facts() -> None:
    def reason(**kw: object) -> cb.Reason | None:
        facts = {"outcome": None, "answered": False, "waited_s": None, **kw}
        return cb.missed_reason(cb.CallFacts(**facts), POLICY)  # type: ignore[arg-type]

    assert reason(outcome="abandoned", waited_s=3) is None  # under the short-abandon threshold
    assert reason(outcome="abandoned", waited_s=45) is cb.Reason.ABANDONED
    assert reason(outcome="callback") is cb.Reason.OVERFLOWED
    assert reason(outcome="overflowed", overflow_reason="full") is cb.Reason.QUEUE_FULL
    assert reason(outcome="voicemail") is cb.Reason.VOICEMAIL
    assert reason(outcome="hangup", closed=True) is cb.Reason.CLOSED
    assert reason(outcome="answered", answered=True) is None
    assert reason(outcome="not_in_service") is None


def test_return_visit_idempotent_on_ticket_and_window() -> None:
    req = cb.VisitRequest("T-1", "13800138000", at(9), at(18), "return_visit", False)
    visit, new = cb.request(None, req)
    again, new_again = cb.request(visit, req)
    assert new and not new_again and again is visit
    with pytest.raises(cb.Refusal, match="ticket_id"):
        cb.request(visit, cb.VisitRequest("T-1", "13900000000", at(9), at(18), "x", False))
    with pytest.raises(cb.Refusal, match="due_until"):
        cb.check_request(cb.VisitRequest("T-2", "1", at(18), at(9), "x", False), ["x"], at(8))
    with pytest.raises(cb.Refusal, match="survey"):
        cb.check_request(cb.VisitRequest("T-2", "1", at(9), at(18), "nope", False), ["x"], at(8))
    policy = cb.VisitPolicy(attempts=2, spacing=dt.timedelta(hours=1))
    assert not visit.due(at(8), policy, POLICY) and visit.due(at(9), policy, POLICY)
    visit = cb.record_result(
        visit, cb.VisitResult(cb.Outcome.NO_ANSWER, at(9), "1001"), policy, POLICY
    )
    assert visit.status is cb.VisitStatus.PENDING and not visit.due(at(9, 30), policy, POLICY)
    with pytest.raises(cb.Refusal, match="outside its window"):
        cb.start_call(visit, None, at(18, 30), POLICY)
    visit = cb.start_call(visit, None, at(10, 1), POLICY)
    with pytest.raises(cb.Refusal, match="being called"):
        cb.start_call(visit, "1002", at(10, 2), POLICY)
    done = cb.record_result(
        visit,
        cb.VisitResult(cb.Outcome.REACHED, at(10, 3), None, (("q1", "5"), ("q2", "yes"))),
        policy,
        POLICY,
    )
    assert done.status is cb.VisitStatus.DONE and done.results[-1].answers[0] == ("q1", "5")
    person = cb.Visit(cb.VisitRequest("T-3", "1", at(9), at(18), "x", True))
    with pytest.raises(cb.Refusal, match="person"):
        cb.start_call(person, None, at(10), POLICY)
    assert cb.expire(person, at(18)).status is cb.VisitStatus.EXPIRED


def test_pacing_puts_inbound_first() -> None:
    policy = cb.VisitPolicy(max_lines=4, slow_down_waiting=3)
    assert cb.agent_slots(cb.Load(idle_agents=5, inbound_waiting=0, outbound_active=1), policy) == 3
    assert cb.agent_slots(cb.Load(idle_agents=5, inbound_waiting=1, outbound_active=0), policy) == 0
    assert cb.dialler_slots(cb.Load(0, 0, 0, trunk_free=2), policy) == 2
    assert cb.dialler_slots(cb.Load(0, 2, 0), policy) == 1
    assert cb.dialler_slots(cb.Load(0, 3, 0), policy) == 0


def test_dial_rules_first_match_decides() -> None:
    rules = cb.DialRules(
        (
            cb.DialRule("international", r"00\d+|\+\d+", allow=False),
            cb.DialRule("premium", r"(1[69]\d{2,}|95013\d*)", allow=False),
            cb.DialRule("emergency", r"11[09]|120", allow=True, roles=frozenset({"supervisor"})),
            cb.DialRule("mobile", r"1[3-9]\d{9}", allow=True),
            cb.DialRule("local", r"0?513\d{8}|[2-8]\d{7}", allow=True),
        )
    )
    assert rules.check("138-0013-8000").allowed
    assert rules.check("138 0013 8000").number == "13800138000"
    assert rules.check("85098110").allowed
    verdict = rules.check("0085212345678")
    assert not verdict.allowed and verdict.rule == "international"
    assert not rules.check("16812345").allowed
    assert not rules.check("110").allowed and rules.check("110", "supervisor").allowed
    assert rules.check("999").message == "this number is in no allowed range"
    assert not rules.check("13800;138000").allowed
