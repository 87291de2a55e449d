"""``lines.yaml``: every telephone line the plan names, by how it was integrated.

* ``merged``: lines whose callers are now served by the platform (直接整合,
  and Liyang's 并网运行 and 进驻平台). Each number is *routed*: a call to it
  reaches the engine (dialled, or forwarded with SIP Diversion) and follows a
  route from ``routing.yaml`` that depends on the line's phase (see
  :mod:`cti.config.phase`).  After the cut-over a number is either
  ``withdrawn`` (撤销号码: an announcement, then hang-up), ``kept`` (号码保留:
  its ``kept_route``), or it is the platform's ``main_number`` itself.
* ``parallel``: hotlines that keep their own number and staff (并联整合);
  agents reach them with a three-way call. Never routed.
* ``partners``: service lines under the convenience-service agreement
  (便民服务协约): listed for agents, never routed.
* ``emergency``: 110, 119, 120, 12395: hand-off targets only, never routed.

``batches`` name the integration waves of a timetable (Liyang's 附件3, one per
month); a line in a batch takes the batch's dates unless it sets its own.
Date order (go_live <= cut_over, after resolving line > batch > platform) is
checked across files by :mod:`cti.config.crossref`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from cti.config.types import Date, Digits, Endpoint, FrozenMap, Ident, Int, Section, Text

BatchId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
"""A batch name, e.g. ``2017-06``."""

Numbers = Annotated[tuple[Digits, ...], Field(min_length=1, max_length=8)]


class Presented(StrEnum):
    """Whose number a hand-off or three-way target is shown as the caller."""

    CITIZEN = "citizen"  # the caller's own number (withheld: the hotline's)
    HOTLINE = "hotline"  # engine.yaml outbound.caller_id, or the number the citizen dialled


class Mode(StrEnum):
    """How a line was integrated (整合方式)."""

    DIRECT = "direct"
    """直接整合: the department's line is absorbed; callers are served by 12345 agents."""
    GRID = "grid"
    """并网运行: a 123xx special-service number kept outside, forwarded to 12345 inside."""
    SEATED = "seated"
    """进驻平台: the department's desk sits in the platform, keeping its way of working."""
    PARALLEL = "parallel"
    """并联整合: the line keeps its own staff; reached by a three-way call."""


class AfterCutover(StrEnum):
    """What happens to a merged number when its transition ends."""

    WITHDRAWN = "withdrawn"
    """撤销号码: an announcement ("please dial 12345"), then hang-up."""
    KEPT = "kept"
    """号码保留: the number stays in service and follows its kept route."""
    MAIN_NUMBER = "main_number"
    """The platform's own number (the plan's line 1); routed by ``routing.yaml: main``."""


class Batch(Section):
    """One integration wave of a timetable."""

    go_live: Date = Field(description="the wave's lines are served by the platform from this day")
    cut_over: Date | None = Field(
        default=None, description="end of the wave's transition (default: platform transition)"
    )
    label: Text | None = Field(default=None, description="e.g. 2017年6月")


class MergedLine(Section):
    """A line whose callers the platform now serves; every number in it is routed."""

    no: Annotated[Int, Field(ge=1)] | None = Field(
        default=None, description="serial number in the plan's annex (序号)"
    )
    numbers: Numbers = Field(description="the line's numbers, quoted strings")
    department: Text = Field(description="主管部门（单位）")
    name: Text = Field(description="热线名称")
    mode: Literal[Mode.DIRECT, Mode.GRID, Mode.SEATED] = Field(
        default=Mode.DIRECT, description="direct (直接整合) | grid (并网运行) | seated (进驻平台)"
    )
    after_cutover: AfterCutover = Field(description="withdrawn | kept | main_number (备注)")
    batch: BatchId | None = Field(default=None, description="integration wave in 'batches'")
    go_live: Date | None = Field(default=None, description="overrides the batch / platform date")
    cut_over: Date | None = Field(default=None, description="overrides the batch / platform date")
    route: Ident | None = Field(
        default=None,
        description="route during the transition (default routing.yaml merged.transition_route)",
    )
    kept_route: Ident | None = Field(
        default=None,
        description="route after the cut-over of a kept number (default merged.kept_route)",
    )
    note: Text | None = Field(default=None, description="备注 as the plan words it")

    @model_validator(mode="after")
    def _consistent(self) -> MergedLine:
        if self.kept_route is not None and self.after_cutover is not AfterCutover.KEPT:
            raise ValueError("kept_route is only for lines kept after the cut-over")
        if self.after_cutover is AfterCutover.MAIN_NUMBER and len(self.numbers) != 1:
            raise ValueError("the main-number line has exactly one number")
        if len(set(self.numbers)) != len(self.numbers):
            raise ValueError("a number is listed twice in this line")
        return self


class ParallelLine(Section):
    """A retained hotline reached by a three-way call (三方通话); never routed."""

    id: Ident = Field(description="the id agents and the API use for this target")
    no: Annotated[Int, Field(ge=1)] | None = Field(default=None, description="序号 in the plan")
    numbers: Numbers = Field(description="the first one is dialled")
    extension: Annotated[str, StringConstraints(pattern=r"^[0-9*#]{1,10}$")] | None = Field(
        default=None, description="DTMF sent after answer, e.g. '2' for Liyang's 12366-2"
    )
    department: Text
    name: Text
    mode: Literal[Mode.PARALLEL] = Mode.PARALLEL
    dial: Endpoint | None = Field(
        default=None, description="dial string overriding engine.yaml outbound.dial_pattern"
    )
    present: Presented = Field(
        default=Presented.HOTLINE,
        description="the number the line sees on a three-way call: the hotline's (default)"
        " or the citizen's",
    )
    batch: BatchId | None = Field(default=None, description="integration wave in 'batches'")
    note: Text | None = None


class PartnerLine(Section):
    """A convenience-service partner line (便民服务协约单位): listed, never routed."""

    no: Annotated[Int, Field(ge=1)] | None = None
    numbers: Numbers
    department: Text
    name: Text
    note: Text | None = None


class EmergencyLine(Section):
    """An emergency service (报警和紧急救助): a hand-off target, never a route."""

    number: Digits
    name: Text
    department: Text
    dial: Endpoint | None = Field(
        default=None, description="dial string overriding engine.yaml outbound.dial_pattern"
    )
    present: Presented = Field(
        default=Presented.CITIZEN,
        description="the number the service sees: the citizen's (default: they call the person"
        " in danger back) or the hotline's",
    )


class LinesFile(Section):
    """Content of ``lines.yaml``."""

    batches: FrozenMap[BatchId, Batch] = Field(
        default_factory=dict, description="integration waves (e.g. one per month)"
    )
    merged: tuple[MergedLine, ...] = Field(description="routed lines (直接整合/并网运行/进驻平台)")
    parallel: tuple[ParallelLine, ...] = Field(default=(), description="并联整合 targets")
    partners: tuple[PartnerLine, ...] = Field(default=(), description="便民服务协约 lines")
    emergency: tuple[EmergencyLine, ...] = Field(
        min_length=1, description="110 / 119 / 120 / 12395: hand-off only"
    )
