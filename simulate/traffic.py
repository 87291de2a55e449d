"""The traffic profile: who calls, when, on which line, and how callers and phones behave.

A profile is a YAML file (``examples/traffic/*.yaml``; the format is in
``docs/simulate.md``).  Times of day are local ``"HH:MM"`` strings on the
15-minute grid; a value holds from its time until the next one (a step
curve).  Arrivals are Poisson: in each 15-minute interval a line receives a
Poisson number of calls around its expected count, at uniform moments.

A line's expected calls per interval are either its own ``intervals``
(calls per 15 minutes, absolute), or its ``share`` of the day's ``calls``
spread along the day's ``curve`` (shares are normalised over the lines
that give one).

Durations are distributions: ``{dist: exponential, mean: 180}``,
``{dist: lognormal, mean: 240, sd: 120}``, ``{dist: uniform, low: 1, high: 6}``
or ``{dist: fixed, value: 3}``, in seconds.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

INTERVAL_S = 900
"""The planning interval: 15 minutes, as the wallboard and the reports count."""

INTERVALS_PER_DAY = 86400 // INTERVAL_S

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Model):
    """A distribution of seconds (talk, patience, answer delay, wrap-up)."""

    dist: Literal["exponential", "lognormal", "uniform", "fixed"]
    mean: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, gt=0)
    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)
    value: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        needs = {
            "exponential": ("mean",),
            "lognormal": ("mean", "sd"),
            "uniform": ("low", "high"),
            "fixed": ("value",),
        }[self.dist]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.dist} needs {' and '.join(missing)}")
        if self.dist == "uniform" and (self.high or 0.0) < (self.low or 0.0):
            raise ValueError("uniform needs low <= high")
        return self

    @property
    def expected(self) -> float:
        """The distribution's mean, in seconds."""
        if self.dist == "uniform":
            assert self.low is not None and self.high is not None
            return (self.low + self.high) / 2
        if self.dist == "fixed":
            assert self.value is not None
            return self.value
        assert self.mean is not None
        return self.mean

    def sampler(self, rng: random.Random) -> Sampler:
        return Sampler(self, rng)


class Sampler:
    """Draws from one :class:`Distribution` with one random stream."""

    __slots__ = ("_draw",)

    def __init__(self, d: Distribution, rng: random.Random) -> None:
        self._draw: Callable[[], float]
        if d.dist == "exponential":
            assert d.mean is not None
            rate = 1.0 / d.mean
            self._draw = lambda: rng.expovariate(rate)
        elif d.dist == "lognormal":
            assert d.mean is not None and d.sd is not None
            sigma2 = math.log(1.0 + (d.sd / d.mean) ** 2)
            mu, sigma = math.log(d.mean) - sigma2 / 2, math.sqrt(sigma2)
            self._draw = lambda: rng.lognormvariate(mu, sigma)
        elif d.dist == "uniform":
            assert d.low is not None and d.high is not None
            low, high = d.low, d.high
            self._draw = lambda: rng.uniform(low, high)
        else:
            assert d.value is not None
            value = d.value
            self._draw = lambda: value

    def __call__(self) -> float:
        return float(self._draw())


def _slot(text: str) -> int:
    """``"HH:MM"`` on the 15-minute grid -> its interval index (``"24:00"`` is 96)."""
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day HH:MM") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    if minutes % 15:
        raise ValueError(f"{text!r} is not on the 15-minute grid (:00, :15, :30, :45)")
    return (hours * 60 + minutes) // 15


def slot_name(index: int) -> str:
    """Interval index -> its start ``"HH:MM"``."""
    minutes = (index % INTERVALS_PER_DAY) * 15
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def step_curve(points: dict[str, float]) -> list[float]:
    """A step curve over the day's 96 intervals from ``{"HH:MM": value}``.

    Before the first point the last point's value holds (the night wraps round).
    """
    ordered = sorted((_slot(k), v) for k, v in points.items())
    out = [ordered[-1][1]] * INTERVALS_PER_DAY
    for i, (start, value) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else INTERVALS_PER_DAY
        for slot in range(start, min(end, INTERVALS_PER_DAY)):
            out[slot] = value
    return out


def _check_times(points: dict[str, float] | None) -> dict[str, float] | None:
    if points is not None:
        if not points:
            raise ValueError("needs at least one 'HH:MM': value")
        for key in points:
            _slot(key)
    return points


def _check_keys(choices: dict[str, float] | None) -> dict[str, float] | None:
    if choices is not None:
        if not choices or sum(choices.values()) <= 0:
            raise ValueError("needs at least one choice with a positive weight")
        for keys in choices:
            if keys != "none" and not all(k in "0123456789*#" for k in keys):
                raise ValueError(f"{keys!r} is not a key sequence (0-9, *, #) or 'none'")
    return choices


class LineTraffic(_Model):
    """The calls of one dialled number."""

    share: Weight | None = Field(default=None, description="share of the day's calls")
    intervals: dict[str, Weight] | None = Field(
        default=None, description="calls per 15 minutes from HH:MM on (absolute)"
    )
    menu: dict[str, Weight] | None = Field(
        default=None, description="key sequences pressed in the menu -> weight"
    )
    talk: Distribution | None = None
    patience: Distribution | None = None
    description: str | None = None

    @field_validator("intervals")
    @classmethod
    def _times(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_times(value)

    @field_validator("menu")
    @classmethod
    def _keys(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_keys(value)

    @model_validator(mode="after")
    def _one_volume(self) -> LineTraffic:
        if (self.share is None) == (self.intervals is None):
            raise ValueError("a line needs exactly one of share, intervals")
        return self


class Profile(_Model):
    """A traffic profile (see the module docstring)."""

    date: dt.date | None = Field(default=None, description="the day simulated (local)")
    calls: Weight | None = Field(default=None, description="calls in the day (with curve)")
    curve: dict[str, Weight] | None = Field(
        default=None, description="relative arrivals per 15 minutes from HH:MM on"
    )
    lines: dict[str, LineTraffic] = Field(min_length=1, description="dialled number -> traffic")
    talk: Distribution = Field(description="conversation length")
    patience: Distribution | None = Field(
        default=None, description="how long a caller waits before hanging up (none: forever)"
    )
    wrapup: Distribution | None = Field(
        default=None, description="after-call work, capped by the queue's wrapup (none: all of it)"
    )
    answer_delay: Distribution = Field(
        default=Distribution(dist="uniform", low=1, high=5), description="phone rings before answer"
    )
    rona: Probability = Field(default=0.0, description="a ring left unanswered (RONA)")
    reject: Probability = Field(default=0.0, description="a ring rejected at once (busy)")
    caller_hangs_up_first: Probability = Field(
        default=0.3, description="the caller ends the conversation (no survey then)"
    )
    menu: dict[str, Weight] | None = Field(
        default=None, description="key sequences pressed in a menu -> weight"
    )
    survey: dict[str, Weight] | None = Field(
        default=None, description="survey key -> weight ('none': no answer)"
    )
    redial_withdrawn: bool = Field(
        default=True, description="callers of a withdrawn line dial the main number instead"
    )
    description: str | None = None

    @field_validator("curve")
    @classmethod
    def _times(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_times(value)

    @field_validator("menu", "survey")
    @classmethod
    def _keys(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_keys(value)

    @model_validator(mode="after")
    def _volumes(self) -> Profile:
        shared = [n for n, line in self.lines.items() if line.share is not None]
        if shared and (self.calls is None or self.curve is None):
            raise ValueError(f"line {shared[0]} has a share: the profile needs calls and curve")
        if shared and sum(self.lines[n].share or 0.0 for n in shared) <= 0:
            raise ValueError("the lines' shares add up to 0")
        if self.curve is not None and sum(self.curve.values()) <= 0:
            raise ValueError("the curve is 0 all day")
        return self

    def expected(self) -> dict[str, list[float]]:
        """Dialled number -> expected calls in each of the day's 96 intervals."""
        out: dict[str, list[float]] = {}
        shares = sum(line.share or 0.0 for line in self.lines.values())
        day: list[float] = []
        if self.curve is not None and self.calls is not None:
            curve = step_curve(self.curve)
            total = sum(curve)
            day = [self.calls * v / total for v in curve]
        for number, line in self.lines.items():
            if line.intervals is not None:
                out[number] = step_curve(line.intervals)
            else:
                share = (line.share or 0.0) / shares
                out[number] = [v * share for v in day]
        return out

    def scaled(self, factor: float) -> Profile:
        """The same profile with every volume multiplied by ``factor``."""
        lines = {
            n: line.model_copy(
                update={
                    "intervals": {k: v * factor for k, v in line.intervals.items()}
                    if line.intervals is not None
                    else None
                }
            )
            for n, line in self.lines.items()
        }
        calls = self.calls * factor if self.calls is not None else None
        return self.model_copy(update={"lines": lines, "calls": calls})


def choose(rng: random.Random, choices: dict[str, float]) -> str:
    """One key of ``choices`` drawn by weight."""
    keys = list(choices)
    return rng.choices(keys, weights=[choices[k] for k in keys])[0]
