"""The holiday calendar and opening hours behind time conditions (``calendar.yaml``).

A 12345 hotline answers 7x24 (GB/T 33358-2016), so a calendar without
``hours`` is always open. A city may still configure weekly opening hours, for
the calendar as a whole or for one time-condition node (a specialist desk
staffed in office hours only). Chinese public holidays close the weekly hours;
an adjusted working day (调休上班, a Saturday or Sunday worked in exchange for a
longer holiday) opens with the hours of the weekday named in
``adjusted_workday_as`` (Monday unless configured).

``now`` must be timezone-aware: the calendar converts it to its own
``timezone`` before looking at the date and the time of day.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ivr.errors import CalendarError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


def parse_range(text: str) -> tuple[int, int]:
    """``"08:30-17:30"`` -> (start, end) in seconds since midnight; ``24:00`` ends a day."""
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"time range {text!r} is not HH:MM-HH:MM")
    sh, sm, eh, em = (int(g) for g in match.groups())
    start, end = sh * 3600 + sm * 60, eh * 3600 + em * 60
    if end > 24 * 3600:
        raise ValueError(f"time range {text!r} ends after 24:00")
    if start >= end:
        raise ValueError(f"time range {text!r} ends before it starts")
    return start, end


def _check_range(text: str) -> str:
    parse_range(text)
    return text


TimeRange = Annotated[str, AfterValidator(_check_range)]
"""An opening interval of one day, ``"HH:MM-HH:MM"``, end exclusive."""


def _check_day(ranges: tuple[TimeRange, ...]) -> tuple[TimeRange, ...]:
    spans = sorted(parse_range(r) for r in ranges)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError(f"time ranges overlap: {', '.join(ranges)}")
    return ranges


DayHours = Annotated[tuple[TimeRange, ...], AfterValidator(_check_day)]


class WeeklyHours(BaseModel):
    """Opening hours per weekday; a day left out is closed all day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mon: DayHours = ()
    tue: DayHours = ()
    wed: DayHours = ()
    thu: DayHours = ()
    fri: DayHours = ()
    sat: DayHours = ()
    sun: DayHours = ()
    adjusted_workday_as: Weekday = Field(
        default="mon",
        description="whose hours an adjusted working day (调休上班) keeps",
    )

    def ranges(self, day: Weekday) -> tuple[tuple[int, int], ...]:
        """The open intervals of ``day`` in seconds since midnight."""
        hours: tuple[str, ...] = getattr(self, day)
        return tuple(parse_range(r) for r in hours)


class Holiday(BaseModel):
    """One public holiday period and the weekend days worked in exchange for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    start: dt.date
    end: dt.date
    workdays: tuple[dt.date, ...] = Field(
        default=(), description="adjusted working days (调休上班) of this holiday"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.end < self.start:
            raise ValueError(f"holiday {self.name!r} ends ({self.end}) before it starts")
        for day in self.workdays:
            if self.start <= day <= self.end:
                raise ValueError(f"holiday {self.name!r}: working day {day} inside the holiday")
        return self

    def covers(self, day: dt.date) -> bool:
        """True when ``day`` is one of this holiday's days off."""
        return self.start <= day <= self.end


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class Calendar(BaseModel):
    """Content of ``calendar.yaml``: time zone, optional weekly hours, holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: Annotated[str, AfterValidator(_check_timezone)] = Field(
        description="IANA time zone of the platform, e.g. Asia/Shanghai"
    )
    hours: WeeklyHours | None = Field(
        default=None, description="weekly opening hours; absent means 7x24 (GB/T 33358)"
    )
    holidays: tuple[Holiday, ...] = ()
    covered_until: dt.date | None = Field(
        default=None,
        description="the last day the holiday list is complete for (the end of the period the"
        " latest official notice covers); absent: 31 December of the latest year listed",
    )

    @model_validator(mode="after")
    def _disjoint(self) -> Calendar:
        spans = sorted(self.holidays, key=lambda h: h.start)
        for before, after in itertools.pairwise(spans):
            if after.start <= before.end:
                raise ValueError(f"holidays {before.name!r} and {after.name!r} overlap")
        for holiday in self.holidays:
            for day in holiday.workdays:
                other = self.holiday_name(day)
                if other is not None:
                    raise ValueError(
                        f"{day} is a working day of {holiday.name!r} and a day off of {other!r}"
                    )
        return self

    def references(self) -> dict[str, set[str]]:
        """Ids this file refers to in other files: none."""
        return {"prompts": set(), "queues": set(), "menus": set()}

    def local(self, now: dt.datetime) -> dt.datetime:
        """``now`` in the calendar's time zone; a naive datetime raises ``CalendarError``."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise CalendarError(f"naive datetime {now.isoformat()} has no time zone")
        return now.astimezone(ZoneInfo(self.timezone))

    def coverage_end(self) -> dt.date | None:
        """The last day the holiday list speaks for, or None when it lists nothing.

        Holidays are published a year at a time (国务院办公厅 notices), so a
        list is taken to cover the whole of the latest year it names, unless
        ``covered_until`` says otherwise.  After that day, holiday menus and
        time conditions treat every day as an ordinary one.
        """
        if self.covered_until is not None:
            return self.covered_until
        days = [d for h in self.holidays for d in (h.end, *h.workdays)]
        if not days:
            return None
        return dt.date(max(days).year, 12, 31)

    def days_covered(self, today: dt.date) -> int | None:
        """Days from ``today`` (local) to :meth:`coverage_end`; negative once past, None if empty."""
        end = self.coverage_end()
        return None if end is None else (end - today).days

    def holiday_name(self, day: dt.date) -> str | None:
        """The name of the holiday ``day`` falls in, or None."""
        for holiday in self.holidays:
            if holiday.covers(day):
                return holiday.name
        return None

    def is_holiday(self, day: dt.date) -> bool:
        """True when ``day`` (a local date) is a public holiday day off."""
        return self.holiday_name(day) is not None

    def is_adjusted_workday(self, day: dt.date) -> bool:
        """True when ``day`` is a weekend day worked in exchange for a holiday (调休)."""
        return any(day in h.workdays for h in self.holidays)

    def is_open(self, now: dt.datetime, hours: WeeklyHours | None = None) -> bool:
        """Whether the service is open at ``now``.

        ``hours`` overrides the calendar's own weekly hours (a time-condition
        node's). With no weekly hours at all the answer is always True (7x24),
        holidays included. Otherwise a holiday is closed, an adjusted working
        day keeps the hours of ``adjusted_workday_as``, and any other day keeps
        its weekday's hours.
        """
        weekly = hours if hours is not None else self.hours
        if weekly is None:
            return True
        local = self.local(now)
        day = local.date()
        if self.is_holiday(day):
            return False
        weekday = (
            weekly.adjusted_workday_as if self.is_adjusted_workday(day) else WEEKDAYS[day.weekday()]
        )
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start <= second < end for start, end in weekly.ranges(weekday))
