"""The configuration as the switchboard sees it: :func:`flow_config` over :class:`~cti.config.Config`.

The switchboard never reads YAML; it takes a :class:`switchboard.FlowConfig`
snapshot per load.  :class:`ConfigRouter` answers its routing questions with
:meth:`Config.resolve`, so a merged line's phase and the calendar's closed
routes are decided where they are configured.
"""

from __future__ import annotations

import datetime as dt

from cti.config import Config
from cti.config.sections.queues import Queue
from cti.logs import mask_number
from switchboard import FlowConfig, QueueMedia, RouteKind, RoutePlan, VisitFlow
from switchboard.config import DialVerdict

# The originate of an agent leg outlives the ACD's ring time by this much:
# the ACD runs the exact deadline itself.
RING_GRACE_S = 5
# A closing prompt is cut short after this long.
CLOSING_GUARD_S = 60.0
# A voicemail left without a configured limit.
VOICEMAIL_MAX_S = 120
# What an agent hears when the seat phone dialled a number that may not be dialled.
DIAL_REFUSED_PROMPT = "dial_refused"


class ConfigRouter:
    """The route of a number at a moment, from one configuration."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def __repr__(self) -> str:
        return f"<ConfigRouter {self._config.directory}>"

    @property
    def routed_numbers(self) -> frozenset[str]:
        return self._config.routed_numbers

    def resolve(self, number: str, at: dt.datetime) -> RoutePlan:
        decision = self._config.resolve(number, at)
        route = decision.route
        line = decision.line
        return RoutePlan(
            route_id=decision.route_id,
            kind=RouteKind(decision.kind),
            announcement=route.announcement,
            skippable=route.skippable,
            notice=route.notice,
            queue=route.queue,
            menu=route.menu,
            priority=route.priority,
            tags=dict(route.tags),
            department=line.department if line is not None else None,
            line_name=line.name if line is not None else None,
            line_phase=decision.phase.value if decision.phase is not None else None,
            closed=decision.closed,
        )


class ConfigDialling:
    """Calls out as one configuration allows them: outbound.yaml's rules, engine.yaml's trunk."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._rules = config.dial_rules()

    def __repr__(self) -> str:
        return f"<ConfigDialling {len(self._rules.rules)} rules>"

    def check(self, agent: str, number: str) -> DialVerdict:
        known = self._config.agent(agent)
        if known is None:
            verdict = self._config.may_dial(agent, number)
        else:
            verdict = self._rules.check(number, known.role)
        return DialVerdict(
            verdict.allowed, verdict.number, verdict.rule, verdict.message,
            mask_number(verdict.number),
        )  # fmt: skip

    def endpoint(self, number: str) -> str:
        return self._config.dial_string(number)


def _media(queue: Queue) -> QueueMedia:
    overflow = queue.overflow
    announce = queue.announce
    return QueueMedia(
        music_on_hold=queue.music_on_hold,
        position_prompt=announce.position_prompt if announce is not None else None,
        wait_prompt=announce.wait_prompt if announce is not None else None,
        overflow_prompt=overflow.prompt if overflow is not None else None,
        voicemail_max_s=getattr(overflow, "max_seconds", VOICEMAIL_MAX_S),
    )


def flow_config(config: Config, version: str) -> FlowConfig:
    """The snapshot of ``config`` (loaded as ``version``) that new calls take."""
    outbound = config.engine.outbound
    return FlowConfig(
        version=version,
        router=ConfigRouter(config),
        menus=config.menus,
        calendar=config.calendar,
        survey=config.survey,
        queues={qid: _media(q) for qid, q in config.queues.queues.items()},
        seats={seat.id: seat.endpoint for seat in config.seats.seats},
        language=str(config.platform.languages.primary),
        closing_guard_s=CLOSING_GUARD_S,
        ring_grace_s=RING_GRACE_S,
        transfer_ring_s=float(outbound.originate_timeout),
        outbound_caller_id=outbound.caller_id or "",
        dialling=ConfigDialling(config),
        presented_number=config.presented_number,
        dial_timeout_s=int(outbound.originate_timeout),
        agent_ring_s=int(outbound.originate_timeout),
        dial_refused_prompt=(
            DIAL_REFUSED_PROMPT if DIAL_REFUSED_PROMPT in config.prompts.prompts else None
        ),
        visits=visit_flow(config),
    )


def _main_queue(config: Config) -> str:
    """The queue of the main number's route (else the first queue configured)."""
    main = config.routing.routes.get(config.routing.main)
    if main is not None and main.queue is not None:
        return main.queue
    return next(iter(config.queues.queues))


def visit_flow(config: Config) -> VisitFlow:
    """The automatic return visit's settings (``outbound.yaml``) as its calls take them."""
    spec = config.outbound.return_visits
    return VisitFlow(
        dial_pattern=config.engine.outbound.dial_pattern,
        caller_id=config.presented_number,
        ring_s=spec.ring_seconds,
        notice=tuple(spec.notice_prompts),
        agent_key=spec.agent_key,
        refuse_key=spec.refuse_key,
        agent_queue=spec.agent_queue or _main_queue(config),
        refused_prompts=tuple(spec.refused_prompts),
        attempts=spec.attempts,
    )
