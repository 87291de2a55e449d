"""The dates of a merged line and the phase a day falls in.

Rule (the Nantong plan's 四（一）, the Liyang plan's 附件3):

* A line's dates come from the most specific place that gives them: the
  line itself, else its batch (Liyang's monthly waves), else the platform's
  transition window (``platform.yaml``).
* ``day < go_live``: **before go-live**.  The department still answers its own
  line; a call that reaches the platform anyway (forwarding switched on
  early) is served as in the transition, so no caller is turned away.
* ``go_live <= day < cut_over``: **transition** (过渡期): an announcement that
  the line has merged into 12345, then the 12345 queue, tagged with the line's
  department.
* ``day >= cut_over``: **after the cut-over**: a withdrawn number
  (撤销号码) hears that it is no longer in service and is hung up; a kept
  number (号码保留, e.g. a 123xx special-service number its ministry requires)
  follows its kept route.

Days are local dates in the platform's time zone (``calendar.yaml``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from cti.config.sections.lines import Batch, MergedLine
from cti.config.sections.platform import Transition


class LinePhase(StrEnum):
    BEFORE_GO_LIVE = "before_go_live"
    TRANSITION = "transition"
    AFTER_CUTOVER = "after_cutover"


@dataclass(frozen=True, slots=True)
class LineDates:
    """The resolved window of one line and where each date came from.

    ``go_live_from`` / ``cut_over_from`` are ``"line"``, ``"batch <id>"`` or
    ``"platform"``, for error messages and the admin view.
    """

    go_live: dt.date
    cut_over: dt.date
    go_live_from: str
    cut_over_from: str

    def phase(self, day: dt.date) -> LinePhase:
        """The phase of ``day`` (a local date) for this line; see the module rule."""
        if day < self.go_live:
            return LinePhase.BEFORE_GO_LIVE
        if day < self.cut_over:
            return LinePhase.TRANSITION
        return LinePhase.AFTER_CUTOVER


def resolve_dates(line: MergedLine, batches: dict[str, Batch], transition: Transition) -> LineDates:
    """The dates of ``line``: line > batch > platform.

    The batch must exist (the cross-check reports a missing one first); the
    result is not checked for order here.
    """
    batch = batches.get(line.batch) if line.batch is not None else None
    if line.go_live is not None:
        go_live, go_from = line.go_live, "line"
    elif batch is not None:
        go_live, go_from = batch.go_live, f"batch {line.batch}"
    else:
        go_live, go_from = transition.go_live, "platform"
    if line.cut_over is not None:
        cut_over, cut_from = line.cut_over, "line"
    elif batch is not None and batch.cut_over is not None:
        cut_over, cut_from = batch.cut_over, f"batch {line.batch}"
    else:
        cut_over, cut_from = transition.default_cut_over, "platform"
    return LineDates(go_live, cut_over, go_from, cut_from)
