"""A small hotline for the switchboard's tests: routes, a menu, a survey, two queues.

Numbers: ``12345`` (main: the recording notice, then the queue ``general``),
``83456789`` (a merged housing line in transition: a skippable announcement,
then ``general``), ``83450000`` (a merged line withdrawn after cut-over: an
announcement, then hang-up), ``12346`` (the menu ``main``); anything else is
not in service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import acd
import ivr
from switchboard import FlowConfig, QueueMedia, RouteKind, RoutePlan, Switchboard

MAIN = "12345"
MERGED = "83456789"
WITHDRAWN = "83450000"
MENU = "12346"
DIRECT = "12300"  # straight to the queue, no prompt first
# 2026-03-11 10:00 Asia/Shanghai, a plain Wednesday morning.
START = dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC).timestamp()


NOT_IN_SERVICE = RoutePlan("unknown", RouteKind.UNKNOWN, announcement="not_in_service")


@dataclass(frozen=True)
class StaticRouter:
    """A fixed number -> route table (``cti.config.Config.resolve`` in production)."""

    routes: dict[str, RoutePlan] = field(default_factory=dict)
    unknown: RoutePlan = NOT_IN_SERVICE

    @property
    def routed_numbers(self) -> frozenset[str]:
        return frozenset(self.routes)

    def resolve(self, number: str, at: dt.datetime) -> RoutePlan:
        assert at.tzinfo is not None
        return self.routes.get(number, self.unknown)


ROUTER = StaticRouter(
    {
        MAIN: RoutePlan(
            "main",
            RouteKind.MAIN,
            notice="recording_notice",
            queue="general",
            tags={"channel": "12345"},
        ),
        MERGED: RoutePlan(
            "housing",
            RouteKind.MERGED,
            announcement="merged_announcement",
            skippable=True,
            queue="general",
            department="housing",
            line_name="住房热线",
            line_phase="transition",
        ),
        WITHDRAWN: RoutePlan(
            "withdrawn",
            RouteKind.MERGED,
            announcement="please_dial_12345",
            line_phase="after_cutover",
        ),
        MENU: RoutePlan("menu", RouteKind.NUMBER, menu="main"),
        DIRECT: RoutePlan("direct", RouteKind.NUMBER, queue="general"),
    }
)

MENUS_YAML: dict[str, Any] = {
    "languages": ["zh"],
    "menus": {
        "main": {
            "entry": "choose",
            "nodes": {
                "choose": {
                    "type": "menu",
                    "prompts": ["menu_prompt"],
                    "choices": {"1": "to_queue", "2": "leave_message", "9": "bye"},
                    "first_digit_timeout": 4,
                    "max_attempts": 2,
                    "fallback": "to_queue",
                },
                "to_queue": {"type": "queue", "queue": "general", "tags": ["menu"]},
                "leave_message": {"type": "voicemail", "queue": "general", "max_seconds": 30},
                "bye": {"type": "hangup", "prompts": ["goodbye"]},
            },
        }
    },
}

SURVEY_YAML: dict[str, Any] = {
    "question_prompts": ["survey_question"],
    "levels": [
        {"key": "1", "level": 1, "label": "满意"},
        {"key": "2", "level": 2, "label": "基本满意"},
        {"key": "3", "level": 3, "label": "不满意"},
    ],
    "timeout": 5,
    "max_attempts": 2,
    "thanks_prompts": ["thanks"],
}

AGENTS = ("1001", "1002", "1003")


def flow_config(version: str = "v1") -> FlowConfig:
    return FlowConfig(
        version=version,
        router=ROUTER,
        menus=ivr.MenuSet.model_validate(MENUS_YAML),
        calendar=ivr.Calendar(timezone="Asia/Shanghai"),
        survey=ivr.Survey.model_validate(SURVEY_YAML),
        queues={
            "general": QueueMedia(
                music_on_hold="default",
                position_prompt="your_position",
                wait_prompt="expected_wait",
                overflow_prompt="we_call_back",
            )
        },
        seats={f"s{a}": f"PJSIP/{a}" for a in AGENTS},
    )


def acd_config(**queue: Any) -> acd.AcdConfig:
    skill = acd.Skill("general")
    return acd.AcdConfig(
        queues=(
            acd.QueueConfig(
                acd.QueueId("general"),
                skills=(acd.SkillRequirement(skill),),
                ring_timeout_s=15.0,
                wrapup_s=5.0,
                announce_interval_s=30.0,
                **queue,
            ),
        ),
        agents=tuple(acd.AgentConfig(acd.AgentId(a), skills={skill: 5}) for a in AGENTS),
    )


def switchboard(**queue: Any) -> Switchboard:
    return Switchboard(flow_config(), acd_config(**queue))
