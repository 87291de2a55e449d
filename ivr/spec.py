"""Strict models of the IVR's YAML files: ``menus.yaml``, ``calendar.yaml``, ``survey.yaml``.

A menu is data: a graph of typed nodes with one entry node. Nodes that wait
for the caller (``play``, ``menu``, ``collect``, ``language``, and action nodes
with prompts) end every walk step; the others (``set``, ``time_condition``,
``goto``) are passed through in the same step, so validation rejects any cycle
made only of them. Every model forbids unknown keys and is frozen, so a loaded
configuration can be shared by every call that started under it.

Each top-level model has ``references()``: the prompt, queue and menu ids it
refers to, for the config loader's cross-reference check.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from ivr.calendar import Calendar, Holiday, WeeklyHours
from ivr.ids import LanguageCode, MenuId, NodeId
from ivr.nodes import (
    PASS_THROUGH,
    CollectNode,
    GotoNode,
    HangupNode,
    Language,
    LanguageNode,
    MenuNode,
    Name,
    Node,
    NodeRef,
    PlayNode,
    Prompts,
    QueueNode,
    Seconds,
    SetNode,
    StrictModel,
    TimeConditionNode,
    TransferNode,
    VoicemailNode,
    key_text,
    node_prompts,
    node_targets,
)

__all__ = [
    "Calendar",
    "CollectNode",
    "GotoNode",
    "HangupNode",
    "Holiday",
    "LanguageNode",
    "Menu",
    "MenuNode",
    "MenuSet",
    "Node",
    "PlayNode",
    "QueueNode",
    "SetNode",
    "Survey",
    "SurveyLevel",
    "TimeConditionNode",
    "TransferNode",
    "VoicemailNode",
    "WeeklyHours",
]


class Menu(StrictModel):
    """One menu: its nodes, its entry node and the optional 0-to-human operator node.

    When ``operator`` names a node (normally a queue node with a human queue),
    the key 0 pressed first at any ``menu`` node with ``allow_operator`` goes there.
    """

    title: str | None = None
    entry: NodeRef
    operator: NodeRef | None = None
    nodes: Annotated[dict[Name, Node], Field(min_length=1)]

    @model_validator(mode="after")
    def _wired(self) -> Menu:
        if self.entry not in self.nodes:
            raise ValueError(f"entry node {self.entry!r} is not among the nodes")
        if self.operator is not None and self.operator not in self.nodes:
            raise ValueError(f"operator node {self.operator!r} is not among the nodes")
        for node_id, node in self.nodes.items():
            for field, target in node_targets(node):
                if target not in self.nodes:
                    raise ValueError(f"node {node_id!r}: {field} goes to unknown node {target!r}")
            if isinstance(node, MenuNode) and node.allow_operator and self.operator is not None:
                for keys in node.choices:
                    if keys.startswith("0"):
                        raise ValueError(
                            f"node {node_id!r}: choice {keys!r} starts with 0, the operator key;"
                            " set allow_operator: false on the node to use it"
                        )
        return self

    def node(self, node_id: str) -> Node:
        """The node named ``node_id`` (KeyError if absent)."""
        return self.nodes[node_id]


class MenuSet(StrictModel):
    """Content of ``menus.yaml``: the languages and every menu a route may switch on."""

    languages: Annotated[tuple[Language, ...], Field(min_length=1, max_length=2)] = Field(
        description="prompt sets: 普通话 first (the default), then one optional second language"
    )
    menus: dict[Name, Menu] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> MenuSet:
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages are listed twice")
        for menu_id, menu in self.menus.items():
            for node_id, node in menu.nodes.items():
                where = f"menu {menu_id!r} node {node_id!r}"
                if isinstance(node, LanguageNode):
                    for keys, language in node.choices.items():
                        if language not in self.languages:
                            raise ValueError(f"{where}: key {keys!r} picks unknown {language!r}")
                    for language in node.next_by_language:
                        if language not in self.languages:
                            raise ValueError(f"{where}: next_by_language has unknown {language!r}")
                if isinstance(node, GotoNode):
                    target = self.menus.get(node.menu)
                    if target is None:
                        raise ValueError(f"{where}: goto unknown menu {node.menu!r}")
                    if node.node is not None and node.node not in target.nodes:
                        raise ValueError(f"{where}: goto unknown node {node.node!r}")
        self._no_idle_cycle()
        return self

    @property
    def default_language(self) -> LanguageCode:
        """The language a call starts in (普通话)."""
        return self.languages[0]

    def successors(self, menu_id: MenuId, node_id: NodeId) -> list[tuple[MenuId, NodeId]]:
        """Where a node may continue to, across menus (a goto leaves its menu)."""
        node = self.menus[menu_id].nodes[node_id]
        if isinstance(node, GotoNode):
            return [(node.menu, node.node or self.menus[node.menu].entry)]
        return [(menu_id, target) for _, target in node_targets(node)]

    def _no_idle_cycle(self) -> None:
        # Depth-first search over pass-through nodes only: a cycle there would
        # walk forever within one step.
        done: set[tuple[MenuId, NodeId]] = set()
        for menu_id, menu in self.menus.items():
            for node_id in menu.nodes:
                start = (MenuId(menu_id), NodeId(node_id))
                stack = [(start, [start])]
                while stack:
                    at, trail = stack.pop()
                    if at in done:
                        continue
                    node = self.menus[at[0]].nodes[at[1]]
                    if not isinstance(node, PASS_THROUGH):
                        continue
                    for nxt in self.successors(*at):
                        if nxt in trail:
                            names = " -> ".join(f"{m}.{n}" for m, n in [*trail, nxt])
                            raise ValueError(f"nodes loop without waiting: {names}")
                        stack.append((nxt, [*trail, nxt]))
                done.add(start)

    def references(self) -> dict[str, set[str]]:
        """Prompt, queue and menu ids used by any menu."""
        prompts: set[str] = set()
        queues: set[str] = set()
        menus: set[str] = set()
        for menu in self.menus.values():
            for node in menu.nodes.values():
                prompts |= node_prompts(node)
                if isinstance(node, QueueNode | VoicemailNode):
                    queues.add(node.queue)
                if isinstance(node, GotoNode):
                    menus.add(node.menu)
        return {"prompts": prompts, "queues": queues, "menus": menus}


class SurveyLevel(StrictModel):
    """One point of the satisfaction scale: the key, the level (1 = best) and its label."""

    key: Annotated[str, BeforeValidator(key_text), Field(pattern=r"^[0-9*]$")]
    level: Annotated[int, Field(ge=1, le=9)]
    label: str = Field(min_length=1)


class Survey(StrictModel):
    """Content of ``survey.yaml``: the satisfaction rating (满意度评价) after the agent hangs up."""

    enabled: bool = True
    question_prompts: Annotated[Prompts, Field(min_length=1)]
    levels: Annotated[tuple[SurveyLevel, ...], Field(min_length=2, max_length=9)]
    timeout: Seconds = 8.0
    max_attempts: Annotated[int, Field(ge=1, le=5)] = Field(
        default=2, description="key presses allowed; an invalid key is retried until then"
    )
    invalid_prompts: Prompts = ()
    thanks_prompts: Prompts = ()
    not_rated_prompts: Prompts = ()

    @model_validator(mode="after")
    def _scale(self) -> Survey:
        keys = [lv.key for lv in self.levels]
        if len(set(keys)) != len(keys):
            raise ValueError("two levels share a key")
        levels = sorted(lv.level for lv in self.levels)
        if levels != list(range(1, len(levels) + 1)):
            raise ValueError(f"levels must be 1..{len(levels)}, each once")
        return self

    def level_for(self, key: str) -> SurveyLevel | None:
        """The level a key press rates, or None for a key outside the scale."""
        for level in self.levels:
            if level.key == key:
                return level
        return None

    def references(self) -> dict[str, set[str]]:
        """Prompt ids the survey plays."""
        prompts = {
            *self.question_prompts,
            *self.invalid_prompts,
            *self.thanks_prompts,
            *self.not_rated_prompts,
        }
        return {"prompts": set(prompts), "queues": set(), "menus": set()}
