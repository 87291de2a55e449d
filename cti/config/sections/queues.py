"""``queues.yaml``: the general desk (综合) and the specialist desks (专席/专区).

A queue names the skills an agent needs, each with a minimum level that can
relax as the caller waits (``relax``: after N seconds of waiting the minimum
drops to a lower level), how agents are chosen (``strategy``), how long an
agent's phone rings, wrap-up, limits and what happens when they are reached
(``overflow``), announcements, priority classes and ring-no-answer handling.
These are the administrator's words; the engine maps them onto the ACD's own
configuration.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from cti.config.types import (
    Digits,
    FrozenMap,
    Ident,
    Int,
    Level,
    PositiveSeconds,
    Priority,
    Seconds,
    Section,
    Text,
)


class Strategy(StrEnum):
    """How the next agent is chosen among those who can take the call."""

    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK_TIME = "least_talk_time"
    ROUND_ROBIN = "round_robin"
    ORDERED = "ordered"
    RANDOM = "random"
    RING_ALL = "ring_all"


class Relaxation(Section):
    """After ``after`` seconds of waiting, agents from ``min_level`` up qualify."""

    after: PositiveSeconds
    min_level: Level


class SkillRequirement(Section):
    """The queue needs ``skill`` at ``min_level`` or more, relaxing over time."""

    skill: Ident
    min_level: Level = 1
    relax: tuple[Relaxation, ...] = Field(
        default=(), description="steps, later ones with lower levels"
    )

    @model_validator(mode="after")
    def _relaxes(self) -> SkillRequirement:
        level, after = self.min_level, 0
        for step in self.relax:
            if step.after <= after:
                raise ValueError("relax steps must come in increasing 'after' order")
            if step.min_level >= level:
                raise ValueError(
                    f"relax step after {step.after}s must lower min_level below {level}"
                )
            level, after = step.min_level, step.after
        return self


class OverflowQueue(Section):
    action: Literal["queue"]
    target: Ident = Field(description="the queue that takes the caller (waiting time kept)")
    prompt: Ident | None = None


class OverflowCallback(Section):
    action: Literal["callback"]
    prompt: Ident | None = Field(default=None, description="confirmation: 'we will call you back'")


class OverflowVoicemail(Section):
    action: Literal["voicemail"]
    prompt: Ident | None = Field(default=None, description="invitation to leave a message")
    max_seconds: Annotated[Int, Field(ge=5, le=600)] = 120


class OverflowHangup(Section):
    action: Literal["prompt_hangup"]
    prompt: Ident


Overflow = Annotated[
    OverflowQueue | OverflowCallback | OverflowVoicemail | OverflowHangup,
    Field(discriminator="action"),
]


class Announcements(Section):
    """Position and expected-wait announcements to a waiting caller."""

    interval: PositiveSeconds = Field(description="seconds between announcements")
    first_after: Seconds = Field(default=0, description="seconds before the first one")
    position_prompt: Ident | None = None
    wait_prompt: Ident | None = None

    @model_validator(mode="after")
    def _something(self) -> Announcements:
        if self.position_prompt is None and self.wait_prompt is None:
            raise ValueError("announce needs position_prompt, wait_prompt or both")
        return self


class PriorityRules(Section):
    """Priority classes (0 = ordinary, higher first; FIFO within a class)."""

    repeat_caller: Priority = Field(default=1, description="a caller who called before")
    repeat_window_hours: Annotated[Int, Field(ge=1, le=168)] = 24
    callback: Priority = Field(default=2, description="a scheduled callback (回拨)")
    vip: Priority = Field(default=3, description="a number in vip_numbers")


class Rona(Section):
    """Ring-no-answer: after ``max_misses`` in a row the agent is paused."""

    max_misses: Annotated[Int, Field(ge=0, le=20)] = Field(default=2, description="0 never pauses")
    pause_reason: Ident = Field(default="rona", description="a pause reason of agents.yaml")


class Queue(Section):
    """One queue."""

    name: Text
    skills: tuple[SkillRequirement, ...] = Field(min_length=1)
    strategy: Strategy = Strategy.LONGEST_IDLE
    ring_timeout: Annotated[Int, Field(ge=5, le=120)] = Field(
        default=15, description="seconds an agent's phone rings"
    )
    wrapup: Annotated[Int, Field(ge=0, le=600)] = Field(
        default=15, description="after-call work seconds (an agent may override)"
    )
    max_length: Annotated[Int, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="callers waiting at most; null = no limit"
    )
    max_wait: PositiveSeconds | None = Field(
        default=None, description="seconds before overflow; null = no limit"
    )
    overflow: Overflow | None = None
    announce: Announcements | None = None
    priority: PriorityRules = Field(default_factory=PriorityRules)
    rona: Rona = Field(default_factory=Rona)
    short_abandon: Annotated[Int, Field(ge=0, le=60)] = Field(
        default=5, description="abandons sooner than this are counted as short"
    )
    service_level: Annotated[Int, Field(ge=1, le=600)] = Field(
        default=15, description="answered within N seconds counts toward 人工应答及时率"
    )
    music_on_hold: Ident = Field(default="default", description="Asterisk MOH class")
    description: Text | None = None

    @model_validator(mode="after")
    def _limits(self) -> Queue:
        limited = self.max_length is not None or self.max_wait is not None
        if limited and self.overflow is None:
            raise ValueError("max_length / max_wait need an overflow action")
        seen: set[str] = set()
        for need in self.skills:
            if need.skill in seen:
                raise ValueError(f"skill {need.skill!r} is required twice")
            seen.add(need.skill)
        return self


class QueuesFile(Section):
    """Content of ``queues.yaml``."""

    vip_numbers: tuple[Digits, ...] = Field(
        default=(), description="numbers served with the 'vip' priority (重点来电)"
    )
    queues: FrozenMap[Ident, Queue] = Field(min_length=1)
