"""How far ahead the holiday calendar speaks, as a check-config warning.

Holidays are published a year at a time, so a deployment's ``calendar.yaml``
runs out every December unless the administrator adds the next notice.
Nothing fails when it does: holiday menus and time conditions quietly treat
every later day as an ordinary one.  ``hotline check-config`` therefore warns
``engine.yaml``'s ``wallboard.calendar_warning_days`` ahead, and the running
engine raises a wallboard alarm ``calendar_alarm_days`` ahead
(:func:`days_covered`, read by the wallboard and ``/metrics``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from cti.config.config import Config
from cti.config.errors import ConfigIssue
from cti.config.yamlsrc import YamlParseError, locate, parse_yaml


def local_today(config: Config, now: dt.datetime | None = None) -> dt.date:
    """Today in the platform's time zone (``calendar.yaml`` ``timezone``)."""
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    return moment.astimezone(ZoneInfo(config.calendar.timezone)).date()


def days_covered(config: Config, now: dt.datetime | None = None) -> int | None:
    """Days the holiday list covers from today on (negative once past; None if empty)."""
    return config.calendar.days_covered(local_today(config, now))


def coverage_warning(
    config: Config, directory: str | Path, today: dt.date | None = None
) -> ConfigIssue | None:
    """A warning when the calendar covers fewer than ``calendar_warning_days`` ahead
    of ``today`` (default: the platform's local date now)."""
    days = config.calendar.days_covered(today if today is not None else local_today(config))
    limit = config.engine.wallboard.calendar_warning_days
    end = config.calendar.coverage_end()
    if days is None or end is None or days >= limit:
        return None
    path = Path(directory) / "calendar.yaml"
    key = "covered_until" if config.calendar.covered_until is not None else "holidays"
    line = 1
    with contextlib.suppress(OSError, YamlParseError):
        line, _ = locate(parse_yaml(path, path.read_bytes()).tree, (key,))
    when = f"ended {-days} days ago" if days < 0 else f"ends in {days} days"
    return ConfigIssue(
        str(path),
        line,
        key,
        f"the holiday list {when} ({end}): add the next official holiday notice",
        "warning",
    )
