"""``hotline bench simulate``: how long ``hotline simulate`` takes, on one core.

**Figures.**

- ``nantong_day_s``: CPU seconds to simulate one day of the shipped Nantong
  profile (``examples/traffic/nantong.yaml``, 10,000 calls) on the shipped
  config with 40 agents; the issue's bar is 5 s.
- ``large_day_s``: one day of a 1,000-seat centre, the Nantong profile
  scaled to ``--large-calls`` calls (300,000) with 1,000 agents (copies of
  the Nantong agents' skill profiles); the bar is 120 s.
- ``staffing_search_s``: the staffing search for one Nantong day
  (``接通率>=0.95,within_15s>=0.8``); the bar is 60 s.

With ``--profile`` the functions that took the most time in the Nantong day
are printed (stderr), to show where a missed bar goes.  The switchboard's
own cost dominates: see README.md "hotline simulate".
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

from cti.config import load_config
from simulate.day import Staffing, run
from simulate.flowmap import Pool
from simulate.staffing import parse_targets, search
from simulate.traffic import INTERVALS_PER_DAY, Profile
from simulate.yamlfile import load_model

REPO = Path(__file__).resolve().parents[1]
BARS = {"nantong_day_s": 5.0, "large_day_s": 120.0, "staffing_search_s": 60.0}


def _day(config_dir: Path, profile: Profile, agents: int) -> tuple[float, int]:
    config = load_config(config_dir)
    pool = Pool(config)
    staffing = Staffing.from_levels(pool, [agents] * INTERVALS_PER_DAY)
    assert profile.date is not None
    began = time.process_time()
    outcome = run(config, profile, staffing, pool, date=profile.date, seed=1)
    return time.process_time() - began, len(outcome.records)


def main(argv: list[str]) -> int:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(
        prog="hotline bench simulate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--large-calls", type=int, default=300_000, help="calls of the large day")
    parser.add_argument("--large-seats", type=int, default=1000, help="agents of the large day")
    parser.add_argument("--skip-large", action="store_true", help="leave the large day out")
    parser.add_argument("--skip-search", action="store_true", help="leave the search out")
    parser.add_argument("--profile", action="store_true", help="profile the Nantong day (stderr)")
    args = parser.parse_args(argv)
    config_dir = REPO / "config"
    profile = load_model(REPO / "examples" / "traffic" / "nantong.yaml", Profile)
    figures: dict[str, object] = {}
    seconds, calls = _day(config_dir, profile, 40)
    figures["nantong_day_s"] = round(seconds, 2)
    figures["nantong_calls"] = calls
    figures["nantong_ms_per_call"] = round(seconds * 1000 / max(1, calls), 3)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        _day(config_dir, profile, 40)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue(), file=sys.stderr)
    if not args.skip_search:
        config = load_config(config_dir)
        assert profile.date is not None
        plan = search(
            config,
            profile,
            Pool(config),
            parse_targets("接通率>=0.95,within_15s>=0.8"),
            date=profile.date,
        )
        figures["staffing_search_s"] = round(plan.seconds, 2)
        figures["staffing_search_simulations"] = plan.rounds
        figures["staffing_search_peak_agents"] = max(plan.staffing.levels)
    if not args.skip_large:
        assert profile.calls is not None
        large = profile.scaled(args.large_calls / profile.calls)
        seconds, calls = _day(config_dir, large, args.large_seats)
        figures["large_day_s"] = round(seconds, 2)
        figures["large_calls"] = calls
    figures["met"] = {k: figures[k] <= bar for k, bar in BARS.items() if k in figures}  # type: ignore[operator]
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    return 0
