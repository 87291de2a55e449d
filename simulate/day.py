"""Days of traffic through the real switchboard, ACD, IVR and survey, in virtual time.

Theory of operation
-------------------
:class:`switchboard.sim.Simulation` is the softswitch and the clock; this
module adds the people.  Callers arrive as the profile says (a Poisson
process per line and 15-minute interval), each with a patience, a talk
time, the keys they press in a menu, their survey answer, and whether they
end the conversation themselves.  Every ring of an agent's phone is drawn
afresh: rejected at once (``reject``), left to ring out (``rona``), or
answered after ``answer_delay``.  Agents log in and out at the interval
boundaries as the staffing says (a logout waits for the call in progress,
as at a real seat), and end their wrap-up early when the profile draws a
shorter after-call work than the queue allows.

Nothing here decides where a call goes: the switchboard does, exactly as
over ARI.  What is collected afterwards is what the engine writes (the
final call records, the callback list, the agents' state changes) and it
is turned into figures by :mod:`simulate.results` with :mod:`figures`.

Random streams are separate for arrivals, callers and phones, each seeded
from the run's seed and the day, so two runs with the same seed and
different staffing see the same citizens (common random numbers: a staffing
search compares like with like).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo

import acd
from cti.config import AfterCutover, Config, LinePhase
from cti.executor import ConfigRouter
from figures import AgentClock
from simulate.flowmap import Pool, acd_of, flow_config
from simulate.traffic import INTERVAL_S, INTERVALS_PER_DAY, Profile, Sampler, choose
from switchboard import Switchboard
from switchboard import commands as c
from switchboard import events as ev
from switchboard.sim import AgentScript, CallerScript, Simulation

Progress = Callable[[float], None]
"""Told the share of the run done (0..1) now and then."""

KEY_GAP_S = 3.0
"""Seconds between two keys a simulated caller presses in a menu (the first after 3 s)."""

_PLACEHOLDER = AgentScript(answer_after_s=None, talk_s=0.0)


@dataclass(frozen=True)
class Staffing:
    """Who is on shift in each of the day's 96 intervals (agent ids of the pool)."""

    shifts: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if len(self.shifts) != INTERVALS_PER_DAY:
            raise ValueError("a staffing gives the agents of all 96 intervals")

    @classmethod
    def from_levels(cls, pool: Pool, levels: Sequence[int]) -> Staffing:
        """The first ``levels[i]`` agents of the pool in interval ``i``."""
        pool.grow(max(levels, default=0))
        names = [agent.id for agent in pool.agents]
        return cls(tuple(tuple(names[:n]) for n in levels))

    @property
    def levels(self) -> list[int]:
        return [len(s) for s in self.shifts]


@dataclass
class Outcome:
    """What a run left behind: the engine's writes and the agents' time, per boundary."""

    start: float  # the first simulated midnight, epoch seconds
    days: int
    records: list[c.WriteFinal] = field(default_factory=list)
    callbacks: list[c.AddCallback] = field(default_factory=list)
    # busy and available seconds of all agents, cumulative, at each interval boundary
    agent_time: list[tuple[float, float]] = field(default_factory=list)
    handled: list[tuple[float, float, float]] = field(default_factory=list)  # start, handle, wrapup
    staffing: Staffing | None = None
    events: int = 0
    refusals: int = 0
    rules: dict[str, tuple[float, float]] = field(default_factory=dict)  # queue -> (sl, short)


class _Day(Simulation):
    """The simulation with people: per-ring phones, per-call talk, wrap-up, agent time."""

    def __init__(self, board: Switchboard, start: float, profile: Profile, rng: random.Random):
        super().__init__(board, start=start)
        self._answer = profile.answer_delay.sampler(rng)
        self._wrapup = profile.wrapup.sampler(rng) if profile.wrapup is not None else None
        self._rng = rng
        self._rona, self._reject = profile.rona, profile.reject
        self.clocks: dict[str, AgentClock] = {}
        self.handled: list[tuple[float, float, float]] = []
        self.logged: set[str] = set()
        self._states: dict[str, acd.AgentState] = {}
        self._wrapped: dict[str, float] = {}

    def phone(self, command: c.OriginateAgent) -> AgentScript | None:
        u = self._rng.random()
        if u < self._reject:
            return AgentScript(busy=True)
        if u < self._reject + self._rona:
            return AgentScript(answer_after_s=None)
        return AgentScript(answer_after_s=self._answer())

    def conversation_s(self, caller: CallerScript, agent: AgentScript) -> float:
        return caller.talk_s

    def feed(self, event: ev.Event) -> list[c.Command]:
        commands = super().feed(event)
        for command in commands:
            if type(command) is c.PublishAgentState:
                self._agent_state(command.change, command.at)
        return commands

    def _agent_state(self, change: acd.AgentStateChanged, at: float) -> None:
        name = str(change.agent)
        clock = self.clocks.get(name)
        if clock is None:
            clock = self.clocks[name] = AgentClock(name)
        episode = clock.change(change.status.value, change.state.value, at)
        if episode is not None:
            self.handled.append((episode.start, episode.handle_s, episode.wrapup_s))
        was = self._states.get(name)
        self._states[name] = change.state
        entered = change.state is acd.AgentState.WRAPUP and was is not acd.AgentState.WRAPUP
        if entered and self._wrapup is not None:
            self._wrapped[name] = at
            self.at(at + self._wrapup(), partial(self._end_wrapup, change.agent, at))

    def _end_wrapup(self, agent: acd.AgentId, since: float) -> None:
        name = str(agent)
        if self._states.get(name) is acd.AgentState.WRAPUP and self._wrapped.get(name) == since:
            self.request(acd.AgentEndWrapup(agent))

    def staff(self, on_shift: Sequence[str], seats: dict[str, str]) -> None:
        """Log in and out at a boundary so that exactly ``on_shift`` is logged in."""
        wanted = set(on_shift)
        for name in sorted(self.logged - wanted):
            self.request(acd.AgentLogout(acd.AgentId(name)))
            self.logged.discard(name)
        for name in on_shift:
            if name not in self.logged:
                self.login(name, seats[name], _PLACEHOLDER)
                self.logged.add(name)

    def agent_time(self) -> tuple[float, float]:
        busy = available = 0.0
        for clock in self.clocks.values():
            t = clock.until(self.now)
            busy += t.busy_s
            available += t.available_s
        return busy, available


def midnight(config: Config, day: dt.date) -> float:
    """Local midnight of ``day`` in the platform's time zone, epoch seconds."""
    zone: ZoneInfo = config.timezone
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp()


def run(
    config: Config,
    profile: Profile,
    staffing: Staffing,
    pool: Pool,
    *,
    date: dt.date,
    days: int = 1,
    seed: int = 1,
    progress: Progress | None = None,
) -> Outcome:
    """Simulate ``days`` days from ``date`` with ``staffing`` each day; what the engine wrote."""
    board = Switchboard(flow_config(config, pool), acd_of(config, pool))
    start = midnight(config, date)
    sim = _Day(board, start - 1.0, profile, random.Random(f"{seed}:phones"))
    seats = {agent.id: agent.seat for agent in pool.agents}
    outcome = Outcome(start=start, days=days, staffing=staffing)
    outcome.rules = {
        q: (float(queue.service_level), float(queue.short_abandon))
        for q, queue in config.queues.queues.items()
    }
    for d in range(days):
        day = date + dt.timedelta(days=d)
        base = midnight(config, day)
        for slot in range(INTERVALS_PER_DAY):
            at = base + slot * INTERVAL_S
            sim.at(at, partial(_boundary, sim, outcome, staffing.shifts[slot], seats))
        _callers(sim, config, profile, day, base, seed, d)
    end = midnight(config, date + dt.timedelta(days=days))
    sim.at(end, partial(_boundary, sim, outcome, (), seats))
    total = max(1.0, end - start)
    mark = start
    while sim.step():
        if progress is not None and sim.now - mark >= 3600.0:
            mark = sim.now
            progress(min(1.0, (sim.now - start) / total))
    outcome.records = [finals[-1] for finals in sim.finals.values()]
    outcome.callbacks = sim.callbacks
    outcome.handled = sim.handled
    outcome.events = sim.events
    outcome.refusals = len(sim.refusals)
    if progress is not None:
        progress(1.0)
    return outcome


def _boundary(sim: _Day, outcome: Outcome, on_shift: Sequence[str], seats: dict[str, str]) -> None:
    outcome.agent_time.append(sim.agent_time())
    sim.staff(on_shift, seats)


def dialled_on(config: Config, number: str, day: dt.date, redial: bool) -> str | None:
    """The number a caller of ``number`` dials on ``day`` (None: the call never reaches us).

    A merged line before its go-live is still answered by its department; a
    withdrawn line after its cut-over is not in service, and its callers dial
    the main number instead when ``redial``.
    """
    line = config.merged_line(number)
    if line is None:
        return number
    phase = config.line_phase(number, day)
    if phase is LinePhase.BEFORE_GO_LIVE:
        return None
    if phase is LinePhase.AFTER_CUTOVER and line.after_cutover is AfterCutover.WITHDRAWN:
        return config.platform.main_number if redial else number
    return number


def _callers(
    sim: _Day, config: Config, profile: Profile, day: dt.date, base: float, seed: int, d: int
) -> None:
    arrivals = random.Random(f"{seed}:{d}:arrivals")
    people = random.Random(f"{seed}:{d}:callers")
    router = ConfigRouter(config)
    talk_default = profile.talk.sampler(people)
    patience_default = profile.patience.sampler(people) if profile.patience else None
    expected = profile.expected()
    noon = dt.datetime.fromtimestamp(base + 43200, dt.UTC)
    serial = d * 10_000_000
    for number, line in profile.lines.items():
        dialled = dialled_on(config, number, day, profile.redial_withdrawn)
        if dialled is None:
            continue
        plan = router.resolve(dialled, noon)
        menu = line.menu or profile.menu
        talk = line.talk.sampler(people) if line.talk else talk_default
        patience: Sampler | None = (
            line.patience.sampler(people) if line.patience else patience_default
        )
        for slot, mean in enumerate(expected[number]):
            if mean <= 0:
                continue
            rate = mean / INTERVAL_S
            t = arrivals.expovariate(rate)
            while t < INTERVAL_S:
                serial += 1
                keys: tuple[tuple[float, str], ...] = ()
                if plan.menu is not None and menu:
                    pressed = choose(people, menu)
                    if pressed != "none":
                        keys = tuple((KEY_GAP_S * (i + 1), k) for i, k in enumerate(pressed))
                rating = choose(people, profile.survey) if profile.survey else "none"
                script = CallerScript(
                    dialled,
                    number=f"1{serial:010d}",
                    patience_s=patience() if patience is not None else None,
                    keys=keys,
                    rating_key=None if rating == "none" else rating,
                    hangs_up_first=people.random() < profile.caller_hangs_up_first,
                    talk_s=max(1.0, talk()),
                )
                sim.call(script, at=base + slot * INTERVAL_S + t)
                t += arrivals.expovariate(rate)
