"""The Prometheus text exposition format (version 0.0.4), written by hand.

A :class:`Exposition` collects metric families in order: each family has one
``# HELP`` and one ``# TYPE`` line, then its samples.  Label values are
escaped (backslash, double quote, line feed); values are written as Python
floats would be read back (``+Inf``, ``NaN``).  :class:`Histogram` keeps
cumulative bucket counts, a sum and a count, and writes the ``_bucket``
(with ``le``, ending in ``+Inf``), ``_sum`` and ``_count`` samples.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
KINDS = ("counter", "gauge", "histogram")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    for name in labels:
        if not _LABEL.match(name) or name.startswith("__"):
            raise ValueError(f"bad label name {name!r}")
    inner = ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items())
    return "{" + inner + "}"


class Histogram:
    """Observations counted into fixed upper bounds (``le``), plus their sum and count."""

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        if not self.bounds or any(math.isinf(b) or math.isnan(b) for b in self.bounds):
            raise ValueError("histogram bounds must be finite and not empty")
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def __repr__(self) -> str:
        return f"<Histogram count={self.count} sum={self.sum:.1f}>"

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """``(le, observations <= le)`` for each bound, then ``(+Inf, count)``."""
        out = []
        running = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class Exposition:
    """Families of samples, written in the order they were added."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._names: set[str] = set()

    def family(self, name: str, kind: str, help_text: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        if kind not in KINDS:
            raise ValueError(f"unknown metric type {kind!r}")
        if name in self._names:
            raise ValueError(f"metric family {name!r} written twice")
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        self._names.add(name)
        help_line = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self._lines.append(f"# HELP {name} {help_line}")
        self._lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._lines.append(f"{name}{_labels(labels or {})} {_value(value)}")

    def simple(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, str], float]],
    ) -> None:
        """A counter or gauge family with its samples."""
        self.family(name, kind, help_text)
        for labels, value in samples:
            self.sample(name, value, labels)

    def histogram(
        self,
        name: str,
        help_text: str,
        histogram: Histogram,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.family(name, "histogram", help_text)
        base = dict(labels or {})
        for bound, count in histogram.cumulative():
            self.sample(f"{name}_bucket", count, {**base, "le": _value(bound)})
        self.sample(f"{name}_sum", histogram.sum, base)
        self.sample(f"{name}_count", histogram.count, base)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
