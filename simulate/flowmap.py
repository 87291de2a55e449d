"""A deployment (``cti.config.Config``) as the switchboard's configuration, for simulated agents.

The switchboard wants a :class:`switchboard.FlowConfig` and an
:class:`acd.AcdConfig`: both are the engine's own (:func:`cti.executor.flow_config`,
whose routes come from ``Config.resolve``, so merged lines follow their phase on
the simulated date and closed routes follow the calendar; and
:func:`cti.engine.acdmap.acd_config`), with simulated seats.  The agents are the simulation's pool
(:class:`Pool`): the deployment's agents first, then copies of their skill
profiles when a plan asks for more agents than the deployment names; each
has a seat of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import acd
from cti.config import Config
from cti.engine.acdmap import acd_config
from cti.executor import flow_config as engine_flow_config
from switchboard import FlowConfig


@dataclass(frozen=True, slots=True)
class PoolAgent:
    """One agent the simulation may put on shift."""

    id: str
    seat: str
    skills: tuple[tuple[str, int], ...]


class Pool:
    """The agents of a simulated centre, in the order a seat count takes them."""

    def __init__(self, config: Config, extra: dict[str, dict[str, int]] | None = None) -> None:
        self._config = config
        self.agents: list[PoolAgent] = []
        for agent in config.agents.agents:
            self._add(agent.number, dict(agent.skills))
        for name, skills in (extra or {}).items():
            self._add(name, skills)

    def _add(self, name: str, skills: dict[str, int]) -> PoolAgent:
        agent = PoolAgent(name, f"sim-seat-{len(self.agents) + 1}", tuple(sorted(skills.items())))
        self.agents.append(agent)
        return agent

    def grow(self, count: int) -> None:
        """Make sure the pool holds at least ``count`` agents (copies of the named ones)."""
        named = self._config.agents.agents
        while len(self.agents) < count:
            model = named[len(self.agents) % len(named)]
            self._add(f"sim{len(self.agents) + 1:04d}", dict(model.skills))

    def add(self, name: str, skills: dict[str, int]) -> PoolAgent:
        return self._add(name, skills)

    def find(self, name: str) -> PoolAgent | None:
        for agent in self.agents:
            if agent.id == name:
                return agent
        return None


def flow_config(config: Config, pool: Pool) -> FlowConfig:
    """The engine's own view of ``config`` (:func:`cti.executor.flow_config`), with a seat
    for every agent of ``pool``."""
    engine_view = engine_flow_config(config, f"simulate:{config.directory}")
    return replace(engine_view, seats={agent.seat: f"SIM/{agent.id}" for agent in pool.agents})


def acd_of(config: Config, pool: Pool) -> acd.AcdConfig:
    """The ACD's configuration of ``config``, its agents being ``pool``'s."""
    base = acd_config(config)
    agents = tuple(
        acd.AgentConfig(
            id=acd.AgentId(agent.id),
            name=agent.id,
            skills={acd.Skill(s): level for s, level in agent.skills},
            wrapup_s=_wrapup(config, agent.id),
        )
        for agent in pool.agents
    )
    return replace(base, agents=agents)


def _wrapup(config: Config, name: str) -> float | None:
    agent = config.agent(name)
    if agent is None or agent.wrapup is None:
        return None
    return float(agent.wrapup)
