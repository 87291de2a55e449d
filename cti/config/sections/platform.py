"""``platform.yaml``: who the platform is, its main number, languages and transition window.

The transition window is the default for every merged line (直接整合): the
platform goes live on ``transition.go_live`` and an old department number is
cut over ``transition.months`` later (the Nantong plan: 3 months), or on a
fixed ``transition.cut_over`` date (the Liyang plan: the end of its trial run).
A line, or the batch it belongs to, may override both dates (``lines.yaml``).
Dates are local dates of the platform's time zone, which ``calendar.yaml``
names.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from cti.config.types import Date, Digits, Int, Section, Text

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")]


class Language(Section):
    """A prompt set: ``code`` keys the sound names in ``prompts.yaml``."""

    code: LanguageCode = Field(description="prompt-set key, e.g. zh, en, yue")
    name: Text = Field(description="what callers hear it called, e.g. 普通话")


class Languages(Section):
    primary: Language = Field(description="the language every prompt must exist in (普通话)")
    second: Language | None = Field(
        default=None, description="one configurable second language, chosen by the caller"
    )

    @model_validator(mode="after")
    def _distinct(self) -> Languages:
        if self.second is not None and self.second.code == self.primary.code:
            raise ValueError("the second language must differ from the primary one")
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        if self.second is None:
            return (self.primary.code,)
        return (self.primary.code, self.second.code)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved ``months`` calendar months later, clamped to the month's end."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Transition(Section):
    """The default transition window of merged lines.

    Exactly one of ``months`` and ``cut_over`` is given.  ``cut_over`` is the
    first day on which an old number is no longer served by the transition
    route: a line is *in transition* on ``go_live <= day < cut_over``.
    """

    go_live: Date = Field(description="first day the merged platform answers (YYYY-MM-DD)")
    months: Annotated[Int, Field(ge=1, le=36)] | None = Field(
        default=None, description="transition length in months after go_live"
    )
    cut_over: Date | None = Field(default=None, description="fixed cut-over date instead of months")

    @model_validator(mode="after")
    def _one_end(self) -> Transition:
        if (self.months is None) == (self.cut_over is None):
            raise ValueError("give exactly one of 'months' and 'cut_over'")
        if self.cut_over is not None and self.cut_over < self.go_live:
            raise ValueError(f"cut_over {self.cut_over} is before go_live {self.go_live}")
        return self

    @property
    def default_cut_over(self) -> dt.date:
        if self.cut_over is not None:
            return self.cut_over
        assert self.months is not None
        return add_months(self.go_live, self.months)


class PlatformFile(Section):
    """Content of ``platform.yaml``."""

    city: Text = Field(description="the city, e.g. 南通市")
    name: Text = Field(description="the platform's name")
    main_number: Digits = Field(description="the one public number, 12345")
    languages: Languages
    transition: Transition
    seats_planned: Annotated[Int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="seats the plan provides for (seats.yaml may list fewer)"
    )
    agents_planned: Annotated[Int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="agents the plan provides for"
    )
    source: Text | None = Field(default=None, description="the plan this deployment follows")
