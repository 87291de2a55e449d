"""``outbound.yaml``: calls out: which numbers agents may dial, the number shown, callbacks, return visits.

The file is optional: without it the defaults below hold (12345 presented,
premium and international numbers refused, local, mobile, parallel and
partner lines allowed; 3 callback attempts 30 minutes apart, no calls to
citizens from 21:00 to 08:00, a callback deadline of 2 hours of service time).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema, model_validator

from cti.config.types import Digits, Flag, FrozenMap, Ident, Int, Section, Text

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


Regex = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_regex)]
ClockTime = Annotated[
    str,
    StringConstraints(pattern=_HHMM),
    WithJsonSchema({"type": "string", "pattern": _HHMM}),
]
"""A local time of day written ``"HH:MM"`` (quoted)."""


class Action(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class LineSet(StrEnum):
    """Numbers taken from ``lines.yaml`` instead of a pattern."""

    PARALLEL = "parallel"  # 并联整合 hotlines
    PARTNERS = "partners"  # 便民服务协约 lines
    EMERGENCY = "emergency"  # 110 / 119 / 120 / 12395


class DialRuleSpec(Section):
    name: Text = Field(description="shown in the refusal and the audit entry")
    action: Action
    pattern: Regex | None = Field(
        default=None, description="a regular expression the whole number must match"
    )
    lines: LineSet | None = Field(default=None, description="the numbers of a lines.yaml list")
    roles: tuple[Ident, ...] | None = Field(
        default=None, description="agent roles the rule is for (default: every role)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> DialRuleSpec:
        if (self.pattern is None) == (self.lines is None):
            raise ValueError("give either pattern or lines")
        return self


def _default_rules() -> tuple[DialRuleSpec, ...]:
    return (
        DialRuleSpec(name="international", action=Action.DENY, pattern=r"(00|\+)[0-9]+"),
        DialRuleSpec(
            name="premium", action=Action.DENY, pattern=r"(160|168)[0-9]{2,6}|95013[0-9]{0,8}"
        ),
        DialRuleSpec(name="parallel lines", action=Action.ALLOW, lines=LineSet.PARALLEL),
        DialRuleSpec(name="partner lines", action=Action.ALLOW, lines=LineSet.PARTNERS),
        DialRuleSpec(name="mobile", action=Action.ALLOW, pattern=r"1[3-9][0-9]{9}"),
        DialRuleSpec(name="local", action=Action.ALLOW, pattern=r"[2-8][0-9]{6,7}"),
        DialRuleSpec(name="domestic", action=Action.ALLOW, pattern=r"0[1-9][0-9]{8,10}"),
    )


class QuietHoursSpec(Section):
    start: ClockTime = Field(default="21:00", description="no calls to citizens from")
    end: ClockTime = Field(default="08:00", description="until (may be the next morning)")

    def times(self) -> tuple[dt.time, dt.time]:
        return dt.time.fromisoformat(self.start), dt.time.fromisoformat(self.end)


class CallbackSettings(Section):
    attempts: Annotated[Int, Field(ge=1, le=10)] = Field(
        default=3, description="calls to a missed caller before giving up"
    )
    spacing_minutes: Annotated[Int, Field(ge=0, le=1440)] = Field(
        default=30, description="between two attempts"
    )
    deadline_minutes: Annotated[Int, Field(ge=1, le=10_080)] = Field(
        default=120, description="a missed call is called back within this much service time"
    )
    short_abandon_seconds: Annotated[Int, Field(ge=0, le=600)] = Field(
        default=10, description="callers who hang up sooner are not listed"
    )
    quiet_hours: QuietHoursSpec = Field(default_factory=QuietHoursSpec)
    skip_reasons: tuple[Text, ...] = Field(
        default=("busy_with_ticket", "citizen_asked_later", "duplicate"),
        min_length=1,
        description="the reasons an agent may give for skipping a callback",
    )


class ReturnVisitSettings(Section):
    attempts: Annotated[Int, Field(ge=1, le=10)] = 3
    spacing_minutes: Annotated[Int, Field(ge=0, le=10_080)] = 120
    max_lines: Annotated[Int, Field(ge=0, le=1000)] = Field(
        default=4, description="outbound lines callbacks and return visits may hold at once"
    )
    slow_down_waiting: Annotated[Int, Field(ge=1, le=1000)] = Field(
        default=3,
        description="inbound callers waiting from which the dialler starts nothing"
        " (below it: one at a time while anyone waits)",
    )
    surveys: tuple[Ident, ...] = Field(
        default=("satisfaction",),
        min_length=1,
        description="survey ids a request may name (satisfaction: the rating of survey.yaml)",
    )
    automatic: Flag = Field(
        default=True,
        description="the engine dials the visits that need no person and plays the survey",
    )
    ring_seconds: Annotated[Int, Field(ge=5, le=120)] = Field(
        default=30, description="how long the citizen's phone may ring for an automatic visit"
    )
    dial_every_seconds: Annotated[Int, Field(ge=1, le=3600)] = Field(
        default=15, description="how often the dialler looks for visits that are due"
    )
    trunk_channels: Annotated[Int, Field(ge=1, le=100_000)] | None = Field(
        default=None,
        description="channels the carrier trunk carries at once (inbound and outbound);"
        " the dialler never takes the last free ones beyond it (unset: not limited here)",
    )
    notice_prompts: tuple[Ident, ...] = Field(
        default=(),
        description="played when the citizen answers, before the survey (prompts.yaml)",
    )
    agent_key: Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")] = Field(
        default="0", description="the key that asks for a person (queued to an agent)"
    )
    refuse_key: Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")] = Field(
        default="9", description="the key that refuses the survey (an agent visits instead)"
    )
    agent_queue: Ident | None = Field(
        default=None,
        description="the queue a citizen who asks for a person waits in, in the callback"
        " priority class (default: the queue of the main number's route)",
    )
    refused_prompts: tuple[Ident, ...] = Field(
        default=(), description="played before hanging up on a refused survey"
    )

    @model_validator(mode="after")
    def _keys(self) -> ReturnVisitSettings:
        if self.agent_key == self.refuse_key:
            raise ValueError("agent_key and refuse_key must differ")
        return self


class Style(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"


PLACEHOLDERS = frozenset({"call_id", "caller", "line", "department", "repeat"})


def _template(value: str) -> str:
    if not re.match(r"^https?://", value):
        raise ValueError("the work-order URL starts with http:// or https://")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ValueError(f"not a URL template: {exc}") from None
    unknown = sorted(set(fields) - PLACEHOLDERS)
    if unknown:
        allowed = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} (allowed: {allowed})")
    return value


UrlTemplate = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_template)]


class OutboundFile(Section):
    """Content of ``outbound.yaml`` (optional)."""

    presented_number: Digits | None = Field(
        default=None, description="the number citizens see (default: platform.yaml main_number)"
    )
    dial_rules: tuple[DialRuleSpec, ...] = Field(
        default_factory=_default_rules, description="first match decides; no match: refused"
    )
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    return_visits: ReturnVisitSettings = Field(default_factory=ReturnVisitSettings)
    queues: FrozenMap[Ident, Style] = Field(
        default_factory=dict,
        description="per queue: how callbacks are offered (default preview)",
    )
    call_started_notice: Flag = Field(
        default=False,
        description="tell the work-order backend when an agent answers a call"
        " (POST {tickets.url}/calls/{call_id}/started, through the outbox)",
    )
    work_order_url: UrlTemplate | None = Field(
        default=None,
        description="opened by the toolbar on answer; placeholders {call_id} {caller} {line}"
        " {department} {repeat}",
    )
