"""What a call flow needs to know of the configuration, as plain typed data.

The switchboard never reads YAML or imports ``cti.config``.  The shell maps
its configuration into a :class:`FlowConfig` once per load; every call keeps
the snapshot it arrived under, so a reload changes new calls only.

Routing is the one part that needs code: the route of a number depends on
the date (a merged line in transition or after cut-over) and the calendar
(a closed route).  The shell supplies it as a :class:`Router`, whose answer
is a :class:`RoutePlan`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import ivr


class RouteKind(StrEnum):
    """Which kind of number the call reached."""

    MAIN = "main"  # the 12345 number itself
    MERGED = "merged"  # a department line merged into 12345
    NUMBER = "number"  # another number of routing.yaml
    UNKNOWN = "unknown"  # not in service


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Where a call goes: prompts first, then exactly one of queue, menu or hang-up.

    ``announcement`` (skippable by any key when ``skippable``) and ``notice``
    (录音提示) are prompt ids played in that order.  ``department`` and
    ``line_name`` are set for a merged line, ``line_phase`` names its phase
    (``transition``, ``after_cutover`` ...).
    """

    route_id: str
    kind: RouteKind
    announcement: str | None = None
    skippable: bool = False
    notice: str | None = None
    queue: str | None = None
    menu: str | None = None
    priority: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    department: str | None = None
    line_name: str | None = None
    line_phase: str | None = None
    closed: bool = False


class Router(Protocol):
    """The route of a number at a moment (``cti.config.Config.resolve`` behind it)."""

    @property
    def routed_numbers(self) -> frozenset[str]:
        """Every number that reaches a route of its own (a forwarded call keeps it)."""
        ...

    def resolve(self, number: str, at: dt.datetime) -> RoutePlan:
        """The route a call to ``number`` takes at ``at`` (timezone-aware)."""
        ...


@dataclass(frozen=True, slots=True)
class DialVerdict:
    """May an agent dial a number (outbound.yaml dial rules), and as what.

    ``number`` is the number as it will be dialled (separators removed),
    ``shown`` the same number as the audit log and the logs show it (masked).
    """

    allowed: bool
    number: str
    rule: str | None
    message: str
    shown: str


class Dialling(Protocol):
    """Calls out as the configuration allows them (``cti.config.Config.may_dial`` behind it)."""

    def check(self, agent: str, number: str) -> DialVerdict:
        """The verdict for agent ``agent`` (a login number) dialling ``number``."""
        ...

    def endpoint(self, number: str) -> str:
        """What to dial for ``number`` (engine.yaml ``outbound.dial_pattern``)."""
        ...


@dataclass(frozen=True, slots=True)
class QueueMedia:
    """What a caller hears in a queue and when it leaves it by overflow.

    ``position_prompt`` / ``wait_prompt``: the position and expected-wait
    announcements (each followed by a ``number:N`` media); ``overflow_prompt``
    is played before the caller is released (callback confirmation, a
    prompt-and-hang-up, the invitation to leave a message).
    """

    music_on_hold: str = "default"
    position_prompt: str | None = None
    wait_prompt: str | None = None
    overflow_prompt: str | None = None
    voicemail_max_s: int = 120


@dataclass(frozen=True, slots=True)
class VisitFlow:
    """The automatic return visit (回访) as its calls see it (``outbound.yaml`` ``return_visits``).

    ``dial_pattern`` has ``{number}`` for the citizen's number; ``caller_id``
    is the number presented.  ``notice`` plays when the citizen answers,
    then the survey; ``agent_key`` asks for a person (queued to
    ``agent_queue`` with the ``callback`` tag), ``refuse_key`` refuses the
    survey (``refused_prompts``, then the hang-up).
    """

    dial_pattern: str
    caller_id: str
    ring_s: int = 30
    notice: tuple[str, ...] = ()
    agent_key: str = "0"
    refuse_key: str = "9"
    agent_queue: str = "general"
    refused_prompts: tuple[str, ...] = ()
    attempts: int = 3


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """One configuration snapshot as the call flows see it.

    ``seats`` maps a seat to the endpoint its agent leg is dialled at;
    ``version`` is stamped on every call record.  ``closing_guard_s`` bounds a
    closing prompt; ``ring_grace_s`` is added to the ACD's ring time for the
    originate's own timeout (the ACD runs the exact deadline itself).
    ``transfer_ring_s`` is how long a transfer target may ring, and
    ``outbound_caller_id`` the number it sees when the target names none
    (the dialled number when empty).

    Calls out (:mod:`switchboard.outbound`): ``dialling`` checks and dials
    the numbers agents ask for (None: agents may dial nothing),
    ``presented_number`` is what citizens see, ``dial_timeout_s`` how long a
    citizen's phone may ring, ``agent_ring_s`` how long the agent's seat
    rings for a click-to-dial, ``dial_refused_prompt`` what the agent hears
    when a seat phone dialled a number that may not be dialled.
    """

    version: str
    router: Router
    menus: ivr.MenuSet
    calendar: ivr.Calendar
    survey: ivr.Survey
    queues: Mapping[str, QueueMedia]
    seats: Mapping[str, str]
    language: str = "zh"
    closing_guard_s: float = 60.0
    ring_grace_s: int = 5
    transfer_ring_s: float = 30.0
    outbound_caller_id: str = ""
    dialling: Dialling | None = None
    presented_number: str = ""
    dial_timeout_s: int = 30
    agent_ring_s: int = 20
    dial_refused_prompt: str | None = None
    visits: VisitFlow | None = None
    """Automatic return visits; None: the engine makes none."""

    def queue_media(self, queue: str | None) -> QueueMedia:
        """The media of ``queue``, or the defaults for a queue not listed."""
        return self.queues.get(queue or "", _DEFAULT_MEDIA)


_DEFAULT_MEDIA = QueueMedia()
