"""``hotline report``: a period's figures, or the monthly assessment sheet, from the store.

    hotline report --from 2026-11-01 --to 2026-11-30 --by queue --format csv [--out FILE]
    hotline report --month 2026-11 --format xlsx [--out FILE]      (the assessment sheet)
    hotline report --month 2026-11 --by day --format json          (a month, grouped)

The database is ``HOTLINE_DATABASE_URL``; the configuration directory (queues,
agents, thresholds, time zone) ``--config`` (default ``config``).  Bad input
is one line on standard error and exit status 2; no output file is written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from cti.config import Config, load_config
from cti.errors import ConfigError, StoreError
from cti.reports import assessment, export
from cti.reports.periods import Period, PeriodError, days, month, week
from cti.reports.report import GROUPINGS, build
from cti.shipped import config_dir
from cti.store.db import Database

ASSESSMENT_FORMATS = ("xlsx", "html", "json")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline report", description=__doc__.split("\n")[0])
    p.add_argument("--from", dest="first", metavar="DATE", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="last", metavar="DATE", help="last day, included")
    p.add_argument("--day", metavar="DATE", help="one day")
    p.add_argument("--week", metavar="YYYY-Www", help="an ISO week")
    p.add_argument("--month", metavar="YYYY-MM", help="a month; alone: the assessment sheet")
    p.add_argument("--by", choices=GROUPINGS, help="grouping (default queue)")
    p.add_argument("--format", default="json", help="json | csv | xlsx (sheet: xlsx | html | json)")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.add_argument(
        "--config",
        default=str(config_dir()),
        help="configuration directory (default: the shipped deployment)",
    )
    return p


def _period(ns: argparse.Namespace, config: Config) -> Period:
    zone = config.timezone
    chosen = [n for n in ("first", "day", "week", "month") if getattr(ns, n)]
    if len(chosen) != 1:
        raise PeriodError("give one of --from/--to, --day, --week or --month")
    if ns.first or ns.last:
        if not (ns.first and ns.last):
            raise PeriodError("--from and --to go together")
        return days(ns.first, ns.last, zone)
    if ns.day:
        return days(ns.day, ns.day, zone)
    if ns.week:
        return week(ns.week, zone)
    return month(ns.month, zone)


async def _run(ns: argparse.Namespace, config: Config, period: Period, dsn: str) -> bytes:
    db = Database(dsn, min_size=1, max_size=2)
    await db.open()
    try:
        sheet = ns.month is not None and ns.by is None
        report = await build(db, config, period, "queue" if sheet else ns.by or "queue")
    finally:
        await db.close()
    if not sheet:
        return export.render(report, ns.format)
    if ns.format == "xlsx":
        return assessment.as_xlsx(report, config)
    if ns.format == "html":
        return assessment.as_html(report, config).encode()
    return json.dumps(assessment.as_json(report, config), ensure_ascii=False, indent=1).encode()


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    sheet = ns.month is not None and ns.by is None
    formats = ASSESSMENT_FORMATS if sheet else export.FORMATS
    try:
        if ns.format not in formats:
            raise PeriodError(f"--format: {ns.format!r} is not one of {', '.join(formats)}")
        dsn = os.environ.get("HOTLINE_DATABASE_URL")
        if not dsn:
            raise PeriodError("HOTLINE_DATABASE_URL is not set")
        config = load_config(ns.config)
        period = _period(ns, config)
        data = asyncio.run(_run(ns, config, period, dsn))
    except (PeriodError, ConfigError, StoreError) as exc:
        print(f"hotline report: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    if ns.out:
        Path(ns.out).write_bytes(data)
        print(f"hotline report: wrote {ns.out} ({period.label})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0
