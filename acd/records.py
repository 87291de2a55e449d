"""The ACD's mutable records: seats, agents, callers and queues.

These are plain slotted classes owned by one ``Acd``; nothing outside the
package holds them.  Every change of an agent's activity or status, or of a
caller's phase, goes through ``move`` / ``set_status``, which consult the
tables in :mod:`acd.states`.

A queue's requirement is compiled into **stages**: stage 0 holds the base
minimum levels, and each later stage starts when any requirement relaxes.
A caller's stage only grows, and so does the set of agents who qualify for
it (levels never rise along ``relax``).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass

from acd.config import AgentConfig, QueueConfig
from acd.errors import IllegalTransition
from acd.model import AgentId, AgentStatus, CallId, DeviceState, QueueId, SeatId, Skill, TimerKey
from acd.states import (
    ACTIVITY_MOVES,
    OFFERABLE_DEVICES,
    PHASE_MOVES,
    STATUS_MOVES,
    Activity,
    Phase,
)
from acd.stats import Series

CallerKey = tuple[int, float, int]

Levels = tuple[tuple[Skill, int], ...]


@dataclass(frozen=True, slots=True)
class Stage:
    """From ``after_s`` seconds of waiting on, agents need ``levels``."""

    after_s: float
    levels: Levels


def compile_stages(cfg: QueueConfig) -> tuple[Stage, ...]:
    """The stages of a queue's requirement, in order; stage 0 starts at 0 s.

    Consecutive moments with the same minimum levels are one stage.
    """
    moments = sorted({step.after_s for req in cfg.skills for step in req.relax})
    stages = [Stage(0.0, _levels_at(cfg, 0.0))]
    for t in moments:
        levels = _levels_at(cfg, t)
        if levels != stages[-1].levels:
            stages.append(Stage(t, levels))
    return tuple(stages)


def _levels_at(cfg: QueueConfig, waited: float) -> Levels:
    out: list[tuple[Skill, int]] = []
    for req in cfg.skills:
        level = req.min_level
        for step in req.relax:
            if step.after_s <= waited:
                level = step.min_level
        out.append((req.skill, level))
    return tuple(sorted(out))


def qualifies(skills: Mapping[Skill, int], levels: Levels) -> bool:
    """True if an agent with ``skills`` meets every minimum in ``levels``."""
    return all(skills.get(skill, 0) >= minimum for skill, minimum in levels)


def stage_due(stages: tuple[Stage, ...], since: float, now: float) -> int:
    """The stage in force at ``now`` for a caller waiting since ``since``.

    Written as ``since + after_s <= now``, the same sum the caller's timer is
    armed with, so a timer firing at its ``at`` always finds its stage due.
    """
    idx = 0
    for i, st in enumerate(stages):
        if since + st.after_s <= now:
            idx = i
    return idx


class Seat:
    """A phone agents log in at, with what AMI last said about it."""

    __slots__ = ("agent", "device", "id", "reachable")

    def __init__(self, seat: SeatId) -> None:
        self.id = seat
        self.device = DeviceState.UNKNOWN
        self.reachable = True
        self.agent: Agent | None = None

    def __repr__(self) -> str:
        return f"<Seat {self.id} {self.device.value} reachable={self.reachable}>"


_READY = AgentStatus.READY
_IDLE = Activity.IDLE


class Agent:
    """One agent: the configuration, the chosen status and the computed activity.

    ``available`` is true exactly when the agent may be offered a call now
    (ready, idle, seat reachable and not in use); ``version`` grows each time
    the agent becomes available, so index entries of an earlier availability
    are recognisably stale.
    """

    __slots__ = (
        "activity",
        "available",
        "call",
        "calls_today",
        "cfg",
        "handle_queue",
        "id",
        "idle_since",
        "in_config",
        "ledger_kind",
        "ledger_since",
        "misses",
        "order",
        "published",
        "reason",
        "ring_at",
        "ring_key",
        "seat",
        "series",
        "skills",
        "status",
        "talk_s",
        "talk_started",
        "talk_today",
        "version",
        "wrapup_at",
        "wrapup_key",
        "wrapup_started",
    )

    def __init__(self, cfg: AgentConfig, order: int, series: Series) -> None:
        self.id: AgentId = cfg.id
        self.cfg = cfg
        self.skills: Mapping[Skill, int] = cfg.skills
        self.order = order
        self.in_config = True
        self.status = AgentStatus.LOGGED_OUT
        self.reason = ""
        self.activity = Activity.IDLE
        self.seat: Seat | None = None
        self.call: Caller | None = None
        self.idle_since = 0.0
        self.calls_today = 0
        self.talk_today = 0.0
        self.misses = 0
        self.available = False
        self.version = 0
        self.published: tuple[object, ...] | None = None
        self.ledger_kind = 0
        self.ledger_since = 0.0
        self.talk_started = 0.0
        self.talk_s = 0.0
        self.wrapup_started = 0.0
        self.handle_queue: QueueState | None = None
        self.series = series
        self.ring_at: float | None = None
        self.wrapup_at: float | None = None
        self.ring_key: TimerKey | None = None
        self.wrapup_key: TimerKey | None = None

    def move(self, dst: Activity) -> None:
        """Change the activity, as :data:`ACTIVITY_MOVES` allows."""
        if dst not in ACTIVITY_MOVES[self.activity]:
            raise IllegalTransition("agent activity", self.id, self.activity, dst)
        self.activity = dst

    def set_status(self, dst: AgentStatus, reason: str = "") -> None:
        """Change the status, as :data:`STATUS_MOVES` allows."""
        if dst not in STATUS_MOVES[self.status]:
            raise IllegalTransition("agent status", self.id, self.status, dst)
        self.status = dst
        self.reason = reason

    def should_be_available(self) -> bool:
        """Ready, idle, in the configuration, at a seat that can ring."""
        seat = self.seat
        return (
            self.status is _READY
            and self.activity is _IDLE
            and seat is not None
            and seat.reachable
            and seat.device in OFFERABLE_DEVICES
            and self.in_config
        )

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.status.value}/{self.activity.value}>"


class Caller:
    """One call in the ACD, from arrival until it leaves.

    ``since`` is when the caller started waiting, counting time carried over
    (transfers, ``waited_so_far_s``): it orders callers (FIFO within a
    priority class) and drives relaxation.  ``queued_at`` is when the caller
    entered the current queue: it drives that queue's maximum wait,
    announcements and wait statistics.
    """

    __slots__ = (
        "agent",
        "answered_at",
        "connected_at",
        "excluded",
        "id",
        "key",
        "next_announce",
        "number",
        "offers",
        "overdue",
        "phase",
        "priority",
        "queue",
        "queued_at",
        "seq",
        "since",
        "stage",
        "tags",
        "timer_at",
        "timer_key",
        "token",
        "winner",
    )

    def __init__(
        self,
        call_id: CallId,
        queue: QueueState,
        number: str,
        tags: frozenset[str],
        priority: int,
        since: float,
        queued_at: float,
        seq: int,
    ) -> None:
        self.id = call_id
        self.queue = queue
        self.number = number
        self.tags = tags
        self.priority = priority
        self.since = since
        self.queued_at = queued_at
        self.seq = seq
        self.phase = Phase.WAITING
        self.stage = 0
        self.offers: dict[AgentId, Agent] = {}
        self.winner: Agent | None = None
        self.agent: Agent | None = None
        self.excluded: set[AgentId] = set()
        self.token = 0
        self.overdue = False
        self.next_announce: float | None = None
        self.answered_at = 0.0
        self.connected_at = 0.0
        self.timer_at: float | None = None
        self.timer_key: TimerKey | None = None
        #: Service order: higher priority first, then earlier ``since``, then arrival.
        self.key: CallerKey = (-priority, since, seq)

    def move(self, dst: Phase) -> None:
        """Change the phase, as :data:`PHASE_MOVES` allows."""
        if dst not in PHASE_MOVES[self.phase]:
            raise IllegalTransition("caller phase", self.id, self.phase, dst)
        self.phase = dst

    def set_priority(self, priority: int) -> None:
        self.priority = priority
        self.key = (-priority, self.since, self.seq)

    def __repr__(self) -> str:
        return f"<Caller {self.id} {self.queue.id} {self.phase.value} stage={self.stage}>"


class QueueState:
    """A queue's live side: its configuration, stages, callers and round-robin memory.

    ``live`` holds the callers waiting or being offered (the queue's length);
    connected callers have left it.  ``order`` holds their keys, sorted: a
    caller's position is where its key sorts.  A queue removed by a
    configuration change is ``retired``: it accepts no arrivals and
    disappears once no call refers to it.
    """

    __slots__ = ("cfg", "id", "live", "order", "retired", "rr_cursor", "series", "stages")

    def __init__(self, cfg: QueueConfig, series: Series) -> None:
        self.id: QueueId = cfg.id
        self.cfg = cfg
        self.stages = compile_stages(cfg)
        self.live: dict[CallId, Caller] = {}
        self.order: list[CallerKey] = []
        self.rr_cursor = -1
        self.retired = False
        self.series = series

    def add(self, caller: Caller) -> None:
        self.live[caller.id] = caller
        insort(self.order, caller.key)

    def discard(self, caller: Caller) -> None:
        if self.live.pop(caller.id, None) is not None:
            del self.order[bisect_left(self.order, caller.key)]

    def position(self, caller: Caller) -> int:
        """1 + the callers in the queue served before ``caller``."""
        return bisect_left(self.order, caller.key) + 1

    def reconfigure(self, cfg: QueueConfig) -> None:
        self.cfg = cfg
        self.stages = compile_stages(cfg)
        self.retired = False

    def __repr__(self) -> str:
        return f"<Queue {self.id} live={len(self.live)}>"
