"""Checks that span files: references resolve, numbers are routed once, dates are in order.

Each check reads the already validated models and reports through
:class:`Report`, which places an issue at ``file:line`` from the YAML tree.
A check runs only when every file it reads validated on its own, so one
broken file does not bury the others under follow-on errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from cti.config.errors import ConfigIssue, Severity
from cti.config.phase import resolve_dates
from cti.config.sections import (
    AgentsFile,
    LinesFile,
    MenuSet,
    OutboundFile,
    PlatformFile,
    PromptsFile,
    QueuesFile,
    RoutingFile,
    SeatsFile,
)
from cti.config.sections.lines import AfterCutover
from cti.config.sections.queues import OverflowQueue
from cti.config.yamlsrc import Loc, find_value, locate
from ivr.spec import QueueNode


class Report:
    """Collects issues, placing each at the line its location names."""

    def __init__(self, files: dict[str, str], trees: dict[str, Any]) -> None:
        self._files = files
        self._trees = trees
        self.issues: list[ConfigIssue] = []

    def where(self, section: str, loc: Loc) -> str:
        """``lines.yaml:12`` for a location, for messages that point elsewhere."""
        line, _ = locate(self._trees.get(section), loc)
        return f"{self._files[section].rsplit('/', 1)[-1]}:{line}"

    def add(self, section: str, loc: Loc, message: str, severity: Severity = "error") -> None:
        line, path = locate(self._trees.get(section), loc)
        self.issues.append(ConfigIssue(self._files[section], line, path, message, severity))

    def dangling(self, section: str, kind: str, ident: str, defined_in: str) -> None:
        """A reference with no location of its own: placed at the first use of ``ident``."""
        loc = find_value(self._trees.get(section), ident) or ()
        self.add(section, loc, f"unknown {kind} {ident!r} (not defined in {defined_in})")


Models = dict[str, BaseModel]


def cross_check(models: Models, report: Report) -> None:
    """Run every cross-file check whose files are all valid."""
    checks: list[tuple[tuple[str, ...], Callable[..., None]]] = [
        (("platform", "lines", "routing"), _numbers),
        (("platform", "lines"), _dates),
        (("lines", "routing", "queues", "menus", "prompts"), _routes),
        (("queues", "agents", "prompts"), _queues),
        (("agents", "seats"), _agents),
        (("seats",), _seats),
        (("platform", "prompts", "menus"), _languages),
        (("menus", "survey", "calendar", "prompts", "queues", "agents"), _ivr),
        (("outbound", "queues"), _outbound),
        (("outbound", "queues", "prompts", "survey"), _visits),
    ]
    for needs, check in checks:
        if all(name in models for name in needs):
            check(report, *(models[name] for name in needs))


def _numbers(
    report: Report, platform: PlatformFile, lines: LinesFile, routing: RoutingFile
) -> None:
    main = platform.main_number
    routed: dict[str, tuple[str, Loc]] = {main: ("platform", ("main_number",))}
    mains = 0

    def claim(number: str, section: str, loc: Loc, is_main_line: bool = False) -> None:
        if is_main_line and number == main:
            return
        if number in routed:
            first = report.where(*routed[number])
            report.add(section, loc, f"number {number} is routed twice (first at {first})")
            return
        routed[number] = (section, loc)

    for i, line in enumerate(lines.merged):
        is_main = line.after_cutover is AfterCutover.MAIN_NUMBER
        if is_main:
            mains += 1
            if line.numbers[0] != main:
                report.add(
                    "lines",
                    ("merged", i, "numbers", 0),
                    f"a main_number line must carry the main number {main}",
                )
            elif mains > 1:
                report.add("lines", ("merged", i, "after_cutover"), "a second main_number line")
        elif main in line.numbers:
            report.add(
                "lines",
                ("merged", i, "after_cutover"),
                f"the line of the main number {main} must say after_cutover: main_number",
            )
            continue
        for j, number in enumerate(line.numbers):
            claim(number, "lines", ("merged", i, "numbers", j), is_main)
    for k, entry in enumerate(routing.numbers):
        claim(entry.number, "routing", ("numbers", k, "number"))

    never: list[tuple[str, Loc, str]] = []
    for i, em in enumerate(lines.emergency):
        never.append((em.number, ("emergency", i, "number"), "an emergency number (hand-off only)"))
    for i, par in enumerate(lines.parallel):
        for j, number in enumerate(par.numbers):
            never.append(
                (number, ("parallel", i, "numbers", j), "a parallel line (three-way target)")
            )
    for i, partner in enumerate(lines.partners):
        for j, number in enumerate(partner.numbers):
            never.append((number, ("partners", i, "numbers", j), "a partner line"))
    for number, loc, what in never:
        if number in routed:
            section, at = routed[number]
            report.add(
                section,
                at,
                f"number {number} is {what} ({report.where('lines', loc)}) and must never be routed",
            )
    _unique(report, "lines", "emergency", [(e.number, "number") for e in lines.emergency], "number")
    _unique(report, "lines", "parallel", [(p.id, "id") for p in lines.parallel], "parallel line id")


def _unique(
    report: Report, section: str, key: str, items: Iterable[tuple[str, str]], what: str
) -> None:
    seen: dict[str, int] = {}
    for index, (value, field) in enumerate(items):
        if value in seen:
            first = report.where(section, (key, seen[value], field))
            report.add(
                section, (key, index, field), f"duplicate {what} {value!r} (first at {first})"
            )
        else:
            seen[value] = index


def _dates(report: Report, platform: PlatformFile, lines: LinesFile) -> None:
    start = platform.transition.go_live
    for batch_id, batch in lines.batches.items():
        if batch.cut_over is not None and batch.cut_over < batch.go_live:
            report.add(
                "lines",
                ("batches", batch_id, "cut_over"),
                f"cut_over {batch.cut_over} is before go_live {batch.go_live}",
            )
    for i, par in enumerate(lines.parallel):
        if par.batch is not None and par.batch not in lines.batches:
            report.add("lines", ("parallel", i, "batch"), f"unknown batch {par.batch!r}")
    for i, line in enumerate(lines.merged):
        if line.batch is not None and line.batch not in lines.batches:
            report.add("lines", ("merged", i, "batch"), f"unknown batch {line.batch!r}")
            continue
        if line.after_cutover is AfterCutover.MAIN_NUMBER:
            continue
        dates = resolve_dates(line, dict(lines.batches), platform.transition)
        if dates.cut_over < dates.go_live:
            field = "cut_over" if dates.cut_over_from == "line" else "go_live"
            report.add(
                "lines",
                ("merged", i, field),
                f"cut_over {dates.cut_over} (from {dates.cut_over_from}) is before "
                f"go_live {dates.go_live} (from {dates.go_live_from})",
            )
        if dates.go_live < start:
            report.add(
                "lines",
                ("merged", i, "go_live" if dates.go_live_from == "line" else "batch"),
                f"go_live {dates.go_live} is before the platform goes live ({start})",
            )


def _routes(
    report: Report,
    lines: LinesFile,
    routing: RoutingFile,
    queues: QueuesFile,
    menus: MenuSet,
    prompts: PromptsFile,
) -> None:
    routes = routing.routes

    def need_route(section: str, loc: Loc, route_id: str | None) -> None:
        if route_id is not None and route_id not in routes:
            report.add(section, loc, f"unknown route {route_id!r} (routes: {_names(routes)})")

    need_route("routing", ("main",), routing.main)
    need_route("routing", ("unknown_route",), routing.unknown_route)
    for field in ("transition_route", "withdrawn_route", "kept_route"):
        need_route("routing", ("merged", field), getattr(routing.merged, field))
    for k, entry in enumerate(routing.numbers):
        need_route("routing", ("numbers", k, "route"), entry.route)
    for i, line in enumerate(lines.merged):
        need_route("lines", ("merged", i, "route"), line.route)
        need_route("lines", ("merged", i, "kept_route"), line.kept_route)
    for route_id, route in routes.items():
        at: Loc = ("routes", route_id)
        if route.queue is not None and route.queue not in queues.queues:
            report.add("routing", (*at, "queue"), _unknown("queue", route.queue, queues.queues))
        if route.menu is not None and route.menu not in menus.menus:
            report.add("routing", (*at, "menu"), _unknown("menu", route.menu, menus.menus))
        for field in ("announcement", "notice"):
            prompt = getattr(route, field)
            if prompt is not None and prompt not in prompts.prompts:
                report.add("routing", (*at, field), f"unknown prompt {prompt!r} (prompts.yaml)")
        closed = route.closed_route
        if closed is not None:
            if closed not in routes:
                need_route("routing", (*at, "closed_route"), closed)
            elif closed == route_id or routes[closed].closed_route is not None:
                report.add(
                    "routing",
                    (*at, "closed_route"),
                    f"closed route {closed!r} must be a route without its own closed_route",
                )


def _names(mapping: Any) -> str:
    names = sorted(mapping)
    return ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")


def _unknown(kind: str, ident: str, defined: Any) -> str:
    return f"unknown {kind} {ident!r} (defined: {_names(defined)})"


def _queues(report: Report, queues: QueuesFile, agents: AgentsFile, prompts: PromptsFile) -> None:
    graph: dict[str, str] = {}
    for queue_id, queue in queues.queues.items():
        at: Loc = ("queues", queue_id)
        for n, need in enumerate(queue.skills):
            if need.skill not in agents.skills:
                report.add(
                    "queues",
                    (*at, "skills", n, "skill"),
                    _unknown("skill", need.skill, agents.skills),
                )
        over = queue.overflow
        if isinstance(over, OverflowQueue):
            target = over.target
            if target not in queues.queues:
                report.add(
                    "queues", (*at, "overflow", "target"), _unknown("queue", target, queues.queues)
                )
            elif target == queue_id:
                report.add(
                    "queues", (*at, "overflow", "target"), "a queue cannot overflow to itself"
                )
            else:
                graph[queue_id] = target
        used = [(("overflow", "prompt"), getattr(over, "prompt", None))]
        if queue.announce is not None:
            used += [
                (("announce", "position_prompt"), queue.announce.position_prompt),
                (("announce", "wait_prompt"), queue.announce.wait_prompt),
            ]
        for loc, prompt in used:
            if prompt is not None and prompt not in prompts.prompts:
                report.add("queues", (*at, *loc), f"unknown prompt {prompt!r} (prompts.yaml)")
        if queue.rona.pause_reason not in agents.pause_reasons:
            report.add(
                "queues",
                (*at, "rona", "pause_reason"),
                _unknown("pause reason", queue.rona.pause_reason, agents.pause_reasons),
            )
        lowest = {
            n.skill: (n.relax[-1].min_level if n.relax else n.min_level) for n in queue.skills
        }
        if not any(
            all(agent.skills.get(s, 0) >= level for s, level in lowest.items())
            for agent in agents.agents
        ):
            report.add("queues", at, "no agent has the skills this queue needs", "warning")
    for start in graph:
        trail = [start]
        while trail[-1] in graph:
            nxt = graph[trail[-1]]
            if nxt in trail:
                if nxt == start:
                    cycle = " -> ".join([*trail, nxt])
                    report.add(
                        "queues", ("queues", start, "overflow", "target"), f"overflow loop: {cycle}"
                    )
                break
            trail.append(nxt)


def _agents(report: Report, agents: AgentsFile, seats: SeatsFile) -> None:
    _unique(
        report, "agents", "agents", [(a.number, "number") for a in agents.agents], "agent number"
    )
    seat_ids = {seat.id for seat in seats.seats}
    for i, agent in enumerate(agents.agents):
        for skill in agent.skills:
            if skill not in agents.skills:
                report.add(
                    "agents",
                    ("agents", i, "skills", skill),
                    _unknown("skill", skill, agents.skills),
                )
        if agent.home_seat is not None and agent.home_seat not in seat_ids:
            report.add(
                "agents",
                ("agents", i, "home_seat"),
                f"unknown seat {agent.home_seat!r} (seats.yaml)",
            )


def _seats(report: Report, seats: SeatsFile) -> None:
    _unique(report, "seats", "seats", [(s.id, "id") for s in seats.seats], "seat id")
    _unique(report, "seats", "seats", [(s.endpoint, "endpoint") for s in seats.seats], "endpoint")


def _languages(
    report: Report, platform: PlatformFile, prompts: PromptsFile, menus: MenuSet
) -> None:
    codes = platform.languages.codes
    primary = codes[0]
    for prompt_id, prompt in prompts.prompts.items():
        at: Loc = ("prompts", prompt_id)
        if primary not in prompt.sounds:
            report.add("prompts", (*at, "sounds"), f"no sound in the primary language {primary!r}")
        for code in prompt.sounds:
            if code not in codes:
                report.add(
                    "prompts",
                    (*at, "sounds", code),
                    f"language {code!r} is not configured (platform.yaml: {', '.join(codes)})",
                )
    if menus.languages[0] != primary or any(code not in codes for code in menus.languages):
        report.add(
            "menus",
            ("languages",),
            f"languages must be the platform's ({', '.join(codes)}), primary first",
        )


def _ivr(
    report: Report,
    menus: MenuSet,
    survey: BaseModel,
    calendar: BaseModel,
    prompts: PromptsFile,
    queues: QueuesFile,
    agents: AgentsFile,
) -> None:
    defined = {
        "prompts": (set(prompts.prompts), "prompt", "prompts.yaml"),
        "queues": (set(queues.queues), "queue", "queues.yaml"),
        "menus": (set(menus.menus), "menu", "menus.yaml"),
    }
    for section, model in (("menus", menus), ("survey", survey), ("calendar", calendar)):
        refs: dict[str, set[str]] = model.references()  # type: ignore[attr-defined]
        for kind, idents in refs.items():
            known, label, where = defined[kind]
            for ident in sorted(idents - known):
                report.dangling(section, label, ident, where)
    for menu_id, menu in menus.menus.items():
        for node_id, node in menu.nodes.items():
            if isinstance(node, QueueNode):
                for skill in node.skills:
                    if skill not in agents.skills:
                        report.add(
                            "menus",
                            ("menus", menu_id, "nodes", node_id, "skills", skill),
                            _unknown("skill", skill, agents.skills),
                        )


def _outbound(report: Report, outbound: OutboundFile, queues: QueuesFile) -> None:
    for name in outbound.queues:
        if name not in queues.queues:
            report.add("outbound", ("queues", name), _unknown("queue", name, queues.queues))


def _visits(
    report: Report, outbound: OutboundFile, queues: QueuesFile, prompts: PromptsFile, survey: Any
) -> None:
    """The automatic return visit's queue, prompts and keys."""
    spec = outbound.return_visits
    at: Loc = ("return_visits",)
    if spec.agent_queue is not None and spec.agent_queue not in queues.queues:
        report.add(
            "outbound", (*at, "agent_queue"), _unknown("queue", spec.agent_queue, queues.queues)
        )
    for field in ("notice_prompts", "refused_prompts"):
        for i, prompt in enumerate(getattr(spec, field)):
            if prompt not in prompts.prompts:
                report.add("outbound", (*at, field, i), f"unknown prompt {prompt!r} (prompts.yaml)")
    for field in ("agent_key", "refuse_key"):
        key = getattr(spec, field)
        if survey.level_for(key) is not None:
            report.add(
                "outbound", (*at, field), f"key {key!r} is a rating of survey.yaml: choose another"
            )
