"""The ACD's configuration: plain frozen dataclasses, checked on construction.

The engine maps the administrator's YAML into these.  ``AcdConfig`` checks
the whole graph in ``__post_init__`` and raises :class:`~acd.errors.ConfigError`
naming the first offending item, so an ``Acd`` never holds a configuration
that does not hold together.  A new configuration is applied live with the
``ConfigChanged`` event.

Times are seconds (floats); skill levels are integers 1..10, higher is
better.  A queue's requirement is met by an agent whose level in every
required skill is at least the requirement's current minimum; the minimum
starts at ``min_level`` and drops along ``relax`` as the caller waits (the
skills form of app_queue's penalty rules and mod_callcenter's tiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.errors import ConfigError
from acd.model import (
    MAX_LEVEL,
    MIN_LEVEL,
    AgentId,
    OverflowAction,
    QueueId,
    Skill,
    Strategy,
)


@dataclass(frozen=True)
class RelaxStep:
    """After the caller has waited ``after_s`` seconds, accept ``min_level``."""

    after_s: float
    min_level: int


@dataclass(frozen=True)
class SkillRequirement:
    """One skill a queue requires, with its minimum level and relaxation steps.

    ``relax`` is ordered by ``after_s`` (strictly increasing) and its levels
    never rise: a waiting caller's set of acceptable agents only grows.
    """

    skill: Skill
    min_level: int = MIN_LEVEL
    relax: tuple[RelaxStep, ...] = ()


@dataclass(frozen=True)
class OverflowRule:
    """The action for callers a queue cannot keep.

    ``target`` is the queue id for ``queue``, the mailbox for ``voicemail``
    and the prompt name for ``prompt_hangup`` and ``callback`` (the shell
    plays it before releasing the caller).
    """

    action: OverflowAction = OverflowAction.CALLBACK
    target: str = ""


@dataclass(frozen=True)
class PriorityRules:
    """How a caller's priority class is decided on arrival; higher is served first.

    The class is the highest level among the rules that apply, 0 when none
    does:

    - ``repeat``: the caller's number arrived at this ACD within the last
      ``repeat_window_s`` seconds (a repeat caller within 24 h), or the
      arrival carries the tag ``repeat`` (the shell may know from the
      database after a restart);
    - ``tags``: a tag on the arrival (``callback``: a scheduled callback);
    - ``numbers``: the caller's number is configured.

    Within a class, callers are served first in, first out.
    """

    repeat: int = 1
    repeat_window_s: float = 86_400.0
    tags: Mapping[str, int] = field(default_factory=lambda: {"callback": 2})
    numbers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueConfig:
    """One queue: who may answer it, how they are chosen, what happens on overload.

    - ``ring_timeout_s``: how long an offered agent's phone rings before the
      ACD offers the next agent (ring-no-answer, RONA);
    - ``wrapup_s``: the wrap-up after a call from this queue, unless the
      agent's own ``wrapup_s`` overrides it;
    - ``max_length``: callers waiting or being offered; an arrival beyond it
      overflows (``full``).  ``None``: unlimited;
    - ``max_wait_s``: seconds in this queue before overflowing (``max_wait``).
      A caller whose agent is ringing at that moment overflows only if that
      offer fails;
    - ``announce_interval_s``: position and expected wait every so often;
    - ``rona_max_misses``: consecutive ring-no-answers after which the agent
      is paused with ``rona_pause_reason`` (0: never);
    - ``short_abandon_s``: abandons before this many seconds are also counted
      as short abandons;
    - ``service_level_s``: the threshold of "answered within" (15 s by
      GB/T 33358);
    - ``default_handle_s``: the handle time assumed for expected-wait
      announcements until the queue has handled calls.
    """

    id: QueueId
    name: str = ""
    skills: tuple[SkillRequirement, ...] = ()
    strategy: Strategy = Strategy.LONGEST_IDLE
    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0
    max_length: int | None = None
    max_wait_s: float | None = None
    overflow: OverflowRule = field(default_factory=OverflowRule)
    announce_interval_s: float | None = None
    priority: PriorityRules = field(default_factory=PriorityRules)
    rona_max_misses: int = 3
    rona_pause_reason: str = "rona"
    short_abandon_s: float = 5.0
    service_level_s: float = 15.0
    default_handle_s: float = 180.0


@dataclass(frozen=True)
class AgentConfig:
    """One agent: skills with levels, and an optional wrap-up that overrides the queue's."""

    id: AgentId
    name: str = ""
    skills: Mapping[Skill, int] = field(default_factory=dict)
    wrapup_s: float | None = None


@dataclass(frozen=True)
class PauseReason:
    """A pause reason agents may choose (小休, 就餐, 培训, 会议, 后处理 ...)."""

    code: str
    label: str = ""


@dataclass(frozen=True)
class AcdConfig:
    """The whole ACD configuration.

    ``bucket_s`` and ``buckets`` shape the sliding statistics: ``buckets``
    buckets of ``bucket_s`` seconds are kept (default: one hour in five-minute
    buckets).  ``random_seed`` seeds the ``random`` strategy.
    """

    queues: tuple[QueueConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    pause_reasons: tuple[PauseReason, ...] = (PauseReason("rona", "未接"),)
    random_seed: int = 0
    bucket_s: float = 300.0
    buckets: int = 12

    def __post_init__(self) -> None:
        _check(self)

    def queue(self, queue: QueueId) -> QueueConfig | None:
        """The queue with this id, or ``None``."""
        for q in self.queues:
            if q.id == queue:
                return q
        return None


def _check(cfg: AcdConfig) -> None:
    if cfg.bucket_s <= 0:
        raise ConfigError("bucket_s", "must be positive")
    if cfg.buckets < 1:
        raise ConfigError("buckets", "must be at least 1")
    reasons = [r.code for r in cfg.pause_reasons]
    for i, code in enumerate(reasons):
        if not code:
            raise ConfigError(f"pause_reasons[{i}].code", "must not be empty")
        if code in reasons[:i]:
            raise ConfigError(f"pause_reasons[{i}].code", f"duplicate {code!r}")
    ids: set[str] = set()
    for i, q in enumerate(cfg.queues):
        if not q.id:
            raise ConfigError(f"queues[{i}].id", "must not be empty")
        if q.id in ids:
            raise ConfigError(f"queues[{i}].id", f"duplicate {q.id!r}")
        ids.add(q.id)
        _check_queue(f"queues[{i}]", q, set(reasons))
    for i, q in enumerate(cfg.queues):
        bad_target = q.overflow.target not in ids or q.overflow.target == q.id
        if q.overflow.action is OverflowAction.QUEUE and bad_target:
            raise ConfigError(
                f"queues[{i}].overflow.target", f"{q.overflow.target!r} is not another queue"
            )
    _check_overflow_cycles(cfg)
    agent_ids: set[str] = set()
    for i, a in enumerate(cfg.agents):
        if not a.id:
            raise ConfigError(f"agents[{i}].id", "must not be empty")
        if a.id in agent_ids:
            raise ConfigError(f"agents[{i}].id", f"duplicate {a.id!r}")
        agent_ids.add(a.id)
        for skill, level in a.skills.items():
            if not MIN_LEVEL <= level <= MAX_LEVEL:
                raise ConfigError(f"agents[{i}].skills.{skill}", f"level {level} not in 1..10")
        if a.wrapup_s is not None and a.wrapup_s < 0:
            raise ConfigError(f"agents[{i}].wrapup_s", "must not be negative")


def _check_queue(where: str, q: QueueConfig, reasons: set[str]) -> None:
    positive = {
        "ring_timeout_s": q.ring_timeout_s,
        "service_level_s": q.service_level_s,
        "default_handle_s": q.default_handle_s,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{where}.{name}", "must be positive")
    optional = {"max_wait_s": q.max_wait_s, "announce_interval_s": q.announce_interval_s}
    for name, opt in optional.items():
        if opt is not None and opt <= 0:
            raise ConfigError(f"{where}.{name}", "must be positive or absent")
    if q.max_length is not None and q.max_length < 1:
        raise ConfigError(f"{where}.max_length", "must be at least 1 or absent")
    if q.wrapup_s < 0 or q.short_abandon_s < 0:
        raise ConfigError(where, "wrapup_s and short_abandon_s must not be negative")
    if q.rona_max_misses < 0:
        raise ConfigError(f"{where}.rona_max_misses", "must not be negative")
    if q.rona_max_misses and q.rona_pause_reason not in reasons:
        raise ConfigError(
            f"{where}.rona_pause_reason", f"{q.rona_pause_reason!r} is not a pause reason"
        )
    if q.priority.repeat_window_s < 0:
        raise ConfigError(f"{where}.priority.repeat_window_s", "must not be negative")
    seen: set[str] = set()
    for j, req in enumerate(q.skills):
        at = f"{where}.skills[{j}]"
        if req.skill in seen:
            raise ConfigError(at, f"skill {req.skill!r} required twice")
        seen.add(req.skill)
        if not MIN_LEVEL <= req.min_level <= MAX_LEVEL:
            raise ConfigError(f"{at}.min_level", f"{req.min_level} not in 1..10")
        last_after, last_level = 0.0, req.min_level
        for k, step in enumerate(req.relax):
            if step.after_s <= last_after:
                raise ConfigError(f"{at}.relax[{k}].after_s", "must increase and be positive")
            if not MIN_LEVEL <= step.min_level <= last_level:
                raise ConfigError(f"{at}.relax[{k}].min_level", "must not rise and be in 1..10")
            last_after, last_level = step.after_s, step.min_level


def _check_overflow_cycles(cfg: AcdConfig) -> None:
    nxt: dict[str, str] = {
        q.id: q.overflow.target for q in cfg.queues if q.overflow.action is OverflowAction.QUEUE
    }
    for start in nxt:
        seen = {start}
        cur = nxt.get(start)
        while cur is not None:
            if cur in seen:
                raise ConfigError(f"queue {start}", "overflow to queues forms a cycle")
            seen.add(cur)
            cur = nxt.get(cur)
