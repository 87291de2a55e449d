"""The pure parts of ``recordings``: lifecycle table, layout, integrity, policy, retention."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recordings import (
    TRANSITIONS,
    AccessPolicy,
    Backoff,
    CallFacts,
    CallId,
    IllegalTransition,
    IntegrityMismatch,
    Principal,
    PublicStatus,
    Reason,
    Recording,
    RecordingEvent,
    RecordingName,
    RecordingState,
    UnsafePath,
    inspect_recording,
    make_wav,
    mask_number,
    months_before,
    next_state,
    parse_recording_name,
    recording_name,
    relative_path,
    sha256_hex,
)
from recordings.layout import check_relative
from recordings.retention import is_expired

pytestmark = pytest.mark.recordings

S = RecordingState
E = RecordingEvent
T0 = datetime(2026, 3, 15, 8, 30, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")

# -- lifecycle ---------------------------------------------------------------------------

EXPECTED = {
    (S.RECORDING, E.FINISHED): S.FINISHED,
    (S.RECORDING, E.FAILED): S.FAILED,
    (S.FINISHED, E.FETCH_STARTED): S.FETCHING,
    (S.FETCHING, E.FETCH_FAILED): S.FINISHED,
    (S.FETCHING, E.INTERRUPTED): S.FINISHED,
    (S.FETCHING, E.STORED): S.STORED,
    (S.FETCHING, E.LOST): S.FAILED,
    (S.STORED, E.PURGED): S.PURGED,
    (S.FAILED, E.PURGED): S.PURGED,
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("event", list(E))
def test_every_state_event_pair(state: RecordingState, event: RecordingEvent) -> None:
    if (state, event) in EXPECTED:
        assert next_state(state, event) is EXPECTED[(state, event)]
    else:
        with pytest.raises(IllegalTransition) as info:
            next_state(state, event, name="c-1-1")
        assert (info.value.state, info.value.event, info.value.name) == (
            state.value,
            event.value,
            "c-1-1",
        )


def test_table_is_exactly_the_documented_one() -> None:
    table = {(s, e): t for s, moves in TRANSITIONS.items() for e, t in moves.items()}
    assert table == EXPECTED


def _recording(**changes: object) -> Recording:
    base = Recording(name=RecordingName("c-1-1"), call_id=CallId("c-1"), started_at=T0)
    return base.with_changes(**changes) if changes else base


def test_apply_moves_and_changes_fields_together() -> None:
    rec = _recording().apply(E.FINISHED, duration_s=12.0)
    assert rec.state is S.FINISHED and rec.duration_s == 12.0
    assert rec.public_status is PublicStatus.PROCESSING
    with pytest.raises(ValueError):
        rec.with_changes(state=S.STORED)
    assert "c-1-1" in repr(rec) and "finished" in repr(rec)


@given(st.lists(st.sampled_from(list(E)), max_size=30))
def test_random_event_orders_only_reach_stored_through_a_fetch(
    events: list[RecordingEvent],
) -> None:
    """Whatever the order of events, a recording is stored only after a fetch started,
    and a purge only ever follows stored or failed."""
    state, seen = S.RECORDING, [S.RECORDING]
    for event in events:
        try:
            new = next_state(state, event)
        except IllegalTransition:
            continue
        if new is S.STORED:
            assert state is S.FETCHING
        if new is S.PURGED:
            assert state in (S.STORED, S.FAILED)
        state = new
        seen.append(state)
    if S.STORED in seen:
        assert seen.index(S.FETCHING) < seen.index(S.STORED)


# -- layout ------------------------------------------------------------------------------


def test_names_round_trip() -> None:
    assert recording_name(CallId("c-0001"), 2) == "c-0001-2"
    assert parse_recording_name("c-0001-2") == ("c-0001", 2)
    assert parse_recording_name("c-0001") is None  # no segment number
    assert parse_recording_name("c-7") == ("c", 7)
    assert parse_recording_name("nodash") is None
    with pytest.raises(ValueError):
        recording_name(CallId("c"), 0)


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=999))
def test_any_call_id_round_trips_through_the_name(call_id: str, segment: int) -> None:
    assert parse_recording_name(recording_name(CallId(call_id), segment)) == (call_id, segment)


def test_path_is_dated_in_the_deployment_zone() -> None:
    late_utc = datetime(2026, 1, 31, 17, 30, tzinfo=UTC)  # 01:30 on 1 Feb in Beijing
    assert relative_path(CallId("c-9"), 1, late_utc, SHANGHAI) == "2026/02/01/c-9-1.wav"
    assert relative_path(CallId("c-9"), 3, late_utc, UTC) == "2026/01/31/c-9-3.wav"
    with pytest.raises(ValueError):
        relative_path(CallId("c-9"), 1, datetime(2026, 1, 1), UTC)
    with pytest.raises(UnsafePath):
        relative_path(CallId("c-9"), 1, late_utc, UTC, "../wav")


@given(st.text(min_size=1, max_size=30))
def test_no_call_id_escapes_its_directory(call_id: str) -> None:
    path = relative_path(CallId(call_id), 1, T0, UTC)
    parts = PurePosixPath(path).parts
    assert len(parts) == 4 and parts[:3] == ("2026", "03", "15")
    assert not parts[3].startswith(".") and "\x00" not in path
    check_relative(path)


@pytest.mark.parametrize("bad", ["", ".", "/etc/passwd", "../x", "a/../../b", "a\\b", "a\x00b"])
def test_relative_paths_that_leave_the_root_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePath):
        check_relative(bad)


# -- integrity ---------------------------------------------------------------------------


def test_a_wav_checks_out_with_duration_and_hash() -> None:
    wav = make_wav(b"\x01\x00" * 8000)  # one second, 16-bit mono 8 kHz
    info = inspect_recording("c-1-1", "wav", wav)
    assert info.size_bytes == len(wav) == 44 + 16000
    assert info.sha256 == sha256_hex(wav)
    assert (info.channels, info.sample_rate, info.bits_per_sample) == (1, 8000, 16)
    assert info.duration_s == pytest.approx(1.0)


def test_extra_chunks_and_odd_padding_are_walked() -> None:
    pcm = b"\x00\x01" * 10
    wav = make_wav(pcm)
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    body = wav[12:] + extra
    assembled = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
    assert inspect_recording("n", "wav", assembled).duration_s == pytest.approx(20 / 16000)


@pytest.mark.parametrize("cut", [1, 2, 100, 15_000])
def test_a_short_body_is_refused(cut: int) -> None:
    wav = make_wav(b"\x00\x00" * 8000)
    with pytest.raises(IntegrityMismatch) as info:
        inspect_recording("c-1-1", "wav", wav[:-cut])
    assert info.value.what == "size" and info.value.actual == len(wav) - cut


def test_broken_headers_are_refused() -> None:
    wav = make_wav(b"\x00\x00" * 10)
    with pytest.raises(IntegrityMismatch):
        inspect_recording("n", "wav", b"RIFX" + wav[4:])
    lying_data = wav[:40] + struct.pack("<I", 10_000) + wav[44:]
    with pytest.raises(IntegrityMismatch) as info:
        inspect_recording("n", "wav", lying_data)
    assert "data" in info.value.what
    no_fmt = b"RIFF" + struct.pack("<I", 4 + 8 + 2) + b"WAVE" + b"data" + struct.pack("<I", 2)
    with pytest.raises(IntegrityMismatch):
        inspect_recording("n", "wav", no_fmt + b"\x00\x00")
    with pytest.raises(IntegrityMismatch):
        inspect_recording("n", "gsm", b"")
    assert inspect_recording("n", "gsm", b"\x01").duration_s is None


# -- access policy -----------------------------------------------------------------------

ENDED = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FACTS = CallFacts("c-1", frozenset({"8001", "8003"}), ENDED)


@pytest.mark.parametrize(
    ("principal", "at", "allowed", "reason"),
    [
        (Principal("s1", "supervisor"), ENDED + timedelta(days=400), True, Reason.ROLE_ALWAYS),
        (Principal("q1", "quality_inspector"), ENDED, True, Reason.ROLE_ALWAYS),
        (Principal("8001", "agent"), ENDED + timedelta(days=7), True, Reason.AGENT_OF_CALL),
        (Principal("8003", "agent"), ENDED + timedelta(hours=1), True, Reason.AGENT_OF_CALL),
        (
            Principal("8001", "agent"),
            ENDED + timedelta(days=7, seconds=1),
            False,
            Reason.AGENT_WINDOW_OVER,
        ),
        (Principal("8002", "agent"), ENDED, False, Reason.NOT_AGENT_OF_CALL),
        (Principal("admin", "admin"), ENDED, False, Reason.ROLE_DENIED),
        (Principal("8001", "citizen"), ENDED, False, Reason.ROLE_DENIED),
    ],
)
def test_access_decisions(
    principal: Principal, at: datetime, allowed: bool, reason: Reason
) -> None:
    decision = AccessPolicy().decide(principal, FACTS, at)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_agent_window_is_configurable_and_role_precheck() -> None:
    policy = AccessPolicy(agent_window=timedelta(days=1))
    agent = Principal("8001", "agent")
    assert not policy.decide(agent, FACTS, ENDED + timedelta(days=2)).allowed
    assert policy.role_may_listen(agent)
    assert policy.role_may_listen(Principal("q", "quality_inspector"))
    assert not policy.role_may_listen(Principal("x", "admin"))


def test_numbers_are_masked_unless_the_role_may_see_them() -> None:
    policy = AccessPolicy()
    assert policy.show_number(Principal("s", "supervisor"), "13800138000") == "13800138000"
    assert policy.show_number(Principal("q", "quality_inspector"), "13800138000") == "138****8000"
    assert policy.show_number(Principal("8001", "agent"), "13800138000") == "138****8000"
    assert policy.show_number(Principal("8001", "agent"), "12345") == "12345"
    assert policy.show_number(Principal("8001", "agent"), None) == ""
    wider = AccessPolicy(number_roles=frozenset({"supervisor", "quality_inspector"}))
    assert wider.show_number(Principal("q", "quality_inspector"), "13800138000") == "13800138000"
    assert mask_number("02585098110") == "025****8110"


# -- retention ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        (datetime(2026, 3, 31, 12, tzinfo=UTC), 1, datetime(2026, 2, 28, 12, tzinfo=UTC)),
        (datetime(2024, 3, 31, 12, tzinfo=UTC), 1, datetime(2024, 2, 29, 12, tzinfo=UTC)),
        (datetime(2026, 1, 15, 0, tzinfo=UTC), 1, datetime(2025, 12, 15, 0, tzinfo=UTC)),
        (datetime(2026, 6, 30, 0, tzinfo=UTC), 18, datetime(2024, 12, 30, 0, tzinfo=UTC)),
        (datetime(2026, 6, 30, 0, tzinfo=UTC), 0, datetime(2026, 6, 30, 0, tzinfo=UTC)),
    ],
)
def test_months_before(now: datetime, months: int, expected: datetime) -> None:
    assert months_before(now, months) == expected


def test_months_are_counted_on_the_deployment_calendar() -> None:
    # 16:30 UTC on 31 Jan is 00:30 on 1 Feb in Beijing: one month earlier there is
    # 00:30 on 1 Jan Beijing, i.e. 16:30 UTC on 31 Dec.
    now = datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
    assert months_before(now, 1, SHANGHAI) == datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    assert months_before(now, 1, UTC) == datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    # 20:00 UTC on 30 Apr is 04:00 on 1 May in Beijing, so a month earlier is 1 Apr there.
    late_april = datetime(2026, 4, 30, 20, tzinfo=UTC)
    assert months_before(late_april, 1, SHANGHAI) == datetime(2026, 3, 31, 20, tzinfo=UTC)
    assert months_before(late_april, 1, UTC) == datetime(2026, 3, 30, 20, tzinfo=UTC)
    assert is_expired(datetime(2025, 1, 1, tzinfo=UTC), T0, 6)
    assert not is_expired(datetime(2025, 10, 1, tzinfo=UTC), T0, 6)
    with pytest.raises(ValueError):
        months_before(T0, -1)


@given(st.integers(min_value=1, max_value=40))
def test_backoff_stays_within_its_ceiling(attempt: int) -> None:
    backoff = Backoff(base=0.5, cap=10.0)
    ceiling = min(10.0, 0.5 * 2 ** (attempt - 1))
    assert backoff.delay(attempt, rand=lambda lo, hi: hi) == ceiling
    assert backoff.delay(attempt, rand=lambda lo, hi: lo) == 0.0
    assert 0.0 <= backoff.delay(attempt) <= ceiling
