"""The simulation is the engine: one seeded small day through both, the same outcome per call.

The day: three agents log in one second apart (two answer after 1.3 s and
2.6 s, the third lets every ring run out, so the ACD pauses it after two
misses); seven callers arrive 2 to 7 s apart, each with a patience and a
talk time, and end the conversation themselves.  The general queue rings
for 5 s, wraps up for 2 s and lets a caller wait 12 s before the overflow
rule puts them on the callback list.

It runs through ``hotline simulate``'s machinery (the deployment mapped by
:mod:`simulate.flowmap`, :class:`switchboard.sim.Simulation` in virtual
time) and through the real engine on pbxsim over sockets in real time (the
day lasts about a minute), and each call must have the same outcome, the
same first agent, the same queue and the same agents offered in the same
order.  The seed is kept only when the simulated day has no two stimuli
(an arrival, a hang-up, an answer, a timer) closer than a second, so the
engine's milliseconds of processing cannot reorder anything; an event
within 50 ms of the one before is taken as its consequence (the simulated
softswitch answering a command), not as a stimulus of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cti.config import Config, load_config
from pbxsim import CallerScript as PbxCaller
from pbxsim import PhoneScript
from simulate.flowmap import Pool, acd_of, flow_config
from switchboard import Switchboard
from switchboard.sim import AgentScript, CallerScript, Simulation
from tests.support.stack import patched_config, running_stack

pytestmark = pytest.mark.simulate

# agent, seat, phone endpoint, answer delay (None: rings out), login second
AGENTS = (
    ("1001", "s01", "8001", 1.3, 0.0),
    ("1002", "s02", "8002", 2.6, 1.0),
    ("1003", "s03", "8003", None, 2.0),
)
FIRST_CALL_S = 4.0
CASCADE_S = 0.05
CALLS = 7
TRIES = 40


def _queues(data: Any) -> None:
    q = data["queues"]["general"]
    q["skills"] = [{"skill": "general", "min_level": 1}]
    q["ring_timeout"] = 5
    q["wrapup"] = 2
    q["max_wait"] = 12
    q["overflow"] = {"action": "callback"}
    q.pop("announce", None)
    q.pop("max_length", None)


def _routing(data: Any) -> None:
    data["routes"]["main"].pop("notice", None)


def _agents(data: Any) -> None:
    for agent in data["agents"]:
        agent["skills"] = {"general": 5}
        agent.pop("wrapup", None)


PATCHES = {"queues.yaml": _queues, "routing.yaml": _routing, "agents.yaml": _agents}


@dataclass(frozen=True)
class Caller:
    number: str
    at: float  # seconds after the day starts
    patience: float
    talk: float


def _spaced_day(config: Config, seed: int) -> tuple[list[Caller], dict[str, dict[str, Any]]]:
    """CALLS callers drawn from ``seed``, each redrawn until the day so far stays spaced.

    A caller is drawn (the gap since the one before, a patience, a talk
    time) and the day up to it is simulated; the caller is drawn again while
    two stimuli of that day are closer than a second, and after ``TRIES``
    failed draws the caller before it is drawn again (backtracking).
    """
    rng = random.Random(seed)
    callers: list[Caller] = []
    failures = [0] * CALLS
    simulated: dict[str, dict[str, Any]] = {}
    for _ in range(5000):
        if len(callers) == CALLS:
            return callers, simulated
        n = len(callers)
        at = callers[-1].at + 2.0 if callers else FIRST_CALL_S
        caller = Caller(
            f"1390000{n:04d}",
            at + rng.uniform(0.0, 5.0),
            rng.uniform(5.0, 16.0),
            rng.uniform(4.0, 11.0),
        )
        result, gap = _simulate(config, [*callers, caller])
        if gap >= 1.0:
            callers.append(caller)
            simulated = result
            continue
        failures[n] += 1
        if failures[n] >= TRIES and callers:
            failures[n] = 0
            callers.pop()
    raise AssertionError(f"no spaced day of {CALLS} callers from seed {seed}")


class _Timed(Simulation):
    """The simulation, noting the moment of every event fed to the switchboard."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.moments: list[tuple[float, str]] = []

    def feed(self, event: Any) -> Any:
        self.moments.append((self.now, type(event).__name__))
        return super().feed(event)


def _simulate(config: Config, callers: list[Caller]) -> tuple[dict[str, dict[str, Any]], float]:
    """Per caller number: outcome, first agent, queue, agents offered; and the closest gap."""
    pool = Pool(config)
    board = Switchboard(flow_config(config, pool), acd_of(config, pool))
    start = 1_800_000_000.0
    sim = _Timed(board, start=start)
    seats = {a.id: a.seat for a in pool.agents}
    for agent, _, _, answer, login_at in AGENTS:
        script = AgentScript(answer_after_s=answer, talk_s=3600.0)
        sim.at(start + login_at, lambda a=agent, s=script: sim.login(a, seats[a], s))  # type: ignore[misc]
    for c in callers:
        script = CallerScript(
            "12345", number=c.number, patience_s=c.patience, hangs_up_first=True, talk_s=c.talk
        )
        sim.call(script, at=start + c.at)
    while sim.step():
        pass
    offered: dict[str, list[str]] = {}
    for row in sim.timeline:
        if row.kind == "offered" and row.agent:
            offered.setdefault(str(row.call_id), []).append(row.agent)
    out = {}
    for finals in sim.finals.values():
        r = finals[-1].record
        out[r.caller_number] = {
            "outcome": r.outcome,
            "first_agent": r.first_agent,
            "queue": r.queue,
            "offered": offered.get(str(r.call_id), []),
        }
    # An event within CASCADE_S of the one before is its consequence (the
    # softswitch answering a command); the others are the day's stimuli.
    moments = sorted(m for m, _ in sim.moments)
    gaps = [b - a for a, b in itertools.pairwise(moments) if b - a > CASCADE_S]
    gap = min(gaps, default=99.0)
    return out, gap


async def test_simulation_and_engine_decide_every_call_alike(
    tmp_path: Path, empty_dsn: str
) -> None:
    config_dir = patched_config(tmp_path / "sim-config", PATCHES)
    callers, simulated = _spaced_day(load_config(config_dir), seed=22)
    outcomes = {v["outcome"] for v in simulated.values()}
    # The day exercises the decisions compared: answers, a ring-no-answer, and
    # at least one of abandon or overflow.
    assert "answered" in outcomes and outcomes & {"abandoned", "callback", "overflowed"}, simulated
    assert any("1003" in v["offered"] for v in simulated.values()), simulated

    phones = [PhoneScript(phone, answer_after=answer) for _, _, phone, answer, _ in AGENTS]
    async with running_stack(
        tmp_path / "engine", empty_dsn, patches=PATCHES, phones=phones, time_scale=1.0
    ) as stack:
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.5
        for agent, seat, _, _, login_at in AGENTS:
            await asyncio.sleep(max(0.0, t0 + login_at - loop.time()))  # a scheduled moment
            await stack.login(agent, seat)
        handles: dict[str, Any] = {}

        def arrive(c: Caller) -> None:
            handles[c.number] = stack.sim.place_call(
                PbxCaller(number=c.number, dialled="12345", hangup_after_bridged=c.talk)
            )

        def impatient(c: Caller) -> None:
            # As the simulated caller: hang up unless already talking to an agent.
            world = stack.sim.world
            handle = handles[c.number]
            channel = world.channels.get(handle.channel_id or "")
            if channel is None:
                return
            bridge = world.bridges.get(channel.bridge) if channel.bridge else None
            if bridge is not None and len(bridge.channel_ids()) >= 2:
                return
            stack.sim.hangup_call(handle)

        for c in callers:
            loop.call_at(t0 + c.at, arrive, c)
            loop.call_at(t0 + c.at + c.patience, impatient, c)
        await stack.wait_ended(len(callers), timeout=120.0)
        await stack.flushed()
        rows = await stack.db.fetch(
            "SELECT call_id, caller_number, outcome, first_agent, queue FROM calls"
        )
        engine: dict[str, dict[str, Any]] = {}
        for row in rows:
            timeline = await stack.timeline(row["call_id"])
            engine[row["caller_number"]] = {
                "outcome": row["outcome"],
                "first_agent": row["first_agent"],
                "queue": row["queue"],
                "offered": [t["agent"] for t in timeline if t["kind"] == "offered" and t["agent"]],
            }
    assert sorted(engine) == sorted(simulated)
    for number in sorted(simulated):
        assert engine[number] == simulated[number], number
