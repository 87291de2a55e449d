"""The node types of a menu, and the constrained value types the IVR's YAML uses.

Every node has a ``type`` that selects its model; unknown keys are errors and
every model is frozen. ``node_targets`` and ``node_prompts`` give the edges and
prompts of a node, for the checks in ``ivr.spec`` and for ``references()``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from ivr.calendar import WeeklyHours
from ivr.ids import LanguageCode, MenuId, NodeId, PromptId, QueueId

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_DIGITS = re.compile(r"^[0-9*#]{1,32}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a name (letter, then letters, digits, _ . -)")
    return value


def key_text(value: Any) -> Any:
    # YAML reads an unquoted key such as 1 as an int; a key press is text.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value >= 0:
        return str(value)
    return value


def _digits(value: str) -> str:
    if not _DIGITS.match(value):
        raise ValueError(f"{value!r} is not a key sequence (0-9, *, #)")
    return value


Name = Annotated[str, AfterValidator(_name)]
Digits = Annotated[str, BeforeValidator(key_text), AfterValidator(_digits)]
NodeRef = Annotated[NodeId, AfterValidator(_name)]
PromptRef = Annotated[PromptId, AfterValidator(_name)]
QueueRef = Annotated[QueueId, AfterValidator(_name)]
MenuRef = Annotated[MenuId, AfterValidator(_name)]
Language = Annotated[LanguageCode, AfterValidator(_name)]
Prompts = tuple[PromptRef, ...]
Seconds = Annotated[float, Field(gt=0, le=300)]
PhoneNumber = Annotated[str, BeforeValidator(key_text), Field(pattern=r"^[0-9]{3,20}$")]
Skills = dict[Name, Annotated[int, Field(ge=1, le=10)]]


class StrictModel(BaseModel):
    """Base of every IVR file model: unknown keys are errors, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _NodeBase(StrictModel):
    description: str | None = None


class PlayNode(_NodeBase):
    """Play prompts, then go to ``next``. An interruptible play ends on any key."""

    type: Literal["play"]
    prompts: Annotated[Prompts, Field(min_length=1)]
    interruptible: bool = False
    next: NodeRef


class _Collecting(_NodeBase):
    prompts: Annotated[Prompts, Field(min_length=1)]
    interruptible: bool = Field(default=True, description="a key press stops the prompt")
    max_digits: Annotated[int, Field(ge=1, le=32)] = 1
    first_digit_timeout: Seconds = 5.0
    inter_digit_timeout: Seconds = 3.0
    terminator: Literal["#"] | None = "#"
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    timeout_prompts: Prompts = Field(default=(), description="played before a retry on no input")
    invalid_prompts: Prompts = Field(default=(), description="played before a retry on a bad key")
    fallback: NodeRef = Field(description="where the caller goes when the attempts run out")


class MenuNode(_Collecting):
    """Collect keys and branch on them; ``0`` reaches the menu's operator if allowed."""

    type: Literal["menu"]
    choices: Annotated[dict[Digits, NodeRef], Field(min_length=1)]
    allow_operator: bool = Field(default=True, description="0 reaches the menu's operator node")

    @model_validator(mode="after")
    def _choices_fit(self) -> MenuNode:
        for keys in self.choices:
            if len(keys) > self.max_digits:
                raise ValueError(f"choice {keys!r} is longer than max_digits {self.max_digits}")
            if self.terminator is not None and self.terminator in keys:
                raise ValueError(f"choice {keys!r} contains the terminator {self.terminator!r}")
        return self


class CollectNode(_Collecting):
    """Collect a key sequence into a variable (e.g. a ticket number), then go to ``next``."""

    type: Literal["collect"]
    variable: Name
    min_digits: Annotated[int, Field(ge=1, le=32)] = 1
    next: NodeRef

    @model_validator(mode="after")
    def _bounds(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError(f"min_digits {self.min_digits} > max_digits {self.max_digits}")
        return self


class LanguageNode(_NodeBase):
    """Choose the prompt set by one key; no key or a wrong key keeps the default language."""

    type: Literal["language"]
    prompts: Annotated[Prompts, Field(min_length=1)]
    choices: Annotated[dict[Digits, Language], Field(min_length=1)]
    timeout: Seconds = 5.0
    next: NodeRef
    next_by_language: dict[Language, NodeRef] = Field(
        default={}, description="where callers continue in a given language, instead of next"
    )

    def continue_at(self, language: str) -> NodeId:
        """The node a caller continues at once ``language`` is in effect."""
        return self.next_by_language.get(LanguageCode(language), self.next)

    @model_validator(mode="after")
    def _one_key(self) -> LanguageNode:
        for keys in self.choices:
            if len(keys) != 1:
                raise ValueError(f"language choice {keys!r} must be one key")
        return self


class SetNode(_NodeBase):
    """Tag the call (for ticket pre-routing) and/or set variables, then go to ``next``."""

    type: Literal["set"]
    tags: tuple[Name, ...] = ()
    vars: dict[Name, str] = {}
    next: NodeRef

    @model_validator(mode="after")
    def _something(self) -> SetNode:
        if not self.tags and not self.vars:
            raise ValueError("a set node needs tags or vars")
        return self


class TimeConditionNode(_NodeBase):
    """Branch on the calendar: ``holiday`` (if given), else ``open`` or ``closed``.

    ``hours`` overrides the calendar's weekly hours for this node only.
    """

    type: Literal["time_condition"]
    hours: WeeklyHours | None = None
    open: NodeRef
    closed: NodeRef
    holiday: NodeRef | None = None


class _Action(_NodeBase):
    prompts: Prompts = Field(default=(), description="played, not interruptible, before acting")


class QueueNode(_Action):
    """Leave the menu into a queue, with required skills, a priority and tags."""

    type: Literal["queue"]
    queue: QueueRef
    skills: Skills = {}
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    tags: tuple[Name, ...] = ()


class VoicemailNode(_Action):
    """Leave a message (留言) for the callback list of ``queue``."""

    type: Literal["voicemail"]
    queue: QueueRef = Field(description="the queue whose agents call the caller back")
    beep_prompt: PromptRef | None = None
    max_seconds: Annotated[int, Field(ge=5, le=600)] = 120
    max_silence_seconds: Annotated[int, Field(ge=1, le=60)] | None = 10
    tags: tuple[Name, ...] = ()


class TransferNode(_Action):
    """Hand the call to an outside number (a parallel hotline)."""

    type: Literal["transfer"]
    number: PhoneNumber


class HangupNode(_Action):
    """Hang up, after the prompts if any."""

    type: Literal["hangup"]
    reason: Name = "menu_hangup"


class GotoNode(_NodeBase):
    """Continue in another menu, at its entry node or at ``node``."""

    type: Literal["goto"]
    menu: MenuRef
    node: NodeRef | None = None


Node = Annotated[
    PlayNode
    | MenuNode
    | CollectNode
    | LanguageNode
    | SetNode
    | TimeConditionNode
    | QueueNode
    | VoicemailNode
    | TransferNode
    | HangupNode
    | GotoNode,
    Field(discriminator="type"),
]

PASS_THROUGH = (SetNode, TimeConditionNode, GotoNode)
"""Node types that never wait for the caller."""


def node_targets(node: Node) -> list[tuple[str, NodeId]]:
    """The (field, node id) pairs a node may continue to inside its own menu."""
    out: list[tuple[str, NodeId]] = []
    if isinstance(node, PlayNode | CollectNode | LanguageNode | SetNode):
        out.append(("next", node.next))
    if isinstance(node, MenuNode | CollectNode):
        out.append(("fallback", node.fallback))
    if isinstance(node, MenuNode):
        out.extend((f"choices.{k}", v) for k, v in node.choices.items())
    if isinstance(node, LanguageNode):
        out.extend((f"next_by_language.{k}", v) for k, v in node.next_by_language.items())
    if isinstance(node, TimeConditionNode):
        out += [("open", node.open), ("closed", node.closed)]
        if node.holiday is not None:
            out.append(("holiday", node.holiday))
    return out


def node_prompts(node: Node) -> set[PromptId]:
    """Every prompt id a node may play."""
    found: set[PromptId] = set(getattr(node, "prompts", ()))
    if isinstance(node, MenuNode | CollectNode):
        found |= set(node.timeout_prompts) | set(node.invalid_prompts)
    if isinstance(node, VoicemailNode) and node.beep_prompt is not None:
        found.add(node.beep_prompt)
    return found
