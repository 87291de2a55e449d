"""The whole switchboard under random interleavings, in virtual time.

Hypothesis drives arrivals on every kind of number, menu keys, hang-ups by
either side at every step, agent legs answering, rejecting or ringing out,
transfers (blind, attended, three-way; to a number, a queue, 110) started,
joined, completed, cancelled and answered or not, hold and mute,
supervisors listening, whispering and barging in, restarts with adoption,
pauses, logouts and logins, channels vanishing after a reconnect, and time
passing.  After every step it checks what must always hold: no agent in two
calls; every agent leg up is bridged, ringing under the ACD's ring timer, or
gone, and every transfer target's leg bridged or ringing under its plan's
timer; every ended call has exactly one final record and nothing left behind
(no call timer, playback or bridge); the counters add up against a recount
of the records.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import acd
import switchboard as sb
import transfer as tr
from switchboard.sim import CallerScript, SimChannel, Simulation
from tests.switchboard_support import (
    AGENTS,
    DIRECT,
    MAIN,
    MENU,
    MERGED,
    START,
    WITHDRAWN,
    switchboard,
)

pytestmark = pytest.mark.switchboard

NUMBERS = st.sampled_from([DIRECT, DIRECT, MAIN, MENU, MERGED, WITHDRAWN, "99999999"])
REDIRECTING = st.sampled_from(["", "", None, MERGED])
AGENT = st.sampled_from(AGENTS)
NUMBER_TARGET = tr.Target(tr.TargetKind.NUMBER, "13900001111", dial="PJSIP/13900001111@trunk")
QUEUE_TARGET = tr.Target(tr.TargetKind.QUEUE, "general")
EMERGENCY_TARGET = tr.Target(tr.TargetKind.EMERGENCY, "110", dial="PJSIP/110@trunk")
PICK = st.integers(min_value=0, max_value=50)


class SwitchboardMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulation(switchboard(max_wait_s=120.0), start=START)
        self.past: Counter[str] = Counter()  # outcomes of the switchboards before a restart
        self.past_ratings: Counter[int | None] = Counter()
        self.since = 0  # the timeline row where the current switchboard began
        for agent in AGENTS:
            self.sim.login(agent, f"s{agent}")

    # ------------------------------------------------------------ helpers

    def _live(self, which: str) -> list[SimChannel]:
        chans = [ch for ch in self.sim.channels.values() if not ch.gone]
        if which == "caller":
            return [ch for ch in chans if ch.id in self.sim.callers]
        if which == "supervisor":
            return [ch for ch in chans if ch.supervisor]
        if which == "consultee":
            return [ch for ch in chans if ch.consultee]
        if which == "ringing":
            return [ch for ch in chans if ch.agent is not None and not ch.up]
        return [ch for ch in chans if ch.agent is not None and ch.up]

    def _has(self, what: str) -> bool:
        calls = self.sim.board.calls()
        return bool(
            {
                "callers": lambda: self._live("caller"),
                "ringing": lambda: self._live("ringing"),
                "legs": lambda: self._live("ringing") + self._live("up"),
                "talking": lambda: self._live("up"),
                "connected": lambda: [c for c in calls if c.phase is sb.CallPhase.CONNECTED],
                "transferring": lambda: [c for c in calls if c.transfers.live is not None],
                "consultees": lambda: self._live("consultee"),
                "supervisors": lambda: self._live("supervisor"),
            }[what]()
        )

    @staticmethod
    def _pick(chans: list[SimChannel], index: int) -> SimChannel | None:
        return sorted(chans, key=lambda ch: ch.id)[index % len(chans)] if chans else None

    # ------------------------------------------------------------ rules

    @rule(number=NUMBERS, redirecting=REDIRECTING)
    def arrive(self, number: str, redirecting: str | None) -> None:
        self.sim.call(CallerScript(number, redirecting=redirecting))
        self.sim.settle()

    @rule(seconds=st.floats(min_value=0.1, max_value=40.0))
    def time_passes(self, seconds: float) -> None:
        self.sim.run_until(self.sim.now + seconds)

    @precondition(lambda self: self._has("callers"))
    @rule(index=PICK)
    def caller_hangs_up(self, index: int) -> None:
        ch = self._pick(self._live("caller"), index)
        if ch is not None:
            self.sim.hang_up(ch.id)
            self.sim.settle()

    @precondition(lambda self: self._has("callers"))
    @rule(index=PICK, digit=st.sampled_from("12959#"))
    def caller_presses(self, index: int, digit: str) -> None:
        ch = self._pick(self._live("caller"), index)
        if ch is not None:
            self.sim.press(ch.id, digit)
            self.sim.settle()

    @precondition(lambda self: self._has("ringing"))
    @rule(index=PICK)
    def agent_answers(self, index: int) -> None:
        ch = self._pick(self._live("ringing"), index)
        if ch is not None:
            self.sim.answer_leg(ch.id)
            self.sim.settle()

    @precondition(lambda self: self._has("ringing"))
    @rule(index=PICK)
    def another_agent_answers(self, index: int) -> None:
        self.agent_answers(index)

    @precondition(lambda self: self._has("ringing"))
    @rule(index=PICK, status=st.sampled_from(sb.DialStatus))
    def agent_phone_refuses(self, index: int, status: sb.DialStatus) -> None:
        ch = self._pick(self._live("ringing"), index)
        if ch is not None:
            self.sim.reject_leg(ch.id, status)
            self.sim.settle()

    @precondition(lambda self: self._has("legs"))
    @rule(index=PICK, cause=st.sampled_from([16, 17, 19, 21]))
    def agent_leg_hangs_up(self, index: int, cause: int) -> None:
        legs = self._live("up") + self._live("ringing")
        ch = self._pick(legs, index)
        if ch is not None:
            self.sim.hang_up(ch.id, cause)
            self.sim.settle()

    @precondition(lambda self: self._has("talking"))
    @rule(index=PICK, key=st.sampled_from(["1", "2", "3", "7", ""]))
    def agent_ends_and_caller_rates(self, index: int, key: str) -> None:
        ch = self._pick(self._live("up"), index)
        if ch is None:
            return
        callers = [c for c in self._live("caller") if c.call_id == ch.call_id]
        self.sim.hang_up(ch.id)
        self.sim.settle()
        if key and callers:
            self.sim.run_until(self.sim.now + 1.0)
            self.sim.press(callers[0].id, key)
            self.sim.settle()

    @precondition(lambda self: self._has("connected"))
    @rule(
        index=PICK,
        mode=st.sampled_from(tr.Mode),
        where=st.sampled_from([NUMBER_TARGET, QUEUE_TARGET, EMERGENCY_TARGET]),
    )
    def agent_transfers(self, index: int, mode: tr.Mode, where: tr.Target) -> None:
        talking = sorted(
            (c for c in self.sim.board.calls() if c.phase is sb.CallPhase.CONNECTED),
            key=lambda c: c.call_id,
        )
        agent = talking[index % len(talking)].facts.agent if talking else None
        if agent is not None:
            call_id = talking[index % len(talking)].call_id
            self.sim.feed(sb.TransferRequested(call_id, agent, mode, where))
            self.sim.settle()

    @precondition(lambda self: self._has("connected"))
    @rule(index=PICK, hold=st.booleans(), on=st.booleans())
    def agent_holds_or_mutes(self, index: int, hold: bool, on: bool) -> None:
        talking = sorted(
            (c for c in self.sim.board.calls() if c.phase is sb.CallPhase.CONNECTED),
            key=lambda c: c.call_id,
        )
        call = talking[index % len(talking)]
        agent = call.facts.agent
        assert agent is not None
        kind = sb.HoldRequested if hold else sb.MuteRequested
        self.sim.feed(kind(call.call_id, agent, on))
        self.sim.settle()

    @precondition(lambda self: self._has("connected"))
    @rule(
        index=PICK,
        supervisor=st.sampled_from(["sup1", "sup2"]),
        seat=st.sampled_from(["s1001", "s1002", "s1003", "s9"]),
        mode=st.sampled_from(tr.MonitorMode),
    )
    def supervisor_monitors(
        self, index: int, supervisor: str, seat: str, mode: tr.MonitorMode
    ) -> None:
        talking = sorted(
            (c for c in self.sim.board.calls() if c.phase is sb.CallPhase.CONNECTED),
            key=lambda c: c.call_id,
        )
        call = talking[index % len(talking)]
        self.sim.feed(
            sb.MonitorRequested(call.call_id, supervisor, "supervisor", acd.SeatId(seat), mode)
        )
        self.sim.settle()

    @precondition(lambda self: self._has("supervisors"))
    @rule(index=PICK, what=st.sampled_from(["answer", "hang_up", "stop", "busy"]))
    def supervisor_acts(self, index: int, what: str) -> None:
        ch = self._pick(self._live("supervisor"), index)
        assert ch is not None
        if what == "answer":
            self.sim.answer_leg(ch.id)
        elif what == "busy":
            self.sim.reject_leg(ch.id)
        elif what == "hang_up":
            self.sim.hang_up(ch.id)
        else:
            call = self.sim.board.call(ch.call_id)
            for sup in ("sup1", "sup2"):
                if call is not None:
                    self.sim.feed(sb.MonitorStopped(call.call_id, sup))
        self.sim.settle()

    @precondition(lambda self: self._has("transferring"))
    @rule(index=PICK, step=st.sampled_from(sb.TransferStep))
    def agent_acts_on_the_transfer(self, index: int, step: sb.TransferStep) -> None:
        live = sorted(
            (c for c in self.sim.board.calls() if c.transfers.live is not None),
            key=lambda c: c.call_id,
        )
        if live:
            call = live[index % len(live)]
            plan = call.transfers.live
            assert plan is not None
            self.sim.feed(sb.TransferAction(call.call_id, acd.AgentId(plan.agent), step))
            self.sim.settle()

    @precondition(lambda self: self._has("consultees"))
    @rule(index=PICK)
    def transfer_target_answers(self, index: int) -> None:
        ch = self._pick(self._live("consultee"), index)
        if ch is not None:
            self.sim.answer_leg(ch.id)
            self.sim.settle()

    @precondition(lambda self: self._has("consultees"))
    @rule(index=PICK, cause=st.sampled_from([16, 17, 19]))
    def transfer_target_hangs_up_or_fails(self, index: int, cause: int) -> None:
        ch = self._pick(self._live("consultee"), index)
        if ch is not None:
            self.sim.hang_up(ch.id, cause)
            self.sim.settle()

    @rule(agent=AGENT, what=st.sampled_from(["pause", "ready", "logout", "login", "wrapup"]))
    def agent_requests(self, agent: str, what: str) -> None:
        a = acd.AgentId(agent)
        requests: dict[str, sb.events.AgentRequestEvent] = {
            "pause": acd.AgentPause(a, "rona"),
            "ready": acd.AgentReady(a),
            "logout": acd.AgentLogout(a),
            "login": acd.AgentLogin(a, acd.SeatId(f"s{agent}")),
            "wrapup": acd.AgentEndWrapup(a),
        }
        self.sim.request(requests[what])
        self.sim.settle()

    @precondition(lambda self: self._has("callers"))
    @rule()
    def engine_restarts_and_adopts(self) -> None:
        """A new switchboard takes the calls back from the pictures on their channels."""
        sim, old = self.sim, self.sim.board
        self.past.update(old.figures.outcomes)
        self.past_ratings.update(old.figures.ratings)
        sim.timers.clear()  # the old process's timers die with it
        sim.board = switchboard(max_wait_s=120.0)
        self.since = len(sim.timeline)
        for view in old.distributor.agent_views():
            if view.status is not acd.AgentStatus.LOGGED_OUT and view.seat is not None:
                sim.request(acd.AgentLogin(view.agent, view.seat))
                if view.status is acd.AgentStatus.PAUSED:
                    sim.request(acd.AgentPause(view.agent, view.reason))
        alive = [ch for ch in sim.channels.values() if not ch.gone]
        found = tuple(
            sb.FoundCall(
                caller.id,
                caller.variables[sb.STATE_VAR],
                tuple(
                    sb.FoundLeg(ch.id, ch.agent, ch.up)
                    for ch in alive
                    if ch.agent is not None and ch.call_id == caller.call_id
                ),
            )
            for caller in self._live("caller")
        )
        sim.feed(sb.CallsFound(found))
        # Every other channel of ours not taken back is a stray: hung up.
        adopted = {c.call_id: c for c in sim.board.calls()}
        for call_id in sorted({ch.call_id for ch in alive if ch.id not in sim.callers}):
            call = adopted.get(call_id)
            stray = tuple(
                ch.id
                for ch in alive
                if ch.call_id == call_id
                and ch.id not in sim.callers
                and ch.snoops is None
                and not ch.gone
                and (call is None or ch.id != call.facts.agent_leg)
            )
            if stray:
                sim.feed(sb.StrayLegs(call_id, stray))
        sim.settle()

    @precondition(lambda self: self._has("callers"))
    @rule(index=PICK, restarted=st.booleans())
    def channel_vanishes(self, index: int, restarted: bool) -> None:
        ch = self._pick(self._live("caller") + self._live("up"), index)
        if ch is not None:
            self.sim.lose(ch.id)
            self.sim.feed(sb.ChannelsVanished(frozenset({ch.id}), pbx_restarted=restarted))
            self.sim.settle()

    # ------------------------------------------------------------ invariants

    @invariant()
    def no_agent_in_two_calls(self) -> None:
        legs = Counter(ch.agent for ch in self._live("up") + self._live("ringing"))
        assert all(n == 1 for n in legs.values()), legs

    @invariant()
    def every_leg_is_bridged_ringing_under_a_timer_or_gone(self) -> None:
        for ch in self._live("up"):
            assert ch.bridge is not None, ch
        for ch in self._live("ringing"):
            assert ch.agent is not None
            assert acd.TimerKey(acd.TimerKind.RING, ch.agent) in self.sim.timers, ch

    @invariant()
    def every_transfer_target_is_bridged_or_ringing_under_its_plans_timer(self) -> None:
        ringing_under = {
            k.call_id
            for k in self.sim.timers
            if isinstance(k, sb.CallTimer) and k.kind == "transfer"
        }
        for ch in self._live("consultee"):
            if ch.up:
                assert ch.bridge is not None, ch
            else:
                assert ch.call_id in ringing_under, ch

    @invariant()
    def supervisors_hear_through_a_bridge_and_snoops_follow_their_agent(self) -> None:
        for ch in self._live("supervisor"):
            if ch.up:
                assert ch.bridge is not None, ch
        for ch in self.sim.channels.values():
            if ch.snoops is not None and not ch.gone:
                assert not self.sim.channels[ch.snoops].gone, ch

    @invariant()
    def a_held_caller_hears_music_out_of_the_bridge(self) -> None:
        for call in self.sim.board.calls():
            caller = self.sim.channels[call.facts.caller_channel]
            if call.facts.held and not caller.gone:
                assert caller.moh and caller.bridge is None, call

    @invariant()
    def every_ended_call_has_one_final_record_and_nothing_left(self) -> None:
        board, sim = self.sim.board, self.sim
        active = {call.call_id for call in board.calls()}
        assert all(len(finals) == 1 for finals in sim.finals.values())
        assert not active & set(sim.finals)
        ended = set(sim.finals)
        timers = {k.call_id for k in sim.timers if isinstance(k, sb.CallTimer)}
        assert not timers & ended
        playing = {sim.channels[ch].call_id for ch in sim.playbacks.values()}
        assert not playing & ended
        bridged = {sim.channels[m].call_id for ms in sim.bridges.values() for m in ms}
        assert not bridged & ended
        alive = {ch.call_id for ch in sim.channels.values() if not ch.gone}
        assert not alive & ended
        for call in board.calls():
            assert call.final_records == 0
        for (final,) in sim.finals.values():
            answered = final.record.answered_at is not None
            assert (final.ticket is not None) == (
                final.record.outcome in ("answered", "voicemail", "callback")
            )
            assert not answered or final.ticket is not None

    @invariant()
    def counters_add_up(self) -> None:
        board, sim = self.sim.board, self.sim
        figures = board.figures
        finals = [f[0] for f in sim.finals.values()]
        assert figures.arrived + figures.adopted == len(board.calls()) + figures.ended
        outcomes = self.past + Counter(figures.outcomes)
        assert len(finals) == sum(outcomes.values())
        assert outcomes == Counter(f.record.outcome or "ended" for f in finals)
        rated = Counter(f.rating.level for f in finals if f.rating is not None)
        assert self.past_ratings + Counter(figures.ratings) == rated
        totals = board.distributor.totals()
        assert totals.entered == (
            totals.answered
            + totals.abandoned
            + totals.overflowed
            + totals.waiting
            + totals.offering
        )
        # The ACD counts each stay in a queue: a caller sent back to a queue
        # (a failed blind transfer) may be answered twice; recount the facts.
        rows = self.sim.timeline[self.since :]
        assert totals.answered == sum(1 for r in rows if r.kind == "answered")
        abandons = [r for r in rows if r.kind == "caller_hangup" and r.detail["phase"] == "queued"]
        assert totals.abandoned == len(abandons)
        for (final,) in sim.finals.values():
            record = final.record
            assert (record.answered_at is not None) == any(
                r.kind == "answered" and r.call_id == record.call_id for r in self.sim.timeline
            )


SwitchboardMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_switchboard_machine = SwitchboardMachine.TestCase
