"""The indexed selector: ordered indices instead of scans.

Agents are grouped into **pools**: one per distinct (minimum levels,
strategy) pair among all queue stages.  A pool's members (agents who meet
its levels) are fixed until the configuration changes; its index holds the
members who are available now:

- for key strategies (longest idle, fewest calls, least talk time,
  ordered), a binary heap of ``(key..., version, agent)`` entries with lazy
  deletion: an agent leaving availability costs nothing, its entries go
  stale (``agent.available`` false or ``agent.version`` moved on) and are
  dropped when they reach the top.  An agent's key never changes while it is
  available (the day's counters only move while it is on a call, and
  ``DayRolled`` rebuilds everything), so heap order stays valid.  A heap
  that grows past twice its members is compacted;
- for order strategies (round robin, random, ring-all), a sorted list of
  configuration positions with eager removal (bisect), which answers "next
  after the cursor" and "the k-th" directly.

Waiting callers sit in one heap per (queue, stage) with lazy deletion keyed
by ``Caller.token``, plus a live count per heap so empty ones are skipped
without looking.  An agent who becomes available looks only at the queues
it serves, from the first stage at which it qualifies.

Costs: an agent becoming available pushes one entry per pool it belongs to
(``O(p log n)``); a caller finds its agent with ``O(log n)`` amortised pops;
an agent finds its caller in ``O(sum of stages served)`` peeks.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from heapq import heapify, heappop, heappush
from typing import Any

from acd.model import AgentId, AgentStatus, QueueId, Skill, Strategy
from acd.records import Agent, Caller, Levels, QueueState, qualifies
from acd.selection import AGENT_KEYS, ORDER_STRATEGIES, AgentKey, Selector

Finder = Callable[[Caller, random.Random], Agent | None]
HeapGroup = tuple[Callable[[Agent, Levels], AgentKey], AgentKey | None, list["HeapIndex"]]
Serving = tuple[list[int], list[list["CallerEntry"]], int]

HeapEntry = tuple[Any, ...]  # (*key, version, agent): flat, so comparing entries is cheap
CallerEntry = tuple[int, float, int, int, Caller]


class HeapIndex:
    """Available members of a key-strategy pool, in a heap with lazy deletion.

    Entries are ``(*key, version, agent)``; an entry is live while the agent is
    available and its ``version`` is unchanged.
    """

    __slots__ = ("heap", "key", "levels", "limit")

    def __init__(self, strategy: Strategy, levels: Levels, members: int) -> None:
        self.key = AGENT_KEYS[strategy]
        self.levels = levels
        self.limit = 2 * members + 16
        self.heap: list[HeapEntry] = []

    def add(self, agent: Agent) -> None:
        self.push((*self.key(agent, self.levels), agent.version, agent))

    def push(self, entry: HeapEntry) -> None:
        heap = self.heap
        heappush(heap, entry)
        if len(heap) > self.limit:
            self.heap = [e for e in heap if e[-1].available and e[-1].version == e[-2]]
            heapify(self.heap)

    def discard(self, agent: Agent) -> None:
        """Nothing to do: the entry went stale when ``agent.available`` fell."""

    def find(self, caller: Caller, rng: random.Random) -> Agent | None:
        """The first live entry's agent, skipping agents ``caller`` excludes."""
        heap = self.heap
        excluded = caller.excluded
        while heap:
            entry = heap[0]
            agent: Agent = entry[-1]
            if not agent.available or agent.version != entry[-2]:
                heappop(heap)
            elif excluded and agent.id in excluded:
                return self._find_past(excluded)
            else:
                return agent
        return None

    def _find_past(self, excluded: set[AgentId]) -> Agent | None:
        heap = self.heap
        stash: list[HeapEntry] = []
        found: Agent | None = None
        while heap:
            entry = heap[0]
            agent: Agent = entry[-1]
            if not agent.available or agent.version != entry[-2]:
                heappop(heap)
            elif agent.id in excluded:
                stash.append(heappop(heap))
            else:
                found = agent
                break
        for entry in stash:
            heappush(heap, entry)
        return found

    def all(self, excluded: set[AgentId]) -> list[Agent]:
        live = [e[-1] for e in self.heap if e[-1].available and e[-1].version == e[-2]]
        return sorted((a for a in live if a.id not in excluded), key=lambda a: a.order)


class OrderIndex:
    """Available members of an order-strategy pool, as sorted configuration positions."""

    __slots__ = ("by_order", "orders", "strategy")

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.orders: list[int] = []
        self.by_order: dict[int, Agent] = {}

    def add(self, agent: Agent) -> None:
        if agent.order not in self.by_order:
            insort(self.orders, agent.order)
            self.by_order[agent.order] = agent

    def discard(self, agent: Agent) -> None:
        if self.by_order.pop(agent.order, None) is not None:
            del self.orders[bisect_left(self.orders, agent.order)]

    def candidates(self, excluded: set[AgentId]) -> list[int]:
        if not excluded:
            return self.orders
        by_order = self.by_order
        return [o for o in self.orders if by_order[o].id not in excluded]

    def find(self, caller: Caller, rng: random.Random) -> Agent | None:
        """Round robin: the first after the queue's cursor; random: a uniform pick."""
        orders = self.candidates(caller.excluded)
        if not orders:
            return None
        if self.strategy is Strategy.ROUND_ROBIN:
            i = bisect_left(orders, caller.queue.rr_cursor + 1)
            return self.by_order[orders[i if i < len(orders) else 0]]
        return self.by_order[orders[rng.randrange(len(orders))]]

    def all(self, excluded: set[AgentId]) -> list[Agent]:
        return [self.by_order[o] for o in self.candidates(excluded)]


class Pool:
    """The agents meeting ``levels``, ordered for ``strategy``; ``staffed`` counts the ready."""

    __slots__ = ("index", "levels", "members", "staffed", "strategy")

    def __init__(self, levels: Levels, strategy: Strategy, members: list[Agent]) -> None:
        self.levels = levels
        self.strategy = strategy
        self.members = members
        self.staffed = 0
        self.index: HeapIndex | OrderIndex
        if strategy in ORDER_STRATEGIES:
            self.index = OrderIndex(strategy)
        else:
            self.index = HeapIndex(strategy, levels, len(members))


class IndexedSelector(Selector):
    """The production selector (see the module docstring for the structures)."""

    def __init__(self) -> None:
        self._stage_pools: dict[QueueId, list[Pool]] = {}
        self._finders: dict[QueueId, list[Finder]] = {}
        self._agent_pools: dict[AgentId, list[Pool]] = {}
        self._heap_groups: dict[AgentId, list[HeapGroup]] = {}
        self._eager_pools: dict[AgentId, list[Pool]] = {}
        self._serves: dict[AgentId, list[Serving]] = {}
        self._waiting: dict[QueueId, list[list[CallerEntry]]] = {}
        self._counts: dict[QueueId, list[int]] = {}
        self._total = 0

    def rebuild(self, queues: Iterable[QueueState], agents: Iterable[Agent]) -> None:
        agent_list = [a for a in agents if a.in_config]
        by_skill: dict[Skill, list[Agent]] = {}
        for a in agent_list:
            for skill in a.skills:
                by_skill.setdefault(skill, []).append(a)
        pools: dict[tuple[Levels, Strategy], Pool] = {}
        self._stage_pools = {}
        self._finders = {}
        self._waiting = {}
        self._counts = {}
        self._total = 0
        self._agent_pools = {a.id: [] for a in agent_list}
        self._eager_pools = {a.id: [] for a in agent_list}
        self._serves = {a.id: [] for a in agent_list}
        for q in queues:
            stage_pools: list[Pool] = []
            first_stage: dict[AgentId, int] = {}
            for s, stage in enumerate(q.stages):
                key = (stage.levels, q.cfg.strategy)
                pool = pools.get(key)
                if pool is None:
                    pool = Pool(
                        stage.levels, q.cfg.strategy, _members(stage.levels, agent_list, by_skill)
                    )
                    pools[key] = pool
                    for a in pool.members:
                        self._agent_pools[a.id].append(pool)
                        if isinstance(pool.index, OrderIndex):
                            self._eager_pools[a.id].append(pool)
                        if a.status is AgentStatus.READY:
                            pool.staffed += 1
                for a in pool.members:
                    first_stage.setdefault(a.id, s)
                stage_pools.append(pool)
            self._stage_pools[q.id] = stage_pools
            self._finders[q.id] = [pool.index.find for pool in stage_pools]
            waiting: list[list[CallerEntry]] = [[] for _ in q.stages]
            counts = [0 for _ in q.stages] + [0]  # per stage, then the queue's total
            self._waiting[q.id] = waiting
            self._counts[q.id] = counts
            for agent_id, s in first_stage.items():
                self._serves[agent_id].append((counts, waiting, s))
        self._heap_groups = {a.id: _heap_groups(a, self._agent_pools[a.id]) for a in agent_list}

    def agent_available(self, agent: Agent) -> None:
        for key, static, indexes in self._heap_groups.get(agent.id, ()):
            entry = (*(static or key(agent, ())), agent.version, agent)
            for index in indexes:
                index.push(entry)
        for pool in self._eager_pools.get(agent.id, ()):
            pool.index.add(agent)

    def agent_unavailable(self, agent: Agent) -> None:
        for pool in self._eager_pools.get(agent.id, ()):
            pool.index.discard(agent)

    def staffing_changed(self, agent: Agent, delta: int) -> None:
        for pool in self._agent_pools.get(agent.id, ()):
            pool.staffed += delta

    def caller_waiting(self, caller: Caller) -> None:
        caller.token += 1
        qid = caller.queue.id
        entry = (-caller.priority, caller.since, caller.seq, caller.token, caller)
        heappush(self._waiting[qid][caller.stage], entry)
        counts = self._counts[qid]
        counts[caller.stage] += 1
        counts[-1] += 1
        self._total += 1

    def caller_unwaiting(self, caller: Caller) -> None:
        caller.token += 1
        counts = self._counts[caller.queue.id]
        counts[caller.stage] -= 1
        counts[-1] -= 1
        self._total -= 1

    def find_agent(self, caller: Caller, rng: random.Random) -> Agent | None:
        return self._finders[caller.queue.id][caller.stage](caller, rng)

    def find_all(self, caller: Caller) -> list[Agent]:
        return self._stage_pools[caller.queue.id][caller.stage].index.all(caller.excluded)

    def find_caller(self, agent: Agent) -> Caller | None:
        if not self._total:
            return None
        best: CallerEntry | None = None
        aid = agent.id
        for counts, heaps, first in self._serves.get(aid, ()):
            if not counts[-1]:
                continue
            for s in range(first, len(heaps)):
                if counts[s]:
                    entry = _peek_caller(heaps[s], aid)
                    if entry is not None and (best is None or entry < best):
                        best = entry
        return None if best is None else best[4]

    def staffed(self, queue: QueueState, stage: int) -> int:
        return self._stage_pools[queue.id][stage].staffed


def _peek_caller(heap: list[CallerEntry], agent: AgentId) -> CallerEntry | None:
    """The first live entry whose caller does not exclude ``agent`` (left in place)."""
    stash: list[CallerEntry] | None = None
    found: CallerEntry | None = None
    while heap:
        entry = heap[0]
        caller = entry[4]
        if caller.token != entry[3]:
            heappop(heap)
        elif agent in caller.excluded:
            if stash is None:
                stash = []
            stash.append(heappop(heap))
        else:
            found = entry
            break
    if stash:
        for entry in stash:
            heappush(heap, entry)
    return found


def _heap_groups(agent: Agent, pools: list[Pool]) -> list[HeapGroup]:
    """The agent's heap pools, grouped so that each key is computed once per availability.

    Keys of every strategy but ``ordered`` ignore the levels, so all heaps of
    one strategy share a key, computed when the agent becomes available.  An
    ``ordered`` key depends only on the configuration: it is computed here,
    once (``static``), for each distinct set of levels.
    """
    groups: dict[object, HeapGroup] = {}
    for pool in pools:
        index = pool.index
        if isinstance(index, HeapIndex):
            if pool.strategy is Strategy.ORDERED:
                ident: object = pool.levels
                static: AgentKey | None = index.key(agent, pool.levels)
            else:
                ident, static = pool.strategy, None
            group = groups.get(ident)
            if group is None:
                group = groups[ident] = (index.key, static, [])
            group[2].append(index)
    return list(groups.values())


def _members(
    levels: Levels, agents: list[Agent], by_skill: dict[Skill, list[Agent]]
) -> list[Agent]:
    if not levels:
        return list(agents)
    rarest = min((by_skill.get(skill, []) for skill, _ in levels), key=len)
    chosen = {a.id for a in rarest if qualifies(a.skills, levels)}
    return [a for a in agents if a.id in chosen]
