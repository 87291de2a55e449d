"""``hotline bench report``: seconds to report a month and a year of a large centre.

A private PostgreSQL (or ``--dsn``) is filled with ``--calls`` calls (3
million by default: a year of a large centre) spread over ``--year`` by
``generate_series`` inside the database, vacuumed, then the report of one
month (``--month``, default the year's November) and of the whole year is
built ``--repeat`` times each, grouped by queue, exactly as ``hotline report``
builds it; the best time of each is printed.  PostgreSQL runs the reports
without parallel workers (one core, as the target is stated) unless
``--parallel``.  The calls carry no agent state changes: the time is that of
the call figures, which dominate.  The target: a month under 2 s,
a year under 10 s; ``month_miss_s`` / ``year_miss_s`` say by how much a run
misses (0 when met).

    hotline bench report --json
    hotline bench report --calls 20000 --json       (a quick look)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from bench.reportdata import fill_sql
from cti.config import Config, load_config
from cti.pgserver import PrivatePostgres
from cti.reports.periods import month, year
from cti.reports.report import build
from cti.shipped import config_dir
from cti.store.db import Database

MONTH_TARGET_S = 2.0
YEAR_TARGET_S = 10.0


async def _measure(dsn: str, config: Config, ns: argparse.Namespace) -> dict[str, object]:
    db = Database(dsn, min_size=1, max_size=2)
    await db.open()  # the engine's tables and indexes
    await db.close()
    began = time.perf_counter()
    await fill_sql(dsn, ns.calls, ns.year, config.calendar.timezone)
    fill_s = time.perf_counter() - began
    if not ns.parallel:
        await _one_core(dsn)
    db = Database(dsn, min_size=1, max_size=2)
    await db.open()
    try:
        zone = config.timezone
        periods = {"month": month(f"{ns.year}-{ns.month:02d}", zone), "year": year(ns.year, zone)}
        best: dict[str, float] = {}
        offered: dict[str, int] = {}
        for name, period in periods.items():
            for _ in range(ns.repeat):
                began = time.perf_counter()
                report = await build(db, config, period, ns.by)
                spent = time.perf_counter() - began
                best[name] = min(best.get(name, spent), spent)
                offered[name] = report.total.calls.offered
    finally:
        await db.close()
    return {
        "calls": ns.calls,
        "one_core": not ns.parallel,
        "by": ns.by,
        "fill_s": round(fill_s, 2),
        "month_s": round(best["month"], 3),
        "year_s": round(best["year"], 3),
        "month_calls": offered["month"],
        "year_calls": offered["year"],
        "month_target_s": MONTH_TARGET_S,
        "year_target_s": YEAR_TARGET_S,
        "month_miss_s": round(max(0.0, best["month"] - MONTH_TARGET_S), 3),
        "year_miss_s": round(max(0.0, best["year"] - YEAR_TARGET_S), 3),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="hotline bench report", description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=3_000_000)
    p.add_argument("--year", type=int, default=2026)
    p.add_argument("--month", type=int, default=11)
    p.add_argument("--by", default="queue")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dsn", help="an empty database to fill (default: a private server)")
    p.add_argument("--config", default=str(config_dir()))
    p.add_argument("--parallel", action="store_true", help="let PostgreSQL use parallel workers")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    ns = p.parse_args(argv)
    if ns.calls < 1 or not 1 <= ns.month <= 12 or ns.repeat < 1:
        print("hotline bench report: --calls, --month and --repeat must be positive")
        return 2
    config = load_config(ns.config)
    if ns.dsn:
        result = asyncio.run(_measure(ns.dsn, config, ns))
    else:
        with PrivatePostgres() as server:
            result = asyncio.run(_with_database(server, config, ns))
    if ns.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0


async def _one_core(dsn: str) -> None:
    """The reports' sessions run without parallel workers: the target is for one core."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        name = await conn.fetchval("SELECT current_database()")
        await conn.execute(f'ALTER DATABASE "{name}" SET max_parallel_workers_per_gather = 0')
    finally:
        await conn.close()


async def _with_database(
    server: PrivatePostgres, config: Config, ns: argparse.Namespace
) -> dict[str, object]:
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return await _measure(server.dsn.rsplit("/", 1)[0] + f"/{name}", config, ns)
