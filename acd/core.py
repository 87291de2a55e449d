"""The ACD's state and bookkeeping: records, timers, published states, time ledgers.

``Core`` owns the records (seats, agents, callers, queues), the selector,
the statistics and the lifetime counters.  It knows nothing of matching
(that is :mod:`acd.matching`); it offers the bookkeeping every move needs:

- **timers**: each record remembers the ``at`` of its running timer (an
  agent's ring and wrap-up, a caller's next step); ``TimerFired`` is
  honoured only if its ``at`` is still the armed one;
- **published state**: ``AgentStateChanged`` is emitted whenever an agent's
  (status, state, reason, seat) differs from what was last published;
- **time ledgers**: each agent accrues busy or available time (see
  :mod:`acd.stats`) between changes of its ledger kind.

Hot paths use module-level aliases of enum members: looking a member up on
its class is several times slower than reading a global.
"""

from __future__ import annotations

import random

from acd.commands import AgentStateChanged, CancelTimer, Command, StartTimer
from acd.config import AcdConfig, AgentConfig, QueueConfig
from acd.model import (
    AgentId,
    AgentState,
    AgentStatus,
    CallId,
    DeviceState,
    QueueId,
    SeatId,
    TimerKey,
    TimerKind,
)
from acd.records import Agent, Caller, QueueState, Seat
from acd.selection import Selector
from acd.states import Activity, public_state
from acd.stats import StatsBook

Out = list[Command]

READY = AgentStatus.READY
PAUSED = AgentStatus.PAUSED
LOGGED_OUT = AgentStatus.LOGGED_OUT
IDLE = Activity.IDLE
OFFERED = Activity.OFFERED
CONNECTING = Activity.CONNECTING
TALKING = Activity.TALKING
WRAPUP = Activity.WRAPUP
_UNKNOWN_DEVICE = DeviceState.UNKNOWN
#: The public state while the agent holds an ACD call: it wins over every other fact.
_BUSY_STATES = {
    OFFERED: AgentState.RINGING,
    CONNECTING: AgentState.ON_CALL,
    TALKING: AgentState.ON_CALL,
    WRAPUP: AgentState.WRAPUP,
}


class Core:
    """State and bookkeeping of the ACD (see the module docstring)."""

    def __init__(self, config: AcdConfig, selector: Selector) -> None:
        self._cfg = config
        self._selector = selector
        self._rng = random.Random(config.random_seed)
        self._queues: dict[QueueId, QueueState] = {}
        self._agents: dict[AgentId, Agent] = {}
        self._seats: dict[SeatId, Seat] = {}
        self._calls: dict[CallId, Caller] = {}
        self._seen: dict[str, float] = {}
        self._seen_sweep_at = 0.0
        self._seen_window = 0.0
        self._pause_codes: frozenset[str] = frozenset()
        self._seq = 0
        self._stats = StatsBook(config.bucket_s, config.buckets)
        self._centre = self._stats.centre
        self._entered = 0
        self._answered = 0
        self._abandoned = 0
        self._overflowed = 0

    # ----------------------------------------------------------- records

    def _new_agent(self, cfg: AgentConfig, order: int) -> Agent:
        agent = Agent(cfg, order, self._stats.agent(cfg.id))
        self._agents[cfg.id] = agent
        return agent

    def _new_queue(self, cfg: QueueConfig) -> QueueState:
        queue = QueueState(cfg, self._stats.queue(cfg.id))
        self._queues[cfg.id] = queue
        return queue

    def _seat(self, seat: SeatId) -> Seat:
        found = self._seats.get(seat)
        if found is None:
            found = self._seats[seat] = Seat(seat)
        return found

    # ----------------------------------------------------------- timers

    def _arm_ring(self, agent: Agent, at: float, out: Out) -> None:
        key = agent.ring_key
        if key is None:
            key = agent.ring_key = TimerKey(TimerKind.RING, agent.id)
        agent.ring_at = at
        out.append(StartTimer(key, at))

    def _disarm_ring(self, agent: Agent, out: Out) -> None:
        if agent.ring_at is not None:
            agent.ring_at = None
            assert agent.ring_key is not None
            out.append(CancelTimer(agent.ring_key))

    def _arm_wrapup(self, agent: Agent, at: float, out: Out) -> None:
        key = agent.wrapup_key
        if key is None:
            key = agent.wrapup_key = TimerKey(TimerKind.WRAPUP, agent.id)
        agent.wrapup_at = at
        out.append(StartTimer(key, at))

    def _disarm_wrapup(self, agent: Agent, out: Out) -> None:
        if agent.wrapup_at is not None:
            agent.wrapup_at = None
            assert agent.wrapup_key is not None
            out.append(CancelTimer(agent.wrapup_key))

    def _arm_caller_at(self, caller: Caller, at: float | None, out: Out) -> None:
        """Run the caller's timer to ``at`` (``None``: stop it)."""
        if at is None:
            if caller.timer_at is not None:
                caller.timer_at = None
                assert caller.timer_key is not None
                out.append(CancelTimer(caller.timer_key))
            return
        if caller.timer_at != at:
            key = caller.timer_key
            if key is None:
                key = caller.timer_key = TimerKey(TimerKind.CALLER, caller.id)
            caller.timer_at = at
            out.append(StartTimer(key, at))

    # ----------------------------------------------------------- agents

    def _publish(self, agent: Agent, out: Out) -> None:
        """Emit ``AgentStateChanged`` if what the wallboard shows has changed."""
        seat = agent.seat
        status = agent.status
        state = _BUSY_STATES.get(agent.activity)
        if seat is None:
            if state is None:
                state = public_state(status, agent.activity, True, _UNKNOWN_DEVICE)
            seat_id = None
        else:
            if state is None:
                state = public_state(status, agent.activity, seat.reachable, seat.device)
            seat_id = seat.id
        view = (status, state, agent.reason, seat_id)
        if view != agent.published:
            agent.published = view
            out.append(AgentStateChanged(agent.id, status, state, agent.reason, seat_id))

    def _close_ledger(self, agent: Agent, now: float) -> None:
        kind = agent.ledger_kind
        if kind:
            self._stats.add_time(agent.series, kind, agent.ledger_since, now)
        agent.ledger_since = now

    def _set_status(self, agent: Agent, status: AgentStatus, reason: str) -> None:
        """Change the status and keep the selector's staffing counts right."""
        was_ready = agent.status is READY
        agent.set_status(status, reason)
        is_ready = status is READY
        if was_ready != is_ready:
            self._selector.staffing_changed(agent, 1 if is_ready else -1)
