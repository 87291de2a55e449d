"""``agents.yaml``: the skills catalogue, pause reasons and the agents.

An agent logs in with their ``number`` and a PIN checked against ``pin_hash``
(format in :mod:`cti.config.pins`); login binds them to a seat (``seats.yaml``),
``home_seat`` being where they usually sit.  ``skills`` maps a skill of the
catalogue to a level 1..10; a queue takes an agent whose levels meet its
requirements.  ``wrapup`` overrides the queue's after-call work time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema

from cti.config.pins import PIN_HASH_PATTERN, check_pin_hash
from cti.config.types import AgentNo, Flag, FrozenMap, Ident, Int, Level, Section, Text

PinHash = Annotated[
    str,
    AfterValidator(check_pin_hash),
    WithJsonSchema({"type": "string", "pattern": PIN_HASH_PATTERN}),
]


class PauseReason(Section):
    """A reason an agent gives for not taking calls (小休, 就餐, 培训 ...)."""

    label: Text
    max_minutes: Annotated[Int, Field(ge=1, le=480)] | None = Field(
        default=None, description="a longer pause raises a wallboard alarm"
    )
    system: Flag = Field(default=False, description="set by the engine only (e.g. RONA)")


class Agent(Section):
    number: AgentNo = Field(description="login number, a quoted string")
    name: Text
    skills: FrozenMap[Ident, Level] = Field(min_length=1, description="skill -> level 1..10")
    pin_hash: PinHash
    role: Literal["agent", "supervisor"] = Field(
        default="agent", description="a supervisor (班长) also monitors calls"
    )
    home_seat: Ident | None = Field(default=None, description="usual seat in seats.yaml")
    wrapup: Annotated[Int, Field(ge=0, le=600)] | None = Field(
        default=None, description="overrides the queue's wrap-up seconds"
    )


class AgentsFile(Section):
    """Content of ``agents.yaml``."""

    skills: FrozenMap[Ident, Text] = Field(min_length=1, description="skill id -> description")
    pause_reasons: FrozenMap[Ident, PauseReason] = Field(min_length=1)
    agents: tuple[Agent, ...] = Field(min_length=1)
