"""``routing.yaml``: what a dialled number leads to.

A *route* is what a caller hears and where they go: an optional
``announcement`` (skippable by any key when ``skippable``), an optional
recording ``notice`` (录音提示), then exactly one of ``queue``, ``menu`` or
``hangup``.  ``closed_route`` is the time condition: when ``calendar.yaml``
says the platform is closed (a holiday or outside configured hours) the call
takes that route instead; a 7x24 platform (GB/T 33358) simply never closes.

Which route a call takes: the main number takes ``main``; a merged line takes
its own ``route`` / ``kept_route`` or the defaults under ``merged`` according
to its phase; a number under ``numbers`` takes its route; any other number
takes ``unknown_route``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from cti.config.types import Digits, Flag, FrozenMap, Ident, Priority, Section, Text


class Route(Section):
    """One caller path. Exactly one of ``queue``, ``menu``, ``hangup``."""

    announcement: Ident | None = Field(
        default=None, description="prompt played first, e.g. 'this line has merged into 12345'"
    )
    skippable: Flag = Field(default=False, description="any key skips the announcement")
    notice: Ident | None = Field(default=None, description="recording notice prompt (录音提示)")
    queue: Ident | None = Field(default=None, description="then wait in this queue")
    menu: Ident | None = Field(default=None, description="then run this menu (menus.yaml)")
    hangup: Flag = Field(default=False, description="then hang up")
    priority: Priority = Field(default=0, description="caller priority class in the queue")
    tags: FrozenMap[Ident, Text] = Field(
        default_factory=dict, description="tags put on the call record (e.g. channel: 12345)"
    )
    closed_route: Ident | None = Field(
        default=None, description="route taken when calendar.yaml says closed"
    )
    description: Text | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> Route:
        chosen = [
            n
            for n, on in (("queue", self.queue), ("menu", self.menu), ("hangup", self.hangup))
            if on
        ]
        if len(chosen) != 1:
            got = ", ".join(chosen) if chosen else "none"
            raise ValueError(f"a route needs exactly one of queue, menu, hangup (got {got})")
        if self.skippable and self.announcement is None:
            raise ValueError("skippable needs an announcement to skip")
        return self


class MergedDefaults(Section):
    """Routes of merged lines that do not name their own."""

    transition_route: Ident = Field(description="during the transition (过渡期)")
    withdrawn_route: Ident = Field(description="after the cut-over of a withdrawn number")
    kept_route: Ident = Field(description="after the cut-over of a kept number")


class RoutedNumber(Section):
    """Another dialled number (DID) of the platform with its own route."""

    number: Digits
    route: Ident
    description: Text | None = None


class RoutingFile(Section):
    """Content of ``routing.yaml``."""

    main: Ident = Field(description="route of the main number (platform.yaml main_number)")
    merged: MergedDefaults
    unknown_route: Ident = Field(description="route of a number that is not configured")
    numbers: tuple[RoutedNumber, ...] = Field(default=(), description="other routed numbers")
    routes: FrozenMap[Ident, Route] = Field(description="route id -> route")
