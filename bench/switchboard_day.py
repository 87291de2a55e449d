"""``hotline bench sim-day``: a day of calls through the switchboard in virtual time.

**Traffic.** A seeded day plays against :class:`switchboard.sim.Simulation`
(no sockets, no clock): callers arrive evenly at ``--per-hour`` for
``--hours`` on four kinds of number (the main number with its recording
notice, a merged line with its announcement, a menu, a number straight to
the queue), wait with a patience of 30 s to 10 min, press a menu key,
rate the call or not, and hang up first in three conversations out of ten;
agents answer after 1 to 8 s (one in twenty lets it ring out) and talk
1.5 to 5 minutes.  Every decision runs through the switchboard, the ACD and
the IVR exactly as over ARI.

**Figures.** ``wall_s`` and ``cpu_s`` to replay the whole day (switchboard,
ACD, IVR and the simulated softswitch together), ``events`` fed to the
switchboard, ``events_per_s``, ``cpu_ms_per_call`` and the outcomes.  The
day is checked, not timed: every call must end with exactly one final
record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from dataclasses import dataclass

import acd
import ivr
from switchboard import FlowConfig, QueueMedia, RouteKind, RoutePlan, Switchboard
from switchboard.sim import AgentScript, CallerScript, Simulation

MAIN, MERGED, MENU, DIRECT = "12345", "83456789", "12346", "12300"
START = dt.datetime(2026, 3, 11, 0, 0, tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True)
class _Router:
    routes: dict[str, RoutePlan]

    @property
    def routed_numbers(self) -> frozenset[str]:
        return frozenset(self.routes)

    def resolve(self, number: str, at: dt.datetime) -> RoutePlan:
        return self.routes.get(number) or RoutePlan("unknown", RouteKind.UNKNOWN)


def _flow(agents: list[str]) -> FlowConfig:
    routes = {
        MAIN: RoutePlan("main", RouteKind.MAIN, notice="recording_notice", queue="general"),
        MERGED: RoutePlan(
            "housing", RouteKind.MERGED, announcement="merged", skippable=True, queue="general"
        ),
        MENU: RoutePlan("menu", RouteKind.NUMBER, menu="main"),
        DIRECT: RoutePlan("direct", RouteKind.NUMBER, queue="general"),
    }
    menus = ivr.MenuSet.model_validate(
        {
            "languages": ["zh"],
            "menus": {
                "main": {
                    "entry": "choose",
                    "nodes": {
                        "choose": {
                            "type": "menu",
                            "prompts": ["menu_prompt"],
                            "choices": {"1": "to_queue", "2": "message", "9": "bye"},
                            "fallback": "to_queue",
                        },
                        "to_queue": {"type": "queue", "queue": "general"},
                        "message": {"type": "voicemail", "queue": "general", "max_seconds": 60},
                        "bye": {"type": "hangup", "prompts": ["goodbye"]},
                    },
                }
            },
        }
    )
    survey = ivr.Survey.model_validate(
        {
            "question_prompts": ["survey_question"],
            "levels": [
                {"key": "1", "level": 1, "label": "满意"},
                {"key": "2", "level": 2, "label": "基本满意"},
                {"key": "3", "level": 3, "label": "不满意"},
            ],
            "thanks_prompts": ["thanks"],
        }
    )
    return FlowConfig(
        version="bench",
        router=_Router(routes),
        menus=menus,
        calendar=ivr.Calendar(timezone="Asia/Shanghai"),
        survey=survey,
        queues={"general": QueueMedia(position_prompt="position", wait_prompt="wait")},
        seats={f"s{a}": f"PJSIP/{a}" for a in agents},
    )


def _acd(agents: list[str]) -> acd.AcdConfig:
    skill = acd.Skill("general")
    queue = acd.QueueConfig(
        acd.QueueId("general"),
        skills=(acd.SkillRequirement(skill),),
        announce_interval_s=60.0,
        max_wait_s=600.0,
        overflow=acd.OverflowRule(acd.OverflowAction.CALLBACK),
    )
    people = tuple(acd.AgentConfig(acd.AgentId(a), skills={skill: 5}) for a in agents)
    return acd.AcdConfig(queues=(queue,), agents=people)


def run(per_hour: int, hours: float, agents: int, seed: int) -> dict[str, object]:
    """Replay the day; its figures."""
    rng = random.Random(seed)
    names = [f"{2000 + i}" for i in range(agents)]
    sim = Simulation(Switchboard(_flow(names), _acd(names)), start=START)
    for name in names:
        answer = rng.uniform(1, 8) if rng.random() > 0.05 else None
        sim.login(name, f"s{name}", AgentScript(answer_after_s=answer, talk_s=rng.uniform(90, 300)))
    calls = int(per_hour * hours)
    for i in range(calls):
        number = rng.choice([DIRECT, MAIN, MERGED, MENU])
        keys = ((rng.uniform(0.5, 3.0), rng.choice("1129")),) if number == MENU else ()
        script = CallerScript(
            number,
            number=f"139{i:08d}",
            patience_s=rng.uniform(30, 600),
            keys=keys,
            rating_key=rng.choice(["1", "2", "3", None]),
            hangs_up_first=rng.random() < 0.3,
            talk_s=rng.uniform(60, 300),
        )
        sim.call(script, at=START + i * 3600.0 / per_hour)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while sim.step():
        pass
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if len(sim.finals) != calls or any(len(f) != 1 for f in sim.finals.values()):
        raise SystemExit("sim-day: a call did not end with exactly one final record")
    return {
        "calls": calls,
        "virtual_hours": round((sim.now - START) / 3600, 2),
        "events": sim.events,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "events_per_s": round(sim.events / wall),
        "cpu_ms_per_call": round(cpu * 1000 / calls, 3),
        "outcomes": dict(sorted(sim.board.figures.outcomes.items())),
    }


def main(argv: list[str]) -> int:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(
        prog="hotline bench sim-day", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--per-hour", type=int, default=1000, help="calls per hour (1000)")
    parser.add_argument("--hours", type=float, default=12.0, help="hours of traffic (12)")
    parser.add_argument("--agents", type=int, default=40, help="agents logged in (40)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.per_hour < 1 or args.hours <= 0 or args.agents < 1:
        parser.error("--per-hour, --hours and --agents must be positive")
    figures = run(args.per_hour, args.hours, args.agents, args.seed)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for key, value in figures.items():
            print(f"{key:>16}: {value}")
    return 0
