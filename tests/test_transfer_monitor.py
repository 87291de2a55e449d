"""Supervisor monitoring plans without I/O: listen, whisper, barge, and what ends them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transfer as tr

pytestmark = pytest.mark.transfer

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SESSION = tr.SessionId("c-1-m1")
LEG = "c-1-m1-sup"
LISTEN, WHISPER, BARGE = tr.MonitorMode.LISTEN, tr.MonitorMode.WHISPER, tr.MonitorMode.BARGE


def plan(mode: tr.MonitorMode = LISTEN) -> tr.MonitorPlan:
    return tr.MonitorPlan(SESSION, "班长甲", "s37", mode)


def audit(mode: str) -> tr.Audit:
    return tr.Audit("monitor_" + mode, {"seat": "s37", "session": SESSION})


def detail(mode: str) -> dict[str, str]:
    return {"session": SESSION, "supervisor": "班长甲", "seat": "s37", "mode": mode}


def test_listen_rings_the_seat_then_snoops_the_agent_leg() -> None:
    p = plan()
    assert p.start(T0) == [
        audit("listen"),
        tr.MonitorTimeline("supervisor_requested", detail("listen")),
        tr.DialSupervisor(LEG),
    ]
    assert p.handle(tr.SupervisorAnswered(), T0) == [tr.CreateSnoop("c-1-m1-s1", "both", "none")]
    assert p.handle(tr.SnoopStarted("c-1-m1-s1"), T0) == [
        tr.MonitorBridge(("c-1-m1-s1", LEG)),
        tr.MonitorTimeline("supervisor_listen", detail("listen")),
    ]
    assert p.state is tr.MonitorState.LISTEN


def test_whisper_then_barge() -> None:
    p = plan(WHISPER)
    p.start(T0)
    assert p.handle(tr.SupervisorAnswered(), T0) == [tr.CreateSnoop("c-1-m1-s1", "both", "out")]
    p.handle(tr.SnoopStarted("c-1-m1-s1"), T0)
    assert p.handle(tr.ChangeMode(BARGE), T0) == [
        audit("barge"),
        tr.HangupChannel("c-1-m1-s1"),
        tr.JoinCall(LEG),
        tr.MonitorTimeline("supervisor_barge", detail("barge")),
    ]
    assert p.state is tr.MonitorState.BARGE and p.snoop is None


def test_listen_to_whisper_makes_the_new_snoop_before_dropping_the_old() -> None:
    p = plan()
    p.start(T0)
    p.handle(tr.SupervisorAnswered(), T0)
    p.handle(tr.SnoopStarted("c-1-m1-s1"), T0)
    assert p.handle(tr.ChangeMode(WHISPER), T0) == [
        audit("whisper"),
        tr.CreateSnoop("c-1-m1-s2", "both", "out"),
    ]
    assert p.handle(tr.SnoopStarted("c-1-m1-s2"), T0) == [
        tr.MonitorBridge(("c-1-m1-s2", LEG)),
        tr.HangupChannel("c-1-m1-s1"),
        tr.MonitorTimeline("supervisor_whisper", detail("whisper")),
    ]
    # The old snoop's hang-up report is stale: the session goes on.
    assert p.handle(tr.SnoopGone("c-1-m1-s1"), T0) == []
    assert p.state is tr.MonitorState.WHISPER


def test_back_from_barge_leaves_the_call_bridge() -> None:
    p = plan(BARGE)
    p.start(T0)
    assert p.handle(tr.SupervisorAnswered(), T0)[0] == tr.JoinCall(LEG)
    assert p.handle(tr.ChangeMode(LISTEN), T0) == [
        audit("listen"),
        tr.LeaveCall(LEG),
        tr.CreateSnoop("c-1-m1-s1", "both", "none"),
    ]


def test_a_mode_asked_for_while_the_seat_rings_is_used_on_answer() -> None:
    p = plan()
    p.start(T0)
    assert p.handle(tr.ChangeMode(BARGE), T0) == [audit("barge")]
    assert p.handle(tr.SupervisorAnswered(), T0)[0] == tr.JoinCall(LEG)


def test_the_agent_leaving_ends_the_session() -> None:
    p = plan()
    p.start(T0)
    p.handle(tr.SupervisorAnswered(), T0)
    p.handle(tr.SnoopStarted("c-1-m1-s1"), T0)
    # Asterisk hangs a snoop up with the channel it spies on.
    assert p.handle(tr.SnoopGone("c-1-m1-s1"), T0) == [
        tr.HangupChannel(LEG),
        tr.DestroyMonitorBridge(),
        tr.MonitorTimeline("supervisor_left", {**detail("listen"), "reason": "agent_left"}),
    ]
    assert p.ended


def test_stop_is_audited_and_nothing_is_possible_afterwards() -> None:
    p = plan()
    p.start(T0)
    p.handle(tr.SupervisorAnswered(), T0)
    commands = p.handle(tr.Stop(), T0)
    assert commands[0] == tr.Audit("monitor_stop", {"seat": "s37"})
    assert tr.HangupChannel("c-1-m1-s1") in commands and tr.HangupChannel(LEG) in commands
    with pytest.raises(tr.RequestRefused):
        p.handle(tr.ChangeMode(BARGE), T0)
    assert p.handle(tr.SnoopStarted("c-1-m1-s1"), T0) == [tr.HangupChannel("c-1-m1-s1")]


def test_a_seat_that_never_answers() -> None:
    p = plan()
    p.start(T0)
    commands = p.handle(tr.SupervisorFailed("busy"), T0)
    assert tr.MonitorTimeline("supervisor_failed", {"reason": "busy"}) in commands
    assert p.ended and p.ended_reason == "seat_busy"
    assert p.handle(tr.SupervisorAnswered(), T0) == [tr.HangupChannel(LEG)]


def test_monitor_table_is_closed() -> None:
    assert tr.MonitorState.ENDED not in tr.MONITOR_TRANSITIONS[tr.MonitorState.NEW]
    assert set(tr.MONITOR_TRANSITIONS) == set(tr.MonitorState)


# ---------------------------------------------------------------- random orders


@dataclass
class Line:
    """The softswitch side of a session: which channels are up, who is bridged where."""

    plan: tr.MonitorPlan
    answered: bool = False
    sup_up: bool = False
    in_call: bool = False
    snoops: dict[str, str] = field(default_factory=dict)  # id -> asked | up | gone
    bridged: set[str] = field(default_factory=set)
    audits: int = 0

    def run(self, commands: list[tr.MonitorCommand]) -> None:
        for command in commands:
            match command:
                case tr.DialSupervisor():
                    self.sup_up = True
                case tr.CreateSnoop():
                    assert self.answered, "no snoop before the supervisor answered"
                    self.snoops[command.snoop] = "asked"
                case tr.MonitorBridge():
                    snoop, leg = command.channels
                    assert self.snoops[snoop] == "up" and leg == self.plan.leg
                    self.bridged.add(snoop)
                case tr.JoinCall():
                    assert self.answered, "only an answered supervisor joins the call"
                    self.in_call = True
                case tr.LeaveCall():
                    self.in_call = False
                case tr.HangupChannel():
                    if command.channel == self.plan.leg:
                        self.sup_up = False
                    else:
                        self.snoops[command.channel] = "gone"
                        self.bridged.discard(command.channel)
                case tr.Audit():
                    self.audits += 1

    def check(self) -> None:
        live = [s for s in self.bridged if self.snoops.get(s) == "up"]
        assert len(live) <= 1 or self.plan.pending is not None, "one snoop at rest"
        if self.plan.state is tr.MonitorState.BARGE:
            assert self.in_call and not live
        if self.plan.ended:
            assert not self.sup_up, "the supervisor's leg goes with the session"
            assert all(v == "gone" for v in self.snoops.values()), self.snoops
            assert not self.in_call or not self.sup_up


actions = st.lists(
    st.sampled_from(
        [
            "answered",
            "failed",
            "sup_gone",
            "snoop_started",
            "snoop_gone",
            "listen",
            "whisper",
            "barge",
            "stop",
            "call_gone",
        ]
    ),
    max_size=15,
)


@settings(max_examples=300, deadline=None)
@given(first=st.sampled_from(list(tr.MonitorMode)), steps=actions, pick=st.randoms())
def test_monitor_invariants_for_any_order(
    first: tr.MonitorMode, steps: list[str], pick: object
) -> None:
    p = plan(first)
    line = Line(p)
    line.run(p.start(T0))
    for step in steps:
        asked = [s for s, v in line.snoops.items() if v == "asked"]
        up = [s for s, v in line.snoops.items() if v == "up"]
        event: tr.MonitorEvent
        if step == "answered":
            event = tr.SupervisorAnswered()
            line.answered = line.answered or p.state is tr.MonitorState.DIALING
        elif step == "failed":
            event = tr.SupervisorFailed("no_answer")
        elif step == "sup_gone":
            event, line.sup_up = tr.SupervisorGone(), False
        elif step == "snoop_started":
            if not asked:
                continue
            snoop = pick.choice(asked)  # type: ignore[attr-defined]
            line.snoops[snoop] = "up"
            event = tr.SnoopStarted(snoop)
        elif step == "snoop_gone":
            if not up + asked:
                continue
            snoop = pick.choice(up + asked)  # type: ignore[attr-defined]
            line.snoops[snoop] = "gone"
            line.bridged.discard(snoop)
            event = tr.SnoopGone(snoop)
        elif step in ("listen", "whisper", "barge"):
            event = tr.ChangeMode(tr.MonitorMode(step))
        elif step == "stop":
            event = tr.Stop()
        else:
            event = tr.CallGone()
        before = line.audits
        try:
            line.run(p.handle(event, T0))
        except tr.RequestRefused:
            assert p.ended
            continue
        if isinstance(event, tr.ChangeMode) and event.mode is not p.wanted:
            pytest.fail("a mode change that was not taken")
        if isinstance(event, tr.Stop):
            assert line.audits == before + 1
        line.check()
