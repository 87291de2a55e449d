"""The reference selector: a linear scan over every agent and every waiting caller.

It keeps the contract of :class:`acd.selection.Selector` with no index at
all, which makes it the yardstick twice over: tests run it side by side
with :class:`acd.index.IndexedSelector` and require identical commands, and
the benchmark measures how much the indices buy at 5,000 agents.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from acd.model import AgentStatus, CallId, Strategy
from acd.records import Agent, Caller, QueueState, qualifies
from acd.selection import AgentKey, Selector, agent_key, pick_round_robin


class ScanSelector(Selector):
    """Scans all agents for a caller, and all waiting callers for an agent."""

    def __init__(self) -> None:
        self._agents: list[Agent] = []
        self._waiting: dict[CallId, Caller] = {}

    def rebuild(self, queues: Iterable[QueueState], agents: Iterable[Agent]) -> None:
        self._agents = sorted(agents, key=lambda a: a.order)
        self._waiting = {}

    def agent_available(self, agent: Agent) -> None:
        """The scan reads ``agent.available`` itself."""

    def agent_unavailable(self, agent: Agent) -> None:
        """The scan reads ``agent.available`` itself."""

    def staffing_changed(self, agent: Agent, delta: int) -> None:
        """The scan counts ready agents when asked."""

    def caller_waiting(self, caller: Caller) -> None:
        self._waiting[caller.id] = caller

    def caller_unwaiting(self, caller: Caller) -> None:
        del self._waiting[caller.id]

    def _candidates(self, caller: Caller) -> list[Agent]:
        levels = caller.queue.stages[caller.stage].levels
        excluded = caller.excluded
        return [
            a
            for a in self._agents
            if a.available and a.id not in excluded and qualifies(a.skills, levels)
        ]

    def find_agent(self, caller: Caller, rng: random.Random) -> Agent | None:
        queue = caller.queue
        strategy = queue.cfg.strategy
        candidates = self._candidates(caller)
        if not candidates:
            return None
        if strategy is Strategy.ROUND_ROBIN:
            orders = [a.order for a in candidates]
            return candidates[pick_round_robin(orders, queue.rr_cursor)]
        if strategy is Strategy.RANDOM:
            return candidates[rng.randrange(len(candidates))]
        levels = queue.stages[caller.stage].levels
        best: Agent | None = None
        best_key: AgentKey | None = None
        for a in candidates:
            key = agent_key(strategy, a, levels)
            if best_key is None or key < best_key:
                best, best_key = a, key
        return best

    def find_all(self, caller: Caller) -> list[Agent]:
        return self._candidates(caller)

    def find_caller(self, agent: Agent) -> Caller | None:
        best: Caller | None = None
        for caller in self._waiting.values():
            if agent.id in caller.excluded:
                continue
            if not qualifies(agent.skills, caller.queue.stages[caller.stage].levels):
                continue
            if best is None or caller.key < best.key:
                best = caller
        return best

    def staffed(self, queue: QueueState, stage: int) -> int:
        levels = queue.stages[stage].levels
        return sum(
            1
            for a in self._agents
            if a.in_config and a.status is AgentStatus.READY and qualifies(a.skills, levels)
        )
