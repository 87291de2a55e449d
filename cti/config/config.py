"""The whole configuration of one deployment: immutable, cross-checked, with lookups.

A :class:`Config` is built only from files that validated and passed every
cross-check, so its lookups can trust references.  It never changes: a
reload builds a new one (:mod:`cti.config.reload`), and a call keeps the
object it captured when it started.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

import callbacks
from cti.config.phase import LineDates, LinePhase, resolve_dates
from cti.config.sections import (
    AgentsFile,
    Calendar,
    EngineFile,
    LinesFile,
    MenuSet,
    OutboundFile,
    PlatformFile,
    PromptsFile,
    QueuesFile,
    RoutingFile,
    SeatsFile,
    Survey,
)
from cti.config.sections.agents import Agent
from cti.config.sections.lines import AfterCutover, EmergencyLine, MergedLine, ParallelLine
from cti.config.sections.routing import Route
from cti.config.types import FrozenDict

RouteKind = Literal["main", "merged", "number", "unknown"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a call to ``dialled`` goes at a given moment.

    ``route_id``/``route`` are the route to run (already the ``closed_route``
    when ``closed``); ``line`` and ``phase`` are set for a merged line, so the
    call can be tagged with the original department (首接 pre-routing).
    """

    dialled: str
    kind: RouteKind
    route_id: str
    route: Route
    line: MergedLine | None = None
    phase: LinePhase | None = None
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Summary:
    routed_numbers: int
    merged_lines: int
    parallel_lines: int
    partner_lines: int
    queues: int
    agents: int
    seats: int
    menus: int

    def __str__(self) -> str:
        return (
            f"{_count(self.routed_numbers, 'routed number')} "
            f"({_count(self.merged_lines, 'merged line')}), "
            f"{_count(self.parallel_lines, 'parallel line')}, "
            f"{_count(self.partner_lines, 'partner line')}, {_count(self.queues, 'queue')}, "
            f"{_count(self.agents, 'agent')}, {_count(self.seats, 'seat')}, "
            f"{_count(self.menus, 'menu')}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True, slots=True, eq=False)
class Config:
    """One validated deployment.  Build it with :func:`cti.config.load_config`."""

    directory: str
    platform: PlatformFile
    lines: LinesFile
    routing: RoutingFile
    queues: QueuesFile
    agents: AgentsFile
    seats: SeatsFile
    prompts: PromptsFile
    engine: EngineFile
    menus: MenuSet
    calendar: Calendar
    survey: Survey
    outbound: OutboundFile = field(default_factory=OutboundFile)
    _merged: FrozenDict[str, MergedLine] = field(repr=False, default_factory=FrozenDict)
    _dates: FrozenDict[str, LineDates] = field(repr=False, default_factory=FrozenDict)
    _routed: FrozenDict[str, str] = field(repr=False, default_factory=FrozenDict)
    _agents: FrozenDict[str, Agent] = field(repr=False, default_factory=FrozenDict)

    @classmethod
    def build(cls, directory: str, **sections: object) -> Config:
        """Assemble validated, cross-checked sections and index them."""
        draft = cls(directory=directory, **sections)  # type: ignore[arg-type]
        merged: dict[str, MergedLine] = {}
        dates: dict[str, LineDates] = {}
        routed: dict[str, str] = {draft.platform.main_number: "main"}
        batches = dict(draft.lines.batches)
        for line in draft.lines.merged:
            line_dates = resolve_dates(line, batches, draft.platform.transition)
            for number in line.numbers:
                if line.after_cutover is AfterCutover.MAIN_NUMBER:
                    continue
                merged[number] = line
                dates[number] = line_dates
                routed[number] = "merged"
        for entry in draft.routing.numbers:
            routed[entry.number] = "number"
        agents = {agent.number: agent for agent in draft.agents.agents}
        for name, value in (
            ("_merged", merged),
            ("_dates", dates),
            ("_routed", routed),
            ("_agents", agents),
        ):
            object.__setattr__(draft, name, FrozenDict(value))
        return draft

    def __repr__(self) -> str:
        return f"<Config {self.directory} {self.platform.city}: {self.summary()}>"

    # -- time --------------------------------------------------------------

    @property
    def timezone(self) -> ZoneInfo:
        """The platform's time zone (``calendar.yaml``)."""
        return ZoneInfo(self.calendar.timezone)

    def local_date(self, now: dt.datetime) -> dt.date:
        """The platform's local date at ``now`` (timezone-aware)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.astimezone(self.timezone).date()

    # -- lines ---------------------------------------------------------------

    def merged_line(self, number: str) -> MergedLine | None:
        """The merged line of ``number`` (the main number is not one), or None."""
        return self._merged.get(number)

    def line_dates(self, number: str) -> LineDates:
        """The resolved go-live and cut-over of a merged number (KeyError if not one)."""
        return self._dates[number]

    def line_phase(self, number: str, today: dt.date) -> LinePhase:
        """The phase of a merged number on local date ``today`` (see :mod:`cti.config.phase`)."""
        return self._dates[number].phase(today)

    @property
    def routed_numbers(self) -> frozenset[str]:
        """Every number that reaches a route: main, merged lines, routing.yaml numbers."""
        return frozenset(self._routed)

    def agent(self, number: str) -> Agent | None:
        """The agent who logs in with ``number``, or None."""
        return self._agents.get(number)

    def parallel_line(self, line_id: str) -> ParallelLine | None:
        """The three-way-call target named ``line_id`` in lines.yaml, or None."""
        for line in self.lines.parallel:
            if line.id == line_id:
                return line
        return None

    def dial_string(self, target: ParallelLine | EmergencyLine | str) -> str:
        """What to dial for a parallel line, an emergency line or a bare number.

        A line's own ``dial`` wins; otherwise engine.yaml ``outbound.dial_pattern``
        with the (first) number.  A parallel line's ``extension`` is sent as
        DTMF after answer, by the caller of this method.
        """
        if isinstance(target, str):
            return self.engine.outbound.dial_pattern.format(number=target)
        if target.dial is not None:
            return target.dial
        number = target.number if isinstance(target, EmergencyLine) else target.numbers[0]
        return self.engine.outbound.dial_pattern.format(number=number)

    def sound(self, prompt: str, language: str) -> str:
        """The sound name of ``prompt`` in ``language`` (a code such as ``en``).

        Falls back to the primary language when the prompt has no sound in
        ``language``; KeyError for an unknown prompt.
        """
        return self.prompts.sound(prompt, language, self.platform.languages.primary.code)

    # -- calls out -----------------------------------------------------------

    @property
    def presented_number(self) -> str:
        """The number citizens see on calls out (outbound.yaml, else the main number)."""
        return self.outbound.presented_number or self.platform.main_number

    def dial_rules(self) -> callbacks.DialRules:
        """outbound.yaml's dial rules, with the numbers of lines.yaml lists filled in."""
        rules = []
        for spec in self.outbound.dial_rules:
            pattern = spec.pattern
            if spec.lines is not None:
                numbers = sorted(self._line_numbers(spec.lines.value))
                pattern = "|".join(re.escape(n) for n in numbers) or "(?!)"
            assert pattern is not None  # the model requires pattern or lines
            roles = frozenset(spec.roles) if spec.roles is not None else None
            rules.append(callbacks.DialRule(spec.name, pattern, spec.action == "allow", roles))
        return callbacks.DialRules(tuple(rules))

    def _line_numbers(self, which: str) -> set[str]:
        if which == "emergency":
            return {line.number for line in self.lines.emergency}
        lines = self.lines.parallel if which == "parallel" else self.lines.partners
        return {number for line in lines for number in line.numbers}

    def may_dial(self, agent: str, number: str) -> callbacks.Verdict:
        """May agent ``agent`` (a login number) dial ``number``?  Unknown agents may not."""
        known = self.agent(agent)
        if known is None:
            return callbacks.Verdict(False, number, None, f"no agent {agent!r}")
        return self.dial_rules().check(number, known.role)

    def callback_policy(self) -> callbacks.CallbackPolicy:
        spec = self.outbound.callbacks
        start, end = spec.quiet_hours.times()
        return callbacks.CallbackPolicy(
            attempts=spec.attempts,
            spacing=dt.timedelta(minutes=spec.spacing_minutes),
            deadline=dt.timedelta(minutes=spec.deadline_minutes),
            quiet=callbacks.QuietHours(start, end),
            timezone=self.calendar.timezone,
            short_abandon_s=float(spec.short_abandon_seconds),
        )

    def visit_policy(self) -> callbacks.VisitPolicy:
        spec = self.outbound.return_visits
        return callbacks.VisitPolicy(
            attempts=spec.attempts,
            spacing=dt.timedelta(minutes=spec.spacing_minutes),
            max_lines=spec.max_lines,
            slow_down_waiting=spec.slow_down_waiting,
        )

    def callback_style(self, queue: str | None) -> callbacks.Style:
        """How callbacks of ``queue`` are offered (preview unless outbound.yaml says otherwise)."""
        style = self.outbound.queues.get(queue or "")
        return callbacks.Style(style.value) if style is not None else callbacks.Style.PREVIEW

    # -- routing -------------------------------------------------------------

    def resolve(self, dialled: str, now: dt.datetime) -> RouteDecision:
        """The route a call to ``dialled`` takes at ``now`` (timezone-aware).

        The number's route follows :mod:`cti.config.phase` for merged lines;
        then, when the route has a ``closed_route`` and the calendar says
        closed at ``now``, the closed route is taken instead.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        routing = self.routing
        line: MergedLine | None = None
        phase: LinePhase | None = None
        kind: RouteKind = "unknown"
        route_id = routing.unknown_route
        if dialled == self.platform.main_number:
            kind, route_id = "main", routing.main
        elif (line := self._merged.get(dialled)) is not None:
            kind = "merged"
            phase = self.line_phase(dialled, self.local_date(now))
            if phase is not LinePhase.AFTER_CUTOVER:
                route_id = line.route or routing.merged.transition_route
            elif line.after_cutover is AfterCutover.KEPT:
                route_id = line.kept_route or routing.merged.kept_route
            else:
                route_id = routing.merged.withdrawn_route
        else:
            for entry in routing.numbers:
                if entry.number == dialled:
                    kind, route_id = "number", entry.route
                    break
        route = routing.routes[route_id]
        closed = route.closed_route is not None and not self.calendar.is_open(now)
        if closed:
            assert route.closed_route is not None
            route_id = route.closed_route
            route = routing.routes[route_id]
        return RouteDecision(dialled, kind, route_id, route, line, phase, closed)

    # -- summary -------------------------------------------------------------

    def summary(self) -> Summary:
        return Summary(
            routed_numbers=len(self._routed),
            merged_lines=len(self.lines.merged),
            parallel_lines=len(self.lines.parallel),
            partner_lines=len(self.lines.partners),
            queues=len(self.queues.queues),
            agents=len(self.agents.agents),
            seats=len(self.seats.seats),
            menus=len(self.menus.menus),
        )
