"""``hotline simulate``: a day of calls through the real switchboard in virtual time.

Examples::

    hotline simulate --config config --traffic examples/traffic/nantong.yaml --seats 40
    hotline simulate --config config --traffic examples/traffic/nantong.yaml \\
        --target "接通率>=0.95,within_15s>=0.8" --html plan.html
    hotline simulate --config examples/liyang --traffic examples/traffic/liyang.yaml \\
        --target "接通率>=0.95" --timetable
    hotline simulate --config config --from-history 2026-11-02..2026-11-29 --weekday mon

See docs/simulate.md for the traffic profile and roster formats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cti.config import Config, load_config
from simulate.day import Staffing, run
from simulate.errors import SimulateError
from simulate.flowmap import Pool
from simulate.report import html_report, side_by_side, text
from simulate.results import summarise
from simulate.staffing import Roster, parse_seats, parse_targets, roster_staffing, search
from simulate.traffic import Profile
from simulate.yamlfile import load_model


@dataclass(frozen=True)
class Case:
    """One thing to simulate: a deployment, its traffic, its staffing, a day."""

    name: str
    config: Config
    profile: Profile
    seats: str | None
    roster: Path | None
    date: dt.date


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        self.exit(2, f"hotline simulate: {message}\n")


def _parser() -> argparse.ArgumentParser:
    assert __doc__ is not None
    p = _Parser(
        prog="hotline simulate",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, metavar="DIR", help="the deployment (config/)")
    p.add_argument("--traffic", metavar="FILE", help="the traffic profile (YAML)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--seats", metavar="SPEC", help="agents on shift: 40 or 00:00=8,08:00=40")
    who.add_argument("--roster", metavar="FILE", help="shifts of agents (YAML)")
    p.add_argument("--days", type=int, default=1, metavar="N", help="days to run (1)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (1)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the day simulated (the profile's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--html", metavar="REPORT", help="write the HTML report with charts")
    p.add_argument("--target", metavar="SPEC", help='search the staffing: "接通率>=0.95,..."')
    p.add_argument(
        "--what-if",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="compare with a variant: config=DIR, traffic=FILE, seats=SPEC, roster=FILE, date=D",
    )
    p.add_argument(
        "--timetable", action="store_true", help="with --target: the seats of each batch's month"
    )
    p.add_argument("--from-history", metavar="FROM..TO", help="fit the traffic from stored calls")
    p.add_argument("--weekday", metavar="DAY", help="with --from-history: mon..sun")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SimulateError(f"{what} {text!r}: give a date as YYYY-MM-DD") from None


def _config(directory: str) -> Config:
    if not Path(directory).is_dir():
        raise SimulateError(f"--config {directory}: no such directory")
    return load_config(directory)


def _profile(args: argparse.Namespace, config: Config) -> Profile:
    if args.from_history:
        if args.traffic:
            raise SimulateError("give --traffic or --from-history, not both")
        from simulate.history import profile_from_history

        return profile_from_history(config, args.from_history, args.weekday)
    if args.weekday:
        raise SimulateError("--weekday goes with --from-history")
    if not args.traffic:
        raise SimulateError("give --traffic FILE (a traffic profile) or --from-history FROM..TO")
    return load_model(args.traffic, Profile)


def _staffing(case: Case, pool: Pool) -> Staffing:
    if case.roster is not None:
        return roster_staffing(load_model(case.roster, Roster), pool, case.config)
    if case.seats is not None:
        return Staffing.from_levels(pool, parse_seats(case.seats))
    planned = case.config.platform.seats_planned or len(case.config.agents.agents)
    return Staffing.from_levels(pool, [planned] * 96)


def _progress(quiet: bool, label: str) -> Any:
    if quiet:
        return None
    state = {"shown": -1, "began": time.monotonic()}

    def show(done: float) -> None:
        step = int(done * 4)
        if step > state["shown"] and time.monotonic() - state["began"] > 1.0:
            state["shown"] = step
            print(f"hotline simulate: {label}: {done:.0%} of the run", file=sys.stderr)

    return show


def _say(quiet: bool) -> Any:
    def say(message: str) -> None:
        if not quiet:
            print(f"hotline simulate: {message}", file=sys.stderr)

    return say


def _one(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Simulate one case (or search its staffing); its figures as a dict."""
    pool = Pool(case.config)
    head = {"name": case.name, "date": case.date.isoformat(), "seed": args.seed}
    if args.target:
        targets = parse_targets(args.target)
        plan = search(
            case.config,
            case.profile,
            pool,
            targets,
            date=case.date,
            days=args.days,
            seed=args.seed,
            progress=_say(args.quiet),
        )
        result = plan.summary.as_dict()
        result["search"] = {
            "targets": [str(t) for t in targets],
            "met": plan.met,
            "simulations": plan.rounds,
            "cpu_s": round(plan.seconds, 2),
        }
        return {**head, **result}
    staffing = _staffing(case, pool)
    outcome = run(
        case.config,
        case.profile,
        staffing,
        pool,
        date=case.date,
        days=args.days,
        seed=args.seed,
        progress=_progress(args.quiet, case.name),
    )
    return {**head, **summarise(outcome).as_dict()}


_WHAT_IF_KEYS = ("config", "traffic", "seats", "roster", "date")


def _what_if(spec: str) -> tuple[str, str]:
    """``KEY=VALUE`` of a ``--what-if``, its key one of :data:`_WHAT_IF_KEYS`."""
    key, sep, value = spec.partition("=")
    keys = ", ".join(_WHAT_IF_KEYS)
    if not sep or not value:
        raise SimulateError(f"--what-if {spec!r}: write KEY=VALUE ({keys})")
    if key not in _WHAT_IF_KEYS:
        raise SimulateError(f"--what-if {key!r}: one of {keys}")
    return key, value


def _variant(base: Case, spec: str) -> Case:
    key, value = _what_if(spec)
    name = f"{key}={value}"
    if key == "config":
        return replace(base, name=name, config=_config(value))
    if key == "traffic":
        return replace(base, name=name, profile=load_model(value, Profile))
    if key == "seats":  # its spec was checked with the options
        return replace(base, name=name, seats=value, roster=None)
    if key == "roster":
        return replace(base, name=name, roster=Path(value), seats=None)
    return replace(base, name=name, date=_date(value, "--what-if date"))


def _timetable(base: Case, args: argparse.Namespace) -> list[dict[str, Any]]:
    batches = sorted(base.config.lines.batches.items(), key=lambda kv: kv[1].go_live)
    if not batches:
        raise SimulateError("--timetable: lines.yaml names no batches")
    rows = []
    for batch_id, batch in batches:
        day = batch.go_live + dt.timedelta(days=14)
        live = [
            n
            for n in base.profile.lines
            if base.config.merged_line(n) is None
            or base.config.line_phase(n, day).value != "before_go_live"
        ]
        _say(args.quiet)(f"timetable: {batch.label or batch_id} ({day})")
        result = _one(replace(base, name=str(batch.label or batch_id), date=day), args)
        total = result["total"]
        rows.append(
            {
                "batch": batch_id,
                "label": batch.label or batch_id,
                "date": day.isoformat(),
                "lines": len(live),
                "offered": total["offered"],
                "peak_agents": total["peak_agents"],
                "agent_hours": total["agent_hours"],
                "connection_rate": total["connection_rate"],
                "within_15s_rate": total["within_15s_rate"],
                "met": result["search"]["met"],
            }
        )
    return rows


def _timetable_text(rows: list[dict[str, Any]], target: str) -> str:
    out = [
        f"Seats each month needs for {target}",
        "",
        f"{'month':<12}{'date':<12}{'lines':>6}{'calls':>7}{'seats':>7}{'agent-h':>9}"
        f"{'接通率':>8}{'≤15s':>8}",
    ]
    for r in rows:
        rate = "-" if r["connection_rate"] is None else f"{r['connection_rate']:.1%}"
        sl = "-" if r["within_15s_rate"] is None else f"{r['within_15s_rate']:.1%}"
        out.append(
            f"{r['label']:<12}{r['date']:<12}{r['lines']:>6}{r['offered']:>7}"
            f"{r['peak_agents']:>7}{r['agent_hours']:>9}{rate:>9}{sl:>8}"
            + ("" if r["met"] else "  (target missed)")
        )
    return "\n".join(out)


def _staffing_text(result: dict[str, Any]) -> str:
    search_ = result["search"]
    lines = [
        f"Staffing for {', '.join(search_['targets'])}: "
        f"{'met' if search_['met'] else 'NOT met'} after {search_['simulations']} simulated days "
        f"({search_['cpu_s']} s)",
        "",
        f"{'from':<7}{'agents':>7}",
    ]
    previous = None
    for i in result["intervals"]:
        if i["agents"] != previous:
            lines.append(f"{i['start']:<7}{i['agents']:>7}")
            previous = i["agents"]
    return "\n".join(lines)


def _check_options(args: argparse.Namespace) -> None:
    """Refuse a malformed option before any file is read, so a typo costs no wait."""
    if args.days < 1:
        raise SimulateError("--days must be at least 1")
    if args.timetable and not args.target:
        raise SimulateError("--timetable needs --target")
    if args.seats is not None:
        parse_seats(args.seats)
    if args.target:
        parse_targets(args.target)
    if args.date:
        _date(args.date, "--date")
    for spec in args.what_if:
        key, value = _what_if(spec)
        if key == "seats":
            parse_seats(value)
        elif key == "date":
            _date(value, "--what-if date")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    _check_options(args)
    config = _config(args.config)
    profile = _profile(args, config)
    if args.date:
        date = _date(args.date, "--date")
    elif profile.date is not None:
        date = profile.date
    else:
        date = dt.datetime.now(config.timezone).date()
    roster = Path(args.roster) if args.roster else None
    base = Case("baseline", config, profile, args.seats, roster, date)
    if args.timetable:
        rows = _timetable(base, args)
        if args.json:
            print(json.dumps({"timetable": rows}, ensure_ascii=False))
        else:
            print(_timetable_text(rows, args.target))
        return 0
    variants = [_variant(base, spec) for spec in args.what_if]
    result = _one(base, args)
    others = [_one(v, args) for v in variants]
    title = f"hotline simulate: {config.platform.name}, {date.isoformat()}"
    if args.html:
        runs = [(r["name"], r) for r in (result, *others)]
        Path(args.html).write_text(html_report(title, runs), encoding="utf-8")
    if args.json:
        out = dict(result)
        if others:
            out["what_if"] = others
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(text(result, title))
    if args.target:
        print()
        print(_staffing_text(result))
    for other in others:
        print()
        print(side_by_side(result, other, ("baseline", other["name"])))
    if args.html:
        print(f"\nreport written to {args.html}")
    return 0
