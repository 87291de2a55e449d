"""Report periods: a day, a week, a month or any range of local days, as UTC instants.

A period is ``[start, end)`` of local midnights in the platform's time zone;
``--to`` names the last day included.  Bad input raises :class:`PeriodError`
with a one-line message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read: the message is the one line to show."""


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    zone: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(0), tzinfo=self.zone)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(0), tzinfo=self.zone)

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


FIRST_YEAR, LAST_YEAR = 1970, 9998


def _date(text: str, what: str) -> dt.date:
    try:
        found = dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None
    return _in_range(found, what)


def _in_range(day: dt.date, what: str) -> dt.date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PeriodError(f"{what}: {day.isoformat()} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return day


def days(first: str, last: str, zone: ZoneInfo) -> Period:
    """``first`` to ``last`` (both included, ISO dates)."""
    a, b = _date(first, "--from"), _date(last, "--to")
    if b < a:
        raise PeriodError(f"--to {b} is before --from {a}")
    return Period(a, b, zone)


def month(text: str, zone: ZoneInfo) -> Period:
    """A calendar month, ``YYYY-MM``."""
    m = _MONTH.match(text)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise PeriodError(f"--month: {text!r} is not a month (YYYY-MM)")
    first = _in_range(dt.date(int(m.group(1)), int(m.group(2)), 1), "--month")
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return Period(first, following - dt.timedelta(days=1), zone)


def week(text: str, zone: ZoneInfo) -> Period:
    """An ISO week, ``YYYY-Www`` (Monday to Sunday)."""
    m = _WEEK.match(text)
    if m is None:
        raise PeriodError(f"--week: {text!r} is not an ISO week (YYYY-Www)")
    try:
        first = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise PeriodError(f"--week: {text!r} is not an ISO week") from None
    _in_range(first, "--week")
    return Period(first, first + dt.timedelta(days=6), zone)


def year(value: int, zone: ZoneInfo) -> Period:
    return Period(dt.date(value, 1, 1), dt.date(value, 12, 31), zone)
