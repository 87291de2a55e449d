"""Who is on shift: seat counts, a roster file, targets and the search for the fewest agents.

**Seat counts** (``--seats 40`` or ``--seats "00:00=8,08:00=40,20:00=12"``):
that many agents in each interval, taken in order from the pool (the
deployment's agents, then copies of their skill profiles).

**A roster** (YAML): shifts of named agents of ``agents.yaml`` or of a
number of anonymous agents with the skills given (or copied from the
deployment's agents in turn)::

    shifts:
      - {from: "08:00", to: "17:00", agents: 20}
      - {from: "08:00", to: "17:00", agents: 3, skills: {market: 6, general: 3}}
      - {from: "00:00", to: "24:00", agent: "1001"}

A shift that ends before it starts runs over midnight.

**Targets** (``--target "接通率>=0.95,within_15s>=0.8"``): each interval
must meet every target.  :func:`search` starts from the closed forms
(:func:`simulate.erlang.agents_for`), then simulates the day, adds an agent
to every interval that misses a target, and repeats (an interval is judged with one standard error of slack on its
rates, :meth:`Target.met`); when all intervals meet, it takes one agent away from every interval at once, simulates again
and gives back the agent where an interval then misses.  The same seed is
used throughout, so each round sees the same citizens.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cti.config import Config
from simulate.day import Staffing, run
from simulate.erlang import agents_for
from simulate.errors import SimulateError
from simulate.flowmap import Pool
from simulate.results import Summary, summarise
from simulate.traffic import INTERVALS_PER_DAY, Profile, _slot, step_curve


def parse_seats(text: str) -> list[int]:
    """``"40"`` or ``"00:00=8,08:00=40"`` -> agents in each of the 96 intervals."""
    text = text.strip()
    try:
        if "=" not in text:
            n = int(text)
            if n < 0:
                raise ValueError
            return [n] * INTERVALS_PER_DAY
        points: dict[str, float] = {}
        for part in text.split(","):
            when, _, count = part.partition("=")
            n = int(count)
            if n < 0:
                raise ValueError
            _slot(when.strip())
            points[when.strip()] = n
        return [int(v) for v in step_curve(points)]
    except ValueError as exc:
        detail = f": {exc}" if str(exc) else ""
        raise SimulateError(
            f"--seats {text!r}: give a count (40) or HH:MM=count pairs (00:00=8,08:00=40){detail}"
        ) from exc


class Shift(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    agents: Annotated[int, Field(ge=1)] | None = None
    agent: str | None = None
    skills: dict[str, Annotated[int, Field(ge=1, le=9)]] | None = None

    @model_validator(mode="after")
    def _who(self) -> Shift:
        _slot(self.start)
        _slot(self.end)
        if (self.agents is None) == (self.agent is None):
            raise ValueError("a shift needs exactly one of agents (a count) or agent (a number)")
        if self.agent is not None and self.skills is not None:
            raise ValueError("a named agent keeps the skills of agents.yaml")
        return self

    def slots(self) -> list[int]:
        start, end = _slot(self.start), _slot(self.end)
        if end > start:
            return list(range(start, end))
        return [*range(start, INTERVALS_PER_DAY), *range(0, end)]


class Roster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shifts: list[Shift] = Field(min_length=1)


def roster_staffing(roster: Roster, pool: Pool, config: Config) -> Staffing:
    """The staffing of ``roster`` (anonymous agents are added to ``pool``)."""
    shifts: list[list[str]] = [[] for _ in range(INTERVALS_PER_DAY)]
    models = config.agents.agents
    made = 0
    for number, shift in enumerate(roster.shifts):
        names: list[str] = []
        if shift.agent is not None:
            if pool.find(shift.agent) is None:
                raise SimulateError(
                    f"roster shift {number + 1}: no agent {shift.agent} in agents.yaml"
                )
            names = [shift.agent]
        else:
            assert shift.agents is not None
            for _ in range(shift.agents):
                made += 1
                skills = shift.skills or dict(models[(made - 1) % len(models)].skills)
                names.append(pool.add(f"roster{made:04d}", dict(skills)).id)
        for slot in shift.slots():
            for name in names:
                if name not in shifts[slot]:
                    shifts[slot].append(name)
    return Staffing(tuple(tuple(s) for s in shifts))


# ---------------------------------------------------------------- targets

_MEASURES = {
    "接通率": "connection_rate",
    "connection_rate": "connection_rate",
    "within_15s": "within_15s_rate",
    "within_15s_rate": "within_15s_rate",
    "人工应答及时率": "within_15s_rate",
    "service_level": "within_15s_rate",
    "abandon_rate": "abandon_rate",
    "放弃率": "abandon_rate",
    "asa": "asa_s",
    "asa_s": "asa_s",
    "p90_wait": "p90_wait_s",
    "p90_wait_s": "p90_wait_s",
}


@dataclass(frozen=True, slots=True)
class Target:
    measure: str  # a key of the figures
    at_least: bool
    value: float

    def __str__(self) -> str:
        return f"{self.measure}{'>=' if self.at_least else '<='}{self.value:g}"

    def met(self, figures: dict[str, Any], tolerant: bool = False) -> bool:
        """Whether ``figures`` meet the target.

        ``tolerant``: a rate is judged with one standard error of slack
        (``sqrt(p(1-p)/n)`` over the interval's ``n`` offered calls), so a
        quiet interval where one early hang-up out of five calls is no
        staffing problem does not count as a miss.
        """
        value = figures.get(self.measure)
        if value is None:  # nothing settled in the interval
            return True
        slack = 0.0
        if tolerant and self.measure.endswith("_rate") and figures.get("offered"):
            p = min(max(self.value, 0.0), 1.0)
            slack = math.sqrt(p * (1 - p) / figures["offered"])
        if self.at_least:
            return bool(value >= self.value - slack)
        return bool(value <= self.value + slack)


def parse_targets(text: str) -> list[Target]:
    """``"接通率>=0.95,within_15s>=0.8"`` -> targets (one-line error otherwise)."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        op = ">=" if ">=" in part else "<=" if "<=" in part else None
        name, _, value = part.partition(op) if op else (part, "", "")
        measure = _MEASURES.get(name.strip())
        try:
            number = float(value)
        except ValueError:
            number = None
        if op is None or measure is None or number is None:
            known = ", ".join(sorted(_MEASURES))
            raise SimulateError(
                f"--target {part!r}: write MEASURE>=VALUE or MEASURE<=VALUE (measures: {known})"
            )
        out.append(Target(measure, op == ">=", number))
    return out


# ---------------------------------------------------------------- search


@dataclass
class Plan:
    """The result of a staffing search."""

    staffing: Staffing
    summary: Summary
    rounds: int
    seconds: float
    met: bool


def first_guess(config: Config, profile: Profile, targets: list[Target]) -> list[int]:
    """Agents per interval from the closed forms (Erlang A / Erlang C), at least one."""
    wrapup = max((q.wrapup for q in config.queues.queues.values()), default=0)
    after = min(profile.wrapup.expected, wrapup) if profile.wrapup else wrapup
    aht = profile.talk.expected + after + profile.answer_delay.expected
    patience = profile.patience.expected if profile.patience else None
    rate = next((t.value for t in targets if t.measure == "connection_rate"), None)
    sl = next((t.value for t in targets if t.measure == "within_15s_rate"), None)
    per_slot = [sum(v) for v in zip(*profile.expected().values(), strict=True)]
    return [
        max(1, agents_for(calls * 4, aht, patience, connection_rate=rate, service_level=sl))
        for calls in per_slot
    ]


def _misses(summary: Summary, targets: list[Target]) -> list[bool]:
    out = []
    for interval in summary.intervals:
        figures = interval.total.figures()
        out.append(not all(t.met(figures, tolerant=True) for t in targets))
    return out


def search(
    config: Config,
    profile: Profile,
    pool: Pool,
    targets: list[Target],
    *,
    date: dt.date,
    days: int = 1,
    seed: int = 1,
    max_rounds: int = 25,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """The fewest agents per interval that meet ``targets`` (see the module docstring)."""
    began = time.process_time()
    levels = first_guess(config, profile, targets)
    rounds = 0

    def simulate(levels: list[int]) -> Summary:
        nonlocal rounds
        rounds += 1
        staffing = Staffing.from_levels(pool, levels)
        outcome = run(config, profile, staffing, pool, date=date, days=days, seed=seed)
        return summarise(outcome)

    summary = simulate(levels)
    trims = 2
    for _ in range(max_rounds):
        misses = _misses(summary, targets)
        if progress is not None:
            hours = sum(levels) / 4
            progress(f"round {rounds}: {hours:.0f} agent-hours, {sum(misses)} intervals miss")
        if any(misses):
            levels = [n + 1 if miss else n for n, miss in zip(levels, misses, strict=True)]
            summary = simulate(levels)
            continue
        trial = [max(1, n - 1) for n in levels]
        if trims == 0 or trial == levels:
            break
        trims -= 1
        tried = simulate(trial)
        tried_misses = _misses(tried, targets)
        if not any(tried_misses):
            levels, summary = trial, tried
            continue
        levels = [n if miss else t for n, t, miss in zip(levels, trial, tried_misses, strict=True)]
        summary = simulate(levels)
    met = not any(_misses(summary, targets))
    staffing = Staffing.from_levels(pool, levels)
    return Plan(staffing, summary, rounds, time.process_time() - began, met)
