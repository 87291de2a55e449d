"""The administrator's YAML (``cti.config``) as the ACD's own configuration.

``acd`` imports nothing of the project, so the engine translates: queue ids,
skills, strategies, overflow, announcements, priorities and RONA map one to
one; seconds stay seconds.  The result is rebuilt on every accepted reload
and applied live with ``acd.ConfigChanged``.
"""

from __future__ import annotations

from acd import (
    AcdConfig,
    AgentConfig,
    AgentId,
    OverflowAction,
    OverflowRule,
    PauseReason,
    PriorityRules,
    QueueConfig,
    QueueId,
    RelaxStep,
    Skill,
    SkillRequirement,
    Strategy,
)
from cti.config import Config


def _overflow(queue: object) -> OverflowRule:
    rule = getattr(queue, "overflow", None)
    if rule is None:
        return OverflowRule(OverflowAction.CALLBACK, "")
    action = OverflowAction(rule.action)
    if action is OverflowAction.QUEUE:
        return OverflowRule(action, rule.target)
    return OverflowRule(action, rule.prompt or "")


def acd_config(config: Config) -> AcdConfig:
    vip = {number: 0 for number in config.queues.vip_numbers}
    queues = []
    for queue_id, q in config.queues.queues.items():
        vip_level = {n: q.priority.vip for n in vip}
        queues.append(
            QueueConfig(
                id=QueueId(queue_id),
                name=q.name,
                skills=tuple(
                    SkillRequirement(
                        Skill(req.skill),
                        req.min_level,
                        tuple(RelaxStep(float(r.after), r.min_level) for r in req.relax),
                    )
                    for req in q.skills
                ),
                strategy=Strategy(q.strategy.value),
                ring_timeout_s=float(q.ring_timeout),
                wrapup_s=float(q.wrapup),
                max_length=q.max_length,
                max_wait_s=float(q.max_wait) if q.max_wait is not None else None,
                overflow=_overflow(q),
                announce_interval_s=float(q.announce.interval) if q.announce else None,
                priority=PriorityRules(
                    repeat=q.priority.repeat_caller,
                    repeat_window_s=q.priority.repeat_window_hours * 3600.0,
                    tags={"callback": q.priority.callback},
                    numbers=vip_level,
                ),
                rona_max_misses=q.rona.max_misses,
                rona_pause_reason=q.rona.pause_reason,
                short_abandon_s=float(q.short_abandon),
                service_level_s=float(q.service_level),
            )
        )
    agents = tuple(
        AgentConfig(
            id=AgentId(a.number),
            name=a.name,
            skills={Skill(s): level for s, level in a.skills.items()},
            wrapup_s=float(a.wrapup) if a.wrapup is not None else None,
        )
        for a in config.agents.agents
    )
    reasons = tuple(
        PauseReason(code, reason.label) for code, reason in config.agents.pause_reasons.items()
    )
    return AcdConfig(queues=tuple(queues), agents=agents, pause_reasons=reasons)
