"""Matching agents and callers: the contract every selector keeps.

The engine decides *when* to match; a :class:`Selector` decides *who*.  Two
implementations keep the same contract and must make identical choices:

- :class:`acd.index.IndexedSelector`: per-pool ordered indices of available
  agents and per-(queue, stage) priority queues of waiting callers, so a
  decision touches only the pools and queues concerned;
- :class:`acd.scan.ScanSelector`: a linear scan over all agents and all
  waiting callers, kept as the reference (and the benchmark's baseline).

The choice, for a caller ``c`` in queue ``q`` at stage ``s``:

- the candidates are the *available* agents (``Agent.available``) who meet
  ``q.stages[s].levels`` and are not in ``c.excluded``;
- the winner is the first by :func:`agent_key` for ``q``'s strategy; for
  ``round_robin`` the first in configuration order after ``q.rr_cursor``,
  wrapping; for ``random`` the ``k``-th in configuration order with
  ``k = rng.randrange(n)`` over the ``n`` candidates; ``ring_all`` takes all
  of them, in configuration order.

The choice, for an agent ``a`` who just became available: among the waiting
callers ``c`` such that ``a`` meets ``c.queue.stages[c.stage].levels`` and
``a.id`` is not in ``c.excluded``, the first by ``Caller.key`` (highest
priority, then longest waiting, then arrival order).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

from acd.model import Strategy
from acd.records import Agent, Caller, Levels, QueueState

AgentKey = tuple[float, ...]


def _longest_idle(agent: Agent, levels: Levels) -> AgentKey:
    return (agent.idle_since, agent.order)


def _fewest_calls(agent: Agent, levels: Levels) -> AgentKey:
    return (agent.calls_today, agent.idle_since, agent.order)


def _least_talk_time(agent: Agent, levels: Levels) -> AgentKey:
    return (agent.talk_today, agent.idle_since, agent.order)


def _ordered(agent: Agent, levels: Levels) -> AgentKey:
    skills = agent.skills
    return (-sum(skills.get(skill, 0) for skill, _ in levels), agent.order)


def _by_order(agent: Agent, levels: Levels) -> AgentKey:
    return (agent.order,)


#: The sort key of an agent under each strategy, given the levels of the
#: pool or stage: smaller is offered first.  ``order`` (configuration
#: position) ends every key, so keys never tie.
AGENT_KEYS: dict[Strategy, Callable[[Agent, Levels], AgentKey]] = {
    Strategy.LONGEST_IDLE: _longest_idle,
    Strategy.FEWEST_CALLS: _fewest_calls,
    Strategy.LEAST_TALK_TIME: _least_talk_time,
    Strategy.ORDERED: _ordered,
    Strategy.ROUND_ROBIN: _by_order,
    Strategy.RANDOM: _by_order,
    Strategy.RING_ALL: _by_order,
}


def agent_key(strategy: Strategy, agent: Agent, levels: Levels) -> AgentKey:
    """The sort key of ``agent`` under ``strategy`` (see :data:`AGENT_KEYS`)."""
    return AGENT_KEYS[strategy](agent, levels)


#: Strategies whose candidates are kept in configuration order (no key).
ORDER_STRATEGIES = frozenset({Strategy.ROUND_ROBIN, Strategy.RANDOM, Strategy.RING_ALL})


class Selector(ABC):
    """Finds the agent for a caller and the caller for an agent.

    The engine tells the selector every change it relies on: an agent
    becoming available or not, a caller entering or leaving the waiting set
    (always before changing the caller's queue or stage), an agent's
    staffing (ready or not) and any configuration change (``rebuild``).
    ``find_*`` never change availability or waiting: the engine does, by the
    calls above, once it has acted on the choice.
    """

    @abstractmethod
    def rebuild(self, queues: Iterable[QueueState], agents: Iterable[Agent]) -> None:
        """Start over for a new configuration or day: nothing available, nobody waiting."""

    @abstractmethod
    def agent_available(self, agent: Agent) -> None:
        """``agent.available`` has just become true."""

    @abstractmethod
    def agent_unavailable(self, agent: Agent) -> None:
        """``agent.available`` has just become false."""

    @abstractmethod
    def staffing_changed(self, agent: Agent, delta: int) -> None:
        """``agent`` became ready (+1) or stopped being ready (-1)."""

    @abstractmethod
    def caller_waiting(self, caller: Caller) -> None:
        """``caller`` now waits in ``caller.queue`` at ``caller.stage``."""

    @abstractmethod
    def caller_unwaiting(self, caller: Caller) -> None:
        """``caller`` no longer waits (offered, gone, or about to change queue or stage)."""

    @abstractmethod
    def find_agent(self, caller: Caller, rng: random.Random) -> Agent | None:
        """The agent to offer ``caller`` to (not for ``ring_all``), or ``None``."""

    @abstractmethod
    def find_all(self, caller: Caller) -> list[Agent]:
        """Every candidate for ``caller``, in configuration order (for ``ring_all``)."""

    @abstractmethod
    def find_caller(self, agent: Agent) -> Caller | None:
        """The waiting caller to offer to ``agent``, or ``None``."""

    @abstractmethod
    def staffed(self, queue: QueueState, stage: int) -> int:
        """How many ready agents meet ``queue``'s levels at ``stage`` (busy or not)."""


def pick_round_robin(orders: list[int], cursor: int) -> int:
    """Index in sorted ``orders`` of the first order after ``cursor``, wrapping."""
    for i, order in enumerate(orders):
        if order > cursor:
            return i
    return 0
