"""Read-only views of the ACD for the API, the wallboard and the tests.

Views are snapshots (frozen dataclasses); holding one never holds the ACD's
records.  Figures follow the formulas of :mod:`acd.stats`; agent time still
running (an agent talking right now) is counted up to ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.config import AcdConfig
from acd.model import AgentId, AgentState, AgentStatus, CallId, DeviceState, QueueId, SeatId
from acd.reconfig import Lifecycle
from acd.records import Agent, Levels
from acd.states import Phase, public_state
from acd.stats import BUSY, Figures, Tally


@dataclass(frozen=True)
class AgentView:
    """An agent as the wallboard shows it."""

    agent: AgentId
    status: AgentStatus
    state: AgentState
    reason: str
    seat: SeatId | None
    call_id: CallId | None
    calls_today: int
    talk_today_s: float
    misses: int


@dataclass(frozen=True)
class CallView:
    """A call the ACD holds.

    ``levels`` are the minimum skill levels in force at ``stage``;
    ``ringing`` the agents whose legs ring; ``agent`` the agent that answered
    (connecting) or talks (connected); ``excluded`` the agents never to be
    offered this call again.
    """

    call_id: CallId
    queue: QueueId
    phase: Phase
    priority: int
    stage: int
    levels: Levels
    since: float
    queued_at: float
    ringing: tuple[AgentId, ...]
    agent: AgentId | None
    excluded: frozenset[AgentId]


@dataclass(frozen=True)
class QueueView:
    """A queue right now: callers waiting or ringing, the oldest wait, ready agents."""

    queue: QueueId
    waiting: int
    offering: int
    longest_wait_s: float
    staffed: int
    retired: bool


@dataclass(frozen=True)
class Totals:
    """Lifetime counts: ``entered == answered + abandoned + overflowed + waiting + offering``.

    ``entered`` counts every entry into a queue (arrivals, overflows into a
    queue, transfers to a queue); ``offering`` counts calls ringing or
    being bridged; ``connected`` (not in the sum) counts conversations.
    """

    entered: int
    answered: int
    abandoned: int
    overflowed: int
    waiting: int
    offering: int
    connected: int


class Views(Lifecycle):
    """Queries on top of the engine's state."""

    @property
    def config(self) -> AcdConfig:
        return self._cfg

    def agent_view(self, agent: AgentId) -> AgentView | None:
        found = self._agents.get(agent)
        return None if found is None else self._agent_view(found)

    def agent_views(self) -> list[AgentView]:
        agents = sorted(self._agents.values(), key=lambda a: a.order)
        return [self._agent_view(a) for a in agents]

    def _agent_view(self, a: Agent) -> AgentView:
        seat = a.seat
        reachable = True if seat is None else seat.reachable
        device = DeviceState.UNKNOWN if seat is None else seat.device
        return AgentView(
            agent=a.id,
            status=a.status,
            state=public_state(a.status, a.activity, reachable, device),
            reason=a.reason,
            seat=None if seat is None else seat.id,
            call_id=None if a.call is None else a.call.id,
            calls_today=a.calls_today,
            talk_today_s=a.talk_today,
            misses=a.misses,
        )

    def call_view(self, call: CallId) -> CallView | None:
        c = self._calls.get(call)
        if c is None:
            return None
        holder = c.winner if c.winner is not None else c.agent
        return CallView(
            call_id=c.id,
            queue=c.queue.id,
            phase=c.phase,
            priority=c.priority,
            stage=c.stage,
            levels=c.queue.stages[c.stage].levels,
            since=c.since,
            queued_at=c.queued_at,
            ringing=tuple(sorted(c.offers)),
            agent=None if holder is None else holder.id,
            excluded=frozenset(c.excluded),
        )

    def call_views(self) -> list[CallView]:
        views = (self.call_view(cid) for cid in list(self._calls))
        return [v for v in views if v is not None]

    def queue_view(self, queue: QueueId, now: float) -> QueueView | None:
        q = self._queues.get(queue)
        if q is None:
            return None
        waiting = [c for c in q.live.values() if c.phase is Phase.WAITING]
        return QueueView(
            queue=q.id,
            waiting=len(waiting),
            offering=len(q.live) - len(waiting),
            longest_wait_s=max((now - c.queued_at for c in q.live.values()), default=0.0),
            staffed=self._selector.staffed(q, 0),
            retired=q.retired,
        )

    def totals(self) -> Totals:
        counts = {p: 0 for p in Phase}
        for c in self._calls.values():
            counts[c.phase] += 1
        return Totals(
            entered=self._entered,
            answered=self._answered,
            abandoned=self._abandoned,
            overflowed=self._overflowed,
            waiting=counts[Phase.WAITING],
            offering=counts[Phase.OFFERED] + counts[Phase.CONNECTING],
            connected=counts[Phase.CONNECTED],
        )

    def queue_figures(self, queue: QueueId, now: float, window_s: float | None = None) -> Figures:
        """A queue's figures for today (``window_s`` ``None``) or the last ``window_s``."""
        return self._stats.window(self._stats.queue(queue), now, window_s).figures()

    def agent_figures(self, agent: AgentId, now: float, window_s: float | None = None) -> Figures:
        """An agent's figures; occupancy includes the time running up to ``now``."""
        tally = self._stats.window(self._stats.agent(agent), now, window_s)
        found = self._agents.get(agent)
        if found is not None:
            self._add_open_time(tally, [found], now, window_s)
        return tally.figures()

    def centre_figures(self, now: float, window_s: float | None = None) -> Figures:
        """The whole centre's figures (every queue, every agent)."""
        stats = self._stats
        tally = stats.window(stats.centre, now, window_s)
        agents = list(self._agents.values())
        for a in agents:
            busy, available = stats.time_in(a.series, now, window_s)
            tally.busy_s += busy
            tally.available_s += available
        self._add_open_time(tally, agents, now, window_s)
        return tally.figures()

    def chart(
        self, queue: QueueId | None, now: float, count: int = 12
    ) -> list[tuple[float, Figures]]:
        """Per-bucket figures of a queue (or the centre), oldest first, for a wallboard chart.

        The centre's buckets carry the agents' busy and available time (the
        time of the bucket in progress counts up to its last change).
        """
        stats = self._stats
        if queue is not None:
            return [
                (start, t.figures()) for start, t in stats.chart(stats.queue(queue), now, count)
            ]
        buckets = stats.chart(stats.centre, now, count)
        first = int(now // stats.bucket_s) - count + 1  # the index of buckets[0]
        for a in self._agents.values():
            # Summed in place: a copy of every agent's buckets per push was the
            # wallboard's largest cost with hundreds of agents logged in.
            for idx, mine in a.series.buckets.items():
                offset = idx - first
                if 0 <= offset < len(buckets):
                    tally = buckets[offset][1]
                    tally.busy_s += mine.busy_s
                    tally.available_s += mine.available_s
        return [(start, t.figures()) for start, t in buckets]

    def _add_open_time(
        self, tally: Tally, agents: list[Agent], now: float, window_s: float | None
    ) -> None:
        start = None if window_s is None else self._stats.window_start(now, window_s)
        for a in agents:
            if not a.ledger_kind:
                continue
            since = a.ledger_since if start is None else max(a.ledger_since, start)
            if now > since:
                if a.ledger_kind == BUSY:
                    tally.busy_s += now - since
                else:
                    tally.available_s += now - since
