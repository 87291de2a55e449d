"""``hotline sim``: run pbxsim alone until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from .config import SimConfig
from .dialplan import SHIPPED_DIALPLAN, DialplanError, Plan, ari_channelvars
from .errors import ScriptError
from .scripts import PhoneScript, Scenario
from .sim import PbxSim


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline sim",
        description="Serve a simulated Asterisk: ARI (HTTP + WebSocket) and AMI on 127.0.0.1.",
    )
    parser.add_argument("--ari-port", type=int, required=True, help="ARI HTTP/WebSocket port")
    parser.add_argument("--ami-port", type=int, required=True, help="AMI TCP port")
    parser.add_argument("--user", required=True, help="ARI and AMI user name")
    parser.add_argument("--secret", help="ARI and AMI secret (default: $PBXSIM_SECRET)")
    parser.add_argument("--app", default="hotline", help="Stasis application of inbound calls")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every simulated duration (0.1 = ten times faster)",
    )
    parser.add_argument("--scenario", type=Path, help="JSON scenario: phones, remotes, callers")
    parser.add_argument("--recordings-dir", type=Path, help="where recordings are written")
    parser.add_argument(
        "--dialplan",
        type=Path,
        default=SHIPPED_DIALPLAN,
        metavar="FILE",
        help="the extensions.conf to run (default: asterisk-conf/extensions.conf); the"
        " channelvars of an ari.conf beside it are shown in every channel",
    )
    parser.add_argument(
        "--phone",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="a registered agent phone that answers (repeatable)",
    )
    parser.add_argument(
        "--ami-eventfilter",
        action="append",
        default=[],
        metavar="REGEX",
        help="a manager.conf eventfilter: only matching events go out (!REGEX: none that"
        " match; repeatable)",
    )
    parser.add_argument(
        "--system-name",
        metavar="NAME",
        help="as Asterisk with systemname set in asterisk.conf: channel ids start with NAME-"
        " (one of several nodes)",
    )
    parser.add_argument(
        "--ami-split-writes",
        action="store_true",
        help="write AMI frames in pieces cut at random bytes",
    )
    return parser


async def serve(config: SimConfig, scenario: Scenario | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = PbxSim(config)
    await sim.start()
    try:
        if scenario is not None:
            sim.load_scenario(scenario)
        print(f"pbxsim: ARI on {sim.ari_url}, AMI on {config.host}:{sim.ami_port}", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    secret = args.secret if args.secret is not None else os.environ.get("PBXSIM_SECRET")
    if not secret:
        print("hotline sim: a secret is needed (--secret or PBXSIM_SECRET)", file=sys.stderr)
        return 2
    try:
        scenario = Scenario.load(args.scenario) if args.scenario else None
        Plan.load(args.dialplan)
        config = SimConfig(
            dialplan=args.dialplan,
            channelvars=ari_channelvars(args.dialplan.parent / "ari.conf"),
            user=args.user,
            secret=secret,
            ari_port=args.ari_port,
            ami_port=args.ami_port,
            app=args.app,
            time_scale=args.time_scale,
            recordings_dir=args.recordings_dir,
            phones=tuple(PhoneScript(e) for e in args.phone),
            ami_split_writes=args.ami_split_writes,
            ami_eventfilter=tuple(args.ami_eventfilter),
            **(
                {"system_name": args.system_name, "system_name_in_ids": True}
                if args.system_name
                else {}
            ),
        )
    except (ScriptError, DialplanError, ValueError) as exc:
        print(f"hotline sim: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(config, scenario))
    except OSError as exc:
        print(f"hotline sim: {exc}", file=sys.stderr)
        return 1
