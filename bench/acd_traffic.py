"""The traffic of ``hotline bench acd``: two simulated centres and a seeded stand-in shell.

``centre_80`` is a city platform (80 agents; a general desk, specialist
desks and a ring-all hunt group); ``centre_5000`` a national-scale one
(5,000 agents, 200 skills, one queue per skill, specialist desks staffed in
proportion to their demand).  :class:`Simulation` plays the shell against
an ``Acd`` in virtual time and records the events it delivers, which
:func:`record` returns as a :class:`Recording` (see :mod:`bench.acd`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from acd import (
    Acd,
    AcdConfig,
    AgentConfig,
    AgentEndWrapup,
    AgentId,
    AgentLogin,
    AgentPause,
    AgentReady,
    AgentState,
    AgentStateChanged,
    AgentStatus,
    CallConnected,
    CallEnded,
    CallerArrived,
    CallerHungUp,
    CallerLeft,
    CallId,
    CancelOffer,
    CancelTimer,
    Command,
    ConnectCall,
    Event,
    OfferAnswered,
    OfferCall,
    OfferRejected,
    OverflowAction,
    OverflowRule,
    PauseReason,
    QueueConfig,
    QueueId,
    RejectReason,
    RelaxStep,
    SeatId,
    Selector,
    Skill,
    SkillRequirement,
    StartTimer,
    Strategy,
    TimerFired,
)

PAUSES = (PauseReason("rona", "未接"), PauseReason("break", "小休"), PauseReason("meal", "就餐"))


@dataclass(frozen=True)
class Scenario:
    """A centre to simulate: its configuration and its traffic."""

    name: str
    config: AcdConfig
    queue_weights: tuple[float, ...]
    talk_mean_s: float = 150.0
    load: float = 0.9  # offered traffic / staffed capacity, before the swell


def centre_80(seed: int) -> Scenario:
    """A city platform: 80 agents, 6 queues (general desk, specialist desks, a ring-all hunt group)."""
    rng = random.Random(seed)
    general, consumer, social, housing, english, vip = (
        Skill(s) for s in ("general", "12315", "12333", "12329", "english", "vip")
    )
    agents = []
    for i in range(80):
        skills = {general: rng.randint(1, 10)}
        for s in rng.sample([consumer, social, housing, english, vip], rng.randint(0, 2)):
            skills[s] = rng.randint(1, 10)
        agents.append(AgentConfig(AgentId(f"a{i:03d}"), skills=skills))
    callback = OverflowRule(OverflowAction.CALLBACK)
    to_general = OverflowRule(OverflowAction.QUEUE, "general")

    def desk(qid: str, skill: Skill, strategy: Strategy) -> QueueConfig:
        return QueueConfig(
            QueueId(qid),
            skills=(SkillRequirement(skill, 5, (RelaxStep(30, 1),)),),
            strategy=strategy,
            max_wait_s=120,
            overflow=to_general,
            announce_interval_s=45,
        )

    queues = (
        QueueConfig(
            QueueId("general"),
            skills=(SkillRequirement(general, 4, (RelaxStep(20, 2), RelaxStep(40, 1))),),
            max_wait_s=300,
            overflow=callback,
            announce_interval_s=30,
        ),
        desk("12315", consumer, Strategy.FEWEST_CALLS),
        desk("12333", social, Strategy.LEAST_TALK_TIME),
        desk("12329", housing, Strategy.ROUND_ROBIN),
        desk("english", english, Strategy.ORDERED),
        QueueConfig(
            QueueId("vip"),
            skills=(SkillRequirement(vip, 1),),
            strategy=Strategy.RING_ALL,
            max_wait_s=60,
            overflow=to_general,
        ),
    )
    config = AcdConfig(queues=queues, agents=tuple(agents), pause_reasons=PAUSES, random_seed=seed)
    return Scenario("80", config, (0.6, 0.12, 0.1, 0.1, 0.04, 0.04))


def centre_5000(seed: int) -> Scenario:
    """A national-scale centre: 5,000 agents, 200 skills, one queue per skill."""
    rng = random.Random(seed)
    skills = [Skill("general")] + [Skill(f"s{i:03d}") for i in range(1, 200)]
    # Demand per specialist desk falls off as 1/rank; desks are staffed to match.
    demand = [1 / i for i in range(1, 200)]
    agents = []
    for i in range(5000):
        have: dict[Skill, int] = {}
        if rng.random() < 0.8:
            have[skills[0]] = rng.randint(1, 10)
        for s in set(rng.choices(skills[1:], demand, k=rng.randint(1, 4))):
            have[s] = rng.randint(1, 10)
        agents.append(AgentConfig(AgentId(f"a{i:04d}"), skills=have))
    strategies = (
        Strategy.LONGEST_IDLE,
        Strategy.LONGEST_IDLE,
        Strategy.FEWEST_CALLS,
        Strategy.LEAST_TALK_TIME,
        Strategy.ORDERED,
        Strategy.ROUND_ROBIN,
        Strategy.RANDOM,
    )
    queues = [
        QueueConfig(
            QueueId("general"),
            skills=(SkillRequirement(skills[0], 3, (RelaxStep(20, 1),)),),
            max_wait_s=240,
            announce_interval_s=60,
        )
    ]
    for i, skill in enumerate(skills[1:], start=1):
        queues.append(
            QueueConfig(
                QueueId(f"q{i:03d}"),
                skills=(SkillRequirement(skill, 5, (RelaxStep(30, 2),)),),
                strategy=strategies[i % len(strategies)],
                max_wait_s=90,
                overflow=OverflowRule(OverflowAction.QUEUE, "general"),
                announce_interval_s=60,
            )
        )
    weights = [0.4] + [0.6 * d for d in demand]
    total = sum(weights)
    config = AcdConfig(
        queues=tuple(queues), agents=tuple(agents), pause_reasons=PAUSES, random_seed=seed
    )
    return Scenario("5000", config, tuple(w / total for w in weights))


DECISIONS = (
    CallerArrived,
    CallerHungUp,
    CallEnded,
    AgentReady,
    AgentEndWrapup,
    OfferRejected,
    TimerFired,
)

Stream = list[tuple[Event, float]]


@dataclass
class Recording:
    """A simulated centre's events: ``setup`` (the logins, not timed), then ``stream``."""

    setup: Stream
    stream: Stream


class Simulation:
    """A seeded stand-in for the shell, driving one ``Acd`` in virtual time."""

    def __init__(self, scenario: Scenario, seed: int, selector: Selector | None = None) -> None:
        self.scenario = scenario
        self.acd = Acd(scenario.config, selector=selector)
        self.rng = random.Random(seed)
        self.now = 0.0
        self._queue: list[tuple[float, int, Event | Callable[[], None]]] = []
        self._seq = 0
        self._timers: dict[object, float] = {}
        self._offers: dict[tuple[str, str], int] = {}
        self._patience: dict[str, int] = {}
        self._calls = 0
        self.stream: Stream = []
        cfg = scenario.config
        self._queue_ids = [q.id for q in cfg.queues]
        self._weights = list(scenario.queue_weights)
        wrap = sum(q.wrapup_s for q in cfg.queues) / max(1, len(cfg.queues))
        # Each agent pauses about once an hour for 1 to 10 minutes: ~9 % of the time.
        self._pause_rate = len(cfg.agents) / 3600.0
        staffed = len(cfg.agents) * (1.0 - 0.09)
        self._rate = scenario.load * staffed / (scenario.talk_mean_s + wrap + 4.0)
        self._numbers = [f"139{n:08d}" for n in self.rng.sample(range(10**8), 5000)]

    def _at(self, t: float, item: Event | Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, item))

    def start(self) -> None:
        """Log everybody in and start the traffic (not timed)."""
        for i, agent in enumerate(self.scenario.config.agents):
            self._deliver(AgentLogin(agent.id, SeatId(f"seat{i:04d}")))
        self._at(self._next_arrival(0.0), self._arrive)
        self._at(self.rng.expovariate(self._pause_rate), self._pause)

    def run(self, decisions: int) -> Stream:
        """Process events until ``decisions`` decisions were made; return the stream."""
        made = 0
        while made < decisions and self._queue:
            made += self._step()
        return self.stream

    def run_until(self, t: float) -> None:
        """Process events up to virtual time ``t``."""
        while self._queue and self._queue[0][0] <= t:
            self._step()

    def _step(self) -> bool:
        """Process the next item; true if it was a decision."""
        t, _, item = heapq.heappop(self._queue)
        self.now = t
        if callable(item):
            item()
            return False
        if isinstance(item, TimerFired) and self._timers.get(item.key) != item.at:
            return False
        self._deliver(item)
        return isinstance(item, DECISIONS)

    def _deliver(self, event: Event) -> None:
        if isinstance(event, TimerFired):
            del self._timers[event.key]
        self.stream.append((event, self.now))
        for cmd in self.acd.handle(event, self.now):
            self._carry_out(cmd)

    # ----------------------------------------------------------- traffic

    def _next_arrival(self, t: float) -> float:
        swell = 1.0 + 0.15 * math.sin(2 * math.pi * t / 1800.0)
        return t + self.rng.expovariate(self._rate * swell)

    def _arrive(self) -> None:
        self._calls += 1
        call = CallId(f"c{self._calls}")
        queue = self.rng.choices(self._queue_ids, self._weights)[0]
        number = self.rng.choice(self._numbers)
        self._at(self.now, CallerArrived(call, queue, number))
        token = self._calls
        self._patience[call] = token
        patience = self.rng.expovariate(1 / 120.0)
        self._at(self.now + patience, lambda: self._give_up(call, token))
        self._at(self._next_arrival(self.now), self._arrive)

    def _give_up(self, call: CallId, token: int) -> None:
        if self._patience.get(call) == token:
            del self._patience[call]
            self._at(self.now, CallerHungUp(call))

    def _pause(self) -> None:
        agent = self.rng.choice(self.scenario.config.agents).id
        reason = self.rng.choice(("break", "meal"))
        self._at(self.now, AgentPause(agent, reason))
        self._at(self.now + self.rng.uniform(60, 600), AgentReady(agent))
        self._at(self.now + self.rng.expovariate(self._pause_rate), self._pause)

    def _carry_out(self, cmd: Command) -> None:
        rng = self.rng
        now = self.now
        if isinstance(cmd, StartTimer):
            self._timers[cmd.key] = cmd.at
            self._at(cmd.at, TimerFired(cmd.key, cmd.at))
        elif isinstance(cmd, CancelTimer):
            self._timers.pop(cmd.key, None)
        elif isinstance(cmd, OfferCall):
            self._seq += 1
            token = self._seq
            self._offers[(cmd.call_id, cmd.agent)] = token
            roll = rng.random()
            if roll < 0.9:
                delay = rng.uniform(1.0, 8.0)
                reply: Event = OfferAnswered(cmd.call_id, cmd.agent)
            elif roll < 0.95:
                delay = rng.uniform(0.5, 3.0)
                reply = OfferRejected(cmd.call_id, cmd.agent, RejectReason.DECLINED)
            else:
                return  # rings out: the ACD's ring timer fires
            self._at(now + delay, lambda: self._offer_reply(cmd.call_id, cmd.agent, token, reply))
        elif isinstance(cmd, CancelOffer):
            self._offers.pop((cmd.call_id, cmd.agent), None)
        elif isinstance(cmd, ConnectCall):
            self._offers.pop((cmd.call_id, cmd.agent), None)
            self._patience.pop(cmd.call_id, None)
            self._at(now + 0.02, CallConnected(cmd.call_id, cmd.agent))
            talk = rng.lognormvariate(math.log(self.scenario.talk_mean_s) - 0.18, 0.6)
            self._at(now + talk, CallEnded(cmd.call_id))
        elif isinstance(cmd, CallerLeft):
            self._patience.pop(cmd.call_id, None)
        elif isinstance(cmd, AgentStateChanged):
            self._agent_changed(cmd)

    def _offer_reply(self, call: CallId, agent: AgentId, token: int, reply: Event) -> None:
        if self._offers.get((call, agent)) == token:
            del self._offers[(call, agent)]
            self._at(self.now, reply)

    def _agent_changed(self, cmd: AgentStateChanged) -> None:
        if cmd.state is AgentState.WRAPUP and self.rng.random() < 0.2:
            self._at(self.now + self.rng.uniform(1.0, 8.0), AgentEndWrapup(cmd.agent))
        elif cmd.status is AgentStatus.PAUSED and cmd.reason == "rona":
            self._at(self.now + self.rng.uniform(30, 120), AgentReady(cmd.agent))


def record(scenario: Scenario, seed: int, decisions: int, warmup_s: float = 600.0) -> Recording:
    """A simulated centre's events: logins and ``warmup_s`` of traffic, then ``decisions``.

    The warm-up (the centre filling up from all agents idle) is setup, not measured.
    """
    sim = Simulation(scenario, seed)
    sim.start()
    sim.run_until(warmup_s)
    setup = list(sim.stream)
    sim.stream.clear()
    return Recording(setup, sim.run(decisions))
