"""Percentiles of waits (the 90th-percentile wait of a period or a plan).

Nearest-rank: the smallest value such that at least ``q`` of the values are
at or below it, so the figure is always a wait some caller really had.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (``q`` in 0..1) of ``values``; None when empty."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("q is a share between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]
