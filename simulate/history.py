"""A traffic profile fitted from the calls stored in PostgreSQL (``--from-history``).

For the days of ``FROM..TO`` (local dates, inclusive) that fall on the
weekday asked (all days without one), the profile holds:

- per dialled number, the mean count of calls arrived in each 15-minute
  interval (``intervals``, absolute);
- the talk time (answered to ended) as a lognormal of the same mean and
  standard deviation;
- the patience as an exponential whose mean is the maximum-likelihood
  estimate under censoring: the seconds waited in queue by every settled
  call divided by the number of abandons (an answered caller's patience is
  only known to exceed its wait);
- the survey answers, the menu keys pressed, and the share of
  conversations the caller ended, as observed.

Phones (answer delay, RONA) keep the profile defaults: the calls table does
not record rings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import statistics
from collections import Counter, defaultdict
from typing import Any

from cti.config import Config
from cti.errors import StoreError
from cti.store.db import Database
from simulate.errors import SimulateError
from simulate.traffic import INTERVALS_PER_DAY, Distribution, LineTraffic, Profile, slot_name

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_QUERY = """
SELECT dialled, arrived_at, queued_at, answered_at, ended_at, outcome, rating,
       hangup_by, menu_path
FROM calls
WHERE arrived_at >= $1 AND arrived_at < $2
"""


def parse_range(text: str) -> tuple[dt.date, dt.date]:
    """``2026-11-02..2026-11-29`` -> the two dates (inclusive)."""
    first, sep, last = text.partition("..")
    try:
        if not sep:
            raise ValueError
        start, end = dt.date.fromisoformat(first.strip()), dt.date.fromisoformat(last.strip())
    except ValueError:
        raise SimulateError(
            f"--from-history {text!r}: write FROM..TO as dates (2026-11-02..2026-11-29)"
        ) from None
    if end < start:
        raise SimulateError(f"--from-history {text!r}: TO is before FROM")
    return start, end


def parse_weekday(text: str | None) -> int | None:
    if text is None:
        return None
    key = text.strip().lower()[:3]
    if key not in WEEKDAYS:
        raise SimulateError(f"--weekday {text!r}: one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(key)


def fit(
    rows: list[dict[str, Any]],
    config: Config,
    start: dt.date,
    end: dt.date,
    weekday: int | None,
) -> Profile:
    """The profile of ``rows`` (``calls`` rows) over the matching days (see the module)."""
    zone = config.timezone
    days = [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if weekday is None or (start + dt.timedelta(days=i)).weekday() == weekday
    ]
    wanted = set(days)
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * INTERVALS_PER_DAY)
    talks: list[float] = []
    waited = 0.0
    abandons = 0
    answered = caller_ended = 0
    ratings: Counter[str] = Counter()
    menus: Counter[str] = Counter()
    key_of = {level.level: level.key for level in config.survey.levels}
    for row in rows:
        local = row["arrived_at"].astimezone(zone)
        if local.date() not in wanted:
            continue
        slot = (local.hour * 60 + local.minute) // 15
        counts[row["dialled"] or config.platform.main_number][slot] += 1
        queued, answered_at, ended = row["queued_at"], row["answered_at"], row["ended_at"]
        if queued is not None and (answered_at or ended) is not None:
            waited += max(0.0, ((answered_at or ended) - queued).total_seconds())
            if answered_at is None and row["outcome"] == "abandoned":
                abandons += 1
        if answered_at is not None and ended is not None:
            answered += 1
            talks.append(max(1.0, (ended - answered_at).total_seconds()))
            caller_ended += row["hangup_by"] == "caller"
            level = row["rating"]
            ratings[key_of.get(level, "none") if level is not None else "none"] += 1
        keys = "".join(str(step.get("keys") or "") for step in _steps(row["menu_path"]))
        if keys:
            menus[keys] += 1
    if not counts:
        raise SimulateError(f"--from-history: no calls stored from {start} to {end}")
    n = len(days) or 1
    lines = {
        number: LineTraffic(
            intervals={slot_name(i): round(c / n, 3) for i, c in enumerate(per_slot)}
        )
        for number, per_slot in sorted(counts.items())
    }
    talk = _talk(talks)
    return Profile(
        date=end,
        lines=lines,
        talk=talk,
        patience=Distribution(dist="exponential", mean=waited / abandons)
        if abandons and waited > 0
        else None,
        caller_hangs_up_first=caller_ended / answered if answered else 0.3,
        survey=dict(ratings) if ratings and config.survey.enabled else None,
        menu=dict(menus) if menus else None,
        description=f"fitted from {start}..{end}"
        + (f" ({WEEKDAYS[weekday]})" if weekday is not None else ""),
    )


def _steps(path: Any) -> list[dict[str, Any]]:
    if isinstance(path, str):
        import json

        path = json.loads(path)
    return [step for step in path or [] if isinstance(step, dict)]


def _talk(talks: list[float]) -> Distribution:
    if not talks:
        return Distribution(dist="exponential", mean=180)
    mean = statistics.fmean(talks)
    sd = statistics.pstdev(talks) if len(talks) > 1 else 0.0
    if sd <= 0 or math.isclose(sd, 0.0):
        return Distribution(dist="fixed", value=mean)
    return Distribution(dist="lognormal", mean=mean, sd=sd)


async def _fetch(dsn: str, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    db = Database(dsn, min_size=1, max_size=1)
    await db.open(run_migrations=False)
    try:
        rows: list[dict[str, Any]] = await db.fetch(_QUERY, since, until)
        return rows
    finally:
        await db.close()


def profile_from_history(config: Config, range_text: str, weekday_text: str | None) -> Profile:
    """The profile fitted from the stored calls of ``range_text`` (on ``weekday_text``)."""
    start, end = parse_range(range_text)
    weekday = parse_weekday(weekday_text)
    variable = config.engine.database.dsn_env
    dsn = os.environ.get(variable)
    if not dsn:
        raise SimulateError(f"--from-history: {variable} is not set (the database's DSN)")
    zone = config.timezone
    since = dt.datetime.combine(start, dt.time(0), tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    try:
        rows = asyncio.run(_fetch(dsn, since, until))
    except (StoreError, OSError) as exc:
        raise SimulateError(f"--from-history: {' '.join(str(exc).split())}") from exc
    return fit(rows, config, start, end, weekday)
