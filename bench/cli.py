"""``hotline bench``: benchmarks that print figures (never timed assertions).

Each benchmark is a sub-command implemented as ``main(argv) -> int`` in the
module named by :data:`BENCHMARKS`, imported only when it runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

# name -> ("module:function", one-line help)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "acd": ("bench.acd:main", "ACD decisions per second and p99, indexed vs naive selector"),
    "load": ("bench.load:main", "queue-to-ring latency, CPU and RSS per call, ingest, wallboard"),
    "nodes": ("bench.nodes:main", "queue-to-ring p99 and CPU per call, one engine and N nodes"),
    "report": ("bench.report:main", "seconds to report a month and a year of 3 million calls"),
    "logins": (
        "bench.logins:main",
        "recording download and config validation during a wrong-PIN flood",
    ),
    "app-queue": (
        "bench.app_queue:main",
        "INVITE to agent INVITE: the engine vs app_queue on a real Asterisk",
    ),
    "sim-day": (
        "bench.switchboard_day:main",
        "a day of calls through the pure switchboard in virtual time",
    ),
    "simulate": (
        "bench.simulate:main",
        "hotline simulate: a Nantong day, a 1,000-seat day, a staffing search",
    ),
}


def main(argv: list[str]) -> int:
    """Run ``hotline bench NAME [options]``; without a name, list the benchmarks."""
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: hotline bench NAME [options]\n\nbenchmarks:")
        for name, (_, help_) in BENCHMARKS.items():
            print(f"  {name:<10}{help_}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"hotline bench: unknown benchmark {name!r}", file=sys.stderr)
        return 2
    module_name, _, func_name = BENCHMARKS[name][0].partition(":")
    handler: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), func_name)
    return handler(rest)
