"""The ACD under random interleavings of everything the world can do to it.

Hypothesis drives arrivals, hang-ups, answers, bridges, rejections, ring
timeouts, transfers, logins, logouts, pauses, wrap-up ends, phone device
states and registrations, clock ticks (firing the ACD's timers), day
rollovers and live configuration changes.  Two ACDs take the same events:
one with the indexed selector, one with the reference scan; their commands
must be identical.  After every step:

- no agent holds two calls: counting the agent legs the commands opened
  (``OfferCall``) and not yet closed (``CancelOffer``, a rejection or
  time-out sent, the end of the conversation), each agent has at most one,
  and the ACD's own view of who rings or talks is exactly that;
- an agent who rejected a call, let it ring out or transferred it is never
  offered that call again;
- no caller is lost: every call that arrived is either held by the ACD or
  has left it, once, with a reason (``CallerLeft``);
- no ready, idle agent stays idle while a caller it can serve is waiting.
  "Can serve" is computed here from the configuration alone: the agent's
  level in each of the queue's required skills reaches the minimum in force
  after the caller's waiting time (``since + after_s <= now`` for each
  relaxation step), and the agent is not excluded from the call (it
  rejected it, let it ring out, or transferred it).  Callers being offered
  (ringing, ring-all included) are not waiting;
- no caller waits in a queue past the queue's maximum wait;
- the counters add up: entered = answered + abandoned + overflowed +
  waiting + being offered.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from acd import (
    AcdConfig,
    AgentEndWrapup,
    AgentId,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    AgentState,
    AgentStatus,
    CallConnected,
    CallEnded,
    CallerArrived,
    CallerHungUp,
    CallerLeft,
    CallId,
    CallTransferredToQueue,
    CallView,
    CancelOffer,
    Command,
    ConfigChanged,
    DayRolled,
    DeviceState,
    Event,
    LeaveReason,
    OfferAnswered,
    OfferCall,
    OfferRejected,
    OfferTimedOut,
    OverflowAction,
    OverflowRule,
    PauseReason,
    Phase,
    PriorityRules,
    QueueConfig,
    QueueId,
    RejectReason,
    ScanSelector,
    SeatDeviceState,
    SeatId,
    SeatReachability,
    Strategy,
    TimerKey,
    TimerKind,
)
from tests.acd_support import Shell, agent, queue

pytestmark = pytest.mark.acd

SEATS = [SeatId(f"s{i}") for i in range(1, 7)]
NUMBERS = ["", "13800138000", "13900139000", "12345678"]
REASONS = ["break", "meal", "rona", "nap"]
PAUSES = (PauseReason("rona"), PauseReason("break"), PauseReason("meal"))


def configs(strategies: tuple[Strategy, Strategy, Strategy], seed: int) -> list[AcdConfig]:
    """Three configurations the machine switches between (queues and agents come and go)."""
    gen_s, tax_s, vip_s = strategies
    rules = PriorityRules(repeat=1, tags={"callback": 2}, numbers={"12345678": 3})

    def gen(**kw: object) -> QueueConfig:
        base = dict(
            relax={"general": [(10, 1)]},
            strategy=gen_s,
            wrapup_s=5,
            max_wait_s=40,
            max_length=4,
            ring_timeout_s=8,
            rona_max_misses=2,
            announce_interval_s=15,
            priority=rules,
        )
        base.update(kw)
        return queue("gen", {"general": 3}, **base)  # type: ignore[arg-type]

    tax = queue(
        "tax",
        {"tax": 5, "general": 1},
        relax={"tax": [(12, 2)]},
        strategy=tax_s,
        wrapup_s=0,
        max_wait_s=25,
        overflow=OverflowRule(OverflowAction.QUEUE, "gen"),
        ring_timeout_s=6,
    )
    vip = queue(
        "vip",
        {"vip": 1},
        strategy=vip_s,
        max_wait_s=30,
        overflow=OverflowRule(OverflowAction.VOICEMAIL, "vm"),
        ring_timeout_s=5,
        rona_max_misses=1,
    )
    agents_a = (
        agent("a1", {"general": 5, "tax": 6}),
        agent("a2", {"general": 2, "tax": 3}, wrapup_s=2),
        agent("a3", {"general": 9, "vip": 4}),
        agent("a4", {"vip": 7, "tax": 9, "general": 1}),
        agent("a5", {"general": 4}),
    )
    first = AcdConfig(
        queues=(gen(), tax, vip), agents=agents_a, pause_reasons=PAUSES, random_seed=seed
    )
    second = AcdConfig(
        queues=(
            gen(strategy=Strategy.RANDOM, relax={"general": [(5, 2), (20, 1)]}, max_length=None),
            queue("tax", {"tax": 4}, strategy=Strategy.RING_ALL, max_wait_s=20),
            queue("new", {"vip": 2, "general": 2}, strategy=Strategy.FEWEST_CALLS, wrapup_s=3),
        ),
        agents=(*agents_a[:4], agent("a6", {"general": 6, "vip": 2, "tax": 4})),
        pause_reasons=PAUSES,
        random_seed=seed,
    )
    third = AcdConfig(
        queues=(gen(strategy=Strategy.LEAST_TALK_TIME), tax, vip),
        agents=(agent("a1", {"general": 1}), *agents_a[1:], agent("a6", {"vip": 9})),
        pause_reasons=PAUSES,
        random_seed=seed,
    )
    return [first, second, third]


def levels_in_force(q: QueueConfig, since: float, now: float) -> dict[str, int]:
    out = {}
    for req in q.skills:
        level = req.min_level
        for step in req.relax:
            if since + step.after_s <= now:
                level = step.min_level
        out[req.skill] = level
    return out


class AcdMachine(RuleBasedStateMachine):
    """Indexed and scan ACDs in lockstep, with the invariants of the module docstring."""

    @initialize(
        strategies=st.tuples(*(st.sampled_from(list(Strategy)) for _ in range(3))),
        seed=st.integers(0, 3),
        present=st.sets(st.integers(0, 4), min_size=2),
    )
    def setup(
        self, strategies: tuple[Strategy, Strategy, Strategy], seed: int, present: set[int]
    ) -> None:
        self.configs = configs(strategies, seed)
        self.fast = Shell(self.configs[0])
        self.slow = Shell(self.configs[0], selector=ScanSelector())
        self.config = self.configs[0]
        self.queue_cfgs = {q.id: q for q in self.config.queues}
        self.started: list[CallId] = []
        self.left: dict[CallId, LeaveReason] = {}
        self.legs: dict[str, set[str]] = {}
        self.refused: set[tuple[str, str]] = set()
        self.calls = 0
        for j in sorted(present):
            self.send(AgentLogin(self.agent_ids()[j], SEATS[j]))

    # ----------------------------------------------------------- plumbing

    def send(self, event: Event) -> None:
        out = self.fast.send(event)
        assert self.slow.send(event) == out, f"selectors disagree on {event}"
        self.track(out)

    def track(self, out: list[Command]) -> None:
        for cmd in out:
            if isinstance(cmd, OfferCall):
                assert (cmd.call_id, cmd.agent) not in self.refused, f"{cmd} offered again"
                held = self.legs.setdefault(cmd.agent, set())
                held.add(cmd.call_id)
                assert len(held) == 1, f"{cmd.agent} holds {held}"
            elif isinstance(cmd, CancelOffer):
                self.legs.get(cmd.agent, set()).discard(cmd.call_id)
            elif isinstance(cmd, CallerLeft):
                assert cmd.call_id in self.started and cmd.call_id not in self.left
                self.left[cmd.call_id] = cmd.reason
                for held in self.legs.values():
                    held.discard(cmd.call_id)

    def drop_leg(self, call: str, agent_id: str) -> None:
        """The shell saw this leg end through no command of the ACD; the agent is excluded."""
        self.legs.get(agent_id, set()).discard(call)
        self.refused.add((call, agent_id))

    def views(self, *phases: Phase) -> list[CallView]:
        return [v for v in self.fast.acd.call_views() if v.phase in phases]

    def ringing_pairs(self) -> list[tuple[CallId, AgentId]]:
        views = self.views(Phase.OFFERED, Phase.CONNECTING)
        return [(v.call_id, a) for v in views for a in v.ringing]

    def agent_ids(self) -> list[AgentId]:
        ids = {a.id for cfg in self.configs for a in cfg.agents}
        return sorted(ids)

    # ----------------------------------------------------------- callers

    @rule(
        q=st.sampled_from(["gen", "tax", "vip", "new", "ghost"]),
        number=st.sampled_from(NUMBERS),
        callback=st.booleans(),
        waited=st.sampled_from([0.0, 0.0, 6.0, 30.0]),
        priority=st.sampled_from([None, None, None, 4]),
    )
    def arrive(
        self, q: str, number: str, callback: bool, waited: float, priority: int | None
    ) -> None:
        self.calls += 1
        call = CallId(f"c{self.calls}")
        self.started.append(call)
        tags = frozenset({"callback"}) if callback else frozenset()
        self.send(CallerArrived(call, QueueId(q), number, tags, waited, priority))

    @precondition(lambda self: self.started)
    @rule(i=st.integers(0, 99), stale=st.booleans())
    def hang_up(self, i: int, stale: bool) -> None:
        pool = list(self.left) if stale else [v.call_id for v in self.fast.acd.call_views()]
        if pool:
            self.send(CallerHungUp(pool[i % len(pool)]))

    @precondition(lambda self: self.ringing_pairs())
    @rule(i=st.integers(0, 99))
    def answer(self, i: int) -> None:
        pairs = self.ringing_pairs()
        if pairs:
            call, agent_id = pairs[i % len(pairs)]
            self.send(OfferAnswered(call, agent_id))

    @precondition(lambda self: self.views(Phase.CONNECTING))
    @rule(i=st.integers(0, 99))
    def bridge(self, i: int) -> None:
        pool = self.views(Phase.CONNECTING)
        if pool:
            v = pool[i % len(pool)]
            assert v.agent is not None
            self.send(CallConnected(v.call_id, v.agent))

    @precondition(lambda self: self.ringing_pairs() or self.views(Phase.CONNECTING))
    @rule(i=st.integers(0, 99), reason=st.sampled_from(list(RejectReason)), winner=st.booleans())
    def reject(self, i: int, reason: RejectReason, winner: bool) -> None:
        if winner:
            pairs = [(v.call_id, v.agent) for v in self.views(Phase.CONNECTING)]
        else:
            pairs = [(c, a) for c, a in self.ringing_pairs()]
        if pairs:
            call, agent_id = pairs[i % len(pairs)]
            assert agent_id is not None
            self.drop_leg(call, agent_id)
            self.send(OfferRejected(call, agent_id, reason))

    @precondition(lambda self: self.ringing_pairs())
    @rule(i=st.integers(0, 99))
    def ring_out(self, i: int) -> None:
        pairs = self.ringing_pairs()
        if pairs:
            call, agent_id = pairs[i % len(pairs)]
            self.drop_leg(call, agent_id)
            self.send(OfferTimedOut(call, agent_id))

    @precondition(lambda self: self.views(Phase.CONNECTED))
    @rule(i=st.integers(0, 99))
    def end_call(self, i: int) -> None:
        pool = self.views(Phase.CONNECTED)
        if pool:
            self.send(CallEnded(pool[i % len(pool)].call_id))

    @precondition(lambda self: self.views(Phase.CONNECTED))
    @rule(i=st.integers(0, 99), q=st.sampled_from(["gen", "tax", "vip", "new", "ghost"]))
    def transfer(self, i: int, q: str) -> None:
        pool = self.views(Phase.CONNECTED)
        if pool:
            v = pool[i % len(pool)]
            assert v.agent is not None
            self.drop_leg(v.call_id, v.agent)
            self.send(CallTransferredToQueue(v.call_id, QueueId(q)))

    @precondition(lambda self: self.started)
    @rule(i=st.integers(0, 99), j=st.integers(0, 9))
    def stale_answer(self, i: int, j: int) -> None:
        if self.started:
            agents = self.agent_ids()
            self.send(OfferAnswered(self.started[i % len(self.started)], agents[j % len(agents)]))

    # ----------------------------------------------------------- agents and seats

    @rule(j=st.integers(0, 9), own_seat=st.booleans(), seat=st.sampled_from(SEATS))
    def login(self, j: int, own_seat: bool, seat: SeatId) -> None:
        agents = self.agent_ids()
        k = j % len(agents)
        self.send(AgentLogin(agents[k], SEATS[k] if own_seat else seat))

    @rule(
        j=st.integers(0, 9),
        what=st.sampled_from(["logout", "ready", "ready", "end_wrapup", "pause"]),
        reason=st.sampled_from(REASONS),
    )
    def agent_request(self, j: int, what: str, reason: str) -> None:
        agent_id = self.agent_ids()[j % len(self.agent_ids())]
        events: dict[str, Event] = {
            "logout": AgentLogout(agent_id),
            "ready": AgentReady(agent_id),
            "end_wrapup": AgentEndWrapup(agent_id),
            "pause": AgentPause(agent_id, reason),
        }
        self.send(events[what])

    @rule(
        seat=st.sampled_from(SEATS),
        state=st.sampled_from([DeviceState.NOT_IN_USE] * 3 + list(DeviceState)),
    )
    def device(self, seat: SeatId, state: DeviceState) -> None:
        self.send(SeatDeviceState(seat, state))

    @rule(seat=st.sampled_from(SEATS), reachable=st.sampled_from([True, True, False]))
    def reachability(self, seat: SeatId, reachable: bool) -> None:
        self.send(SeatReachability(seat, reachable))

    # ----------------------------------------------------------- time and configuration

    @rule(dt=st.sampled_from([0.5, 1.0, 3.0, 5.0, 8.0, 15.0, 45.0]))
    def tick(self, dt: float) -> None:
        to = self.fast.now + dt
        for call, agent_id in self.ringing_pairs():
            at = self.fast.timers.get(TimerKey(TimerKind.RING, agent_id))
            if at is not None and at <= to:
                self.refused.add((call, agent_id))  # rings out on the way
        out = self.fast.advance(to)
        assert self.slow.advance(to) == out
        self.track(out)

    @rule(k=st.integers(0, 8))
    def reconfigure(self, k: int) -> None:
        if k >= len(self.configs):
            return  # configuration changes are rare
        self.config = self.configs[k]
        self.queue_cfgs.update({q.id: q for q in self.config.queues})
        self.send(ConfigChanged(self.config))

    @rule(k=st.integers(0, 5))
    def day_rolls(self, k: int) -> None:
        if k == 5:
            self.send(DayRolled())

    # ----------------------------------------------------------- invariants

    @invariant()
    def no_agent_holds_two_calls(self) -> None:
        holders: dict[str, str] = {}
        for v in self.fast.acd.call_views():
            for a in (*v.ringing, *([v.agent] if v.agent else [])):
                assert a not in holders, f"{a} holds {holders[a]} and {v.call_id}"
                holders[a] = v.call_id
        for agent_id, held in self.legs.items():
            assert len(held) <= 1, f"{agent_id} has legs {held}"
            assert held == ({holders[agent_id]} if agent_id in holders else set()), agent_id
        assert set(holders) <= set(self.legs)

    @invariant()
    def no_caller_waits_past_its_maximum(self) -> None:
        for call in self.views(Phase.WAITING):
            max_wait = self.queue_cfgs[call.queue].max_wait_s
            assert max_wait is None or call.queued_at + max_wait > self.fast.now, call.call_id

    @invariant()
    def no_caller_lost(self) -> None:
        live = {v.call_id for v in self.fast.acd.call_views()}
        for call in self.started:
            assert (call in live) != (call in self.left), call

    @invariant()
    def no_ready_idle_agent_beside_a_caller_it_can_serve(self) -> None:
        acd = self.fast.acd
        now = self.fast.now
        skills = {a.id: a.skills for a in self.config.agents}
        idle = [
            v.agent
            for v in acd.agent_views()
            if v.status is AgentStatus.READY and v.state is AgentState.IDLE
        ]
        for call in self.views(Phase.WAITING):
            need = levels_in_force(self.queue_cfgs[call.queue], call.since, now)
            for agent_id in idle:
                have = skills[agent_id]
                can = all(have.get(s, 0) >= lvl for s, lvl in need.items())
                assert not (can and agent_id not in call.excluded), (
                    f"{agent_id} idle while {call.call_id} waits in {call.queue}"
                )

    @invariant()
    def counters_add_up(self) -> None:
        t = self.fast.acd.totals()
        assert t.entered == t.answered + t.abandoned + t.overflowed + t.waiting + t.offering
        assert self.slow.acd.totals() == t


AcdMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAcdMachine = AcdMachine.TestCase


def soak(seed: int, steps: int) -> AcdMachine:
    """The same machine, rules and invariants, driven by a plain seeded RNG for many steps.

    Hypothesis explores short, surprising sequences and shrinks failures; the
    soak reaches the deep states of a busy centre (many calls through every
    phase) that short sequences rarely build.
    """
    rng = random.Random(seed)
    m = AcdMachine()
    m.setup(
        tuple(rng.choice(list(Strategy)) for _ in range(3)),  # type: ignore[arg-type]
        rng.randrange(4),
        set(rng.sample(range(5), rng.randint(2, 5))),
    )
    queues = ["gen", "gen", "tax", "vip", "new", "ghost"]
    moves = [
        (
            6,
            lambda: m.arrive(
                rng.choice(queues),
                rng.choice(NUMBERS),
                rng.random() < 0.1,
                rng.choice([0.0, 0.0, 6.0, 30.0]),
                rng.choice([None, None, 4]),
            ),
        ),
        (1.5, lambda: m.hang_up(rng.randrange(99), rng.random() < 0.2)),
        (14, lambda: m.answer(rng.randrange(99))),
        (12, lambda: m.bridge(rng.randrange(99))),
        (
            2,
            lambda: m.reject(rng.randrange(99), rng.choice(list(RejectReason)), rng.random() < 0.3),
        ),
        (2, lambda: m.ring_out(rng.randrange(99))),
        (8, lambda: m.end_call(rng.randrange(99))),
        (1.5, lambda: m.transfer(rng.randrange(99), rng.choice(queues))),
        (1, lambda: m.stale_answer(rng.randrange(99), rng.randrange(9))),
        (2, lambda: m.login(rng.randrange(9), rng.random() < 0.8, rng.choice(SEATS))),
        (
            5,
            lambda: m.agent_request(
                rng.randrange(9),
                rng.choice(
                    [
                        "logout",
                        "ready",
                        "ready",
                        "ready",
                        "ready",
                        "end_wrapup",
                        "end_wrapup",
                        "pause",
                    ]
                ),
                rng.choice(REASONS),
            ),
        ),
        (
            1,
            lambda: m.device(
                rng.choice(SEATS), rng.choice([DeviceState.NOT_IN_USE] * 4 + list(DeviceState))
            ),
        ),
        (1, lambda: m.reachability(rng.choice(SEATS), rng.random() < 0.75)),
        (10, lambda: m.tick(rng.choice([0.5, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 15.0]))),
        (0.3, lambda: m.reconfigure(rng.randrange(3))),
        (0.2, lambda: m.day_rolls(5)),
    ]
    weights = [w for w, _ in moves]
    checks = [
        m.no_agent_holds_two_calls,
        m.no_caller_waits_past_its_maximum,
        m.no_caller_lost,
        m.no_ready_idle_agent_beside_a_caller_it_can_serve,
        m.counters_add_up,
    ]
    for _ in range(steps):
        rng.choices(moves, weights)[0][1]()
        for check in checks:
            check()
    return m


@pytest.mark.parametrize("seed", range(6))
def test_soak_keeps_every_invariant(seed: int) -> None:
    m = soak(seed, 2500)
    t = m.fast.acd.totals()
    assert t.answered > 50, "the soak must push calls all the way through"
    assert t.abandoned > 10 and t.overflowed > 10
