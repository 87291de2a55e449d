"""``hotline demo``: the engine on pbxsim with a private PostgreSQL and scripted traffic.

What runs, all on loopback:

* a private PostgreSQL server (as the ``postgres`` user when run as root);
* pbxsim, the stand-in Asterisk, with one softphone per demo agent: each
  answers after a few seconds and hangs up after a conversation;
* a stand-in work-order backend that accepts tickets;
* the engine with the shipped configuration (``config/``), its HTTP API and
  the wallboard figures;
* scripted agents who log in with their PINs and become ready, and scripted
  citizens who call at the configured rate: 12345 mostly, some retired
  department numbers, a few numbers that are not in service; some hang up
  while waiting, most rate the call.

It prints where to look, a status line every few seconds, and at the end a
summary of the call records in PostgreSQL (``--json``: one JSON object).
Everything it writes (recordings, the engine's state, the database) lives in
one working folder that is removed on exit, whether the run ends by
``--duration``, Ctrl-C or SIGTERM, unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from cti import logs
from cti.app import EngineProcess, Settings
from cti.config import AfterCutover, Config, ConfigManager
from cti.pgserver import PrivatePostgres
from cti.shipped import config_dir
from cti.store import Database
from pbxsim import CallerScript, DigitPress, PbxSim, PhoneScript, SimConfig

SECRET_ENV = "HOTLINE_DEMO_SECRET"


@dataclass
class Mix:
    """Who calls: shares of the traffic (the rest dials 12345)."""

    retired: float = 0.10
    unknown: float = 0.04
    abandon: float = 0.12
    rate: float = 0.85


class DemoBackend:
    """A stand-in work-order backend: accepts every ticket, numbers them."""

    def __init__(self) -> None:
        self.tickets: dict[str, dict[str, Any]] = {}
        self.updates = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _create(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        body = await request.json()
        if key not in self.tickets:
            self.tickets[key] = {"id": f"GD{next(self._ids):06d}", "body": body}
        return web.json_response({"id": self.tickets[key]["id"]}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        self.updates += 1
        return web.json_response({"ok": True})

    async def start(self) -> DemoBackend:
        app = web.Application()
        app.router.add_post("/tickets", self._create)
        app.router.add_post("/tickets/{id}/updates", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _numbers(config: Config) -> tuple[list[str], list[str]]:
    """Retired department numbers (merged lines) and a few numbers nobody serves."""
    retired = [
        number
        for line in config.lines.merged
        if line.after_cutover is not AfterCutover.MAIN_NUMBER
        for number in line.numbers
    ]
    unknown = ["88886666", "12399", "96000"]
    return retired, [n for n in unknown if n not in config.routed_numbers]


def _caller(
    rng: random.Random, n: int, mix: Mix, retired: list[str], unknown: list[str]
) -> CallerScript:
    number = f"13{rng.randrange(100_000_000, 999_999_999)}"
    name = rng.choice(["张三", "李四", "王五", "赵六", "陈女士", "刘先生", ""])
    roll = rng.random()
    if roll < mix.unknown:
        dialled = rng.choice(unknown)
    elif roll < mix.unknown + mix.retired:
        dialled = rng.choice(retired)
    else:
        dialled = "12345"
    digits: tuple[DigitPress, ...] = ()
    if rng.random() < mix.rate:
        key = rng.choices("12345", weights=(60, 25, 10, 3, 2))[0]
        digits = (DigitPress(at=1.0, digits=key, on_media="sound:hotline/zh/survey-question"),)
    hangup_after = rng.uniform(10, 45) if rng.random() < mix.abandon else None
    return CallerScript(
        number=number, name=name, dialled=dialled, digits=digits, hangup_after=hangup_after
    )


async def _summary(db: Database) -> dict[str, Any]:
    rows = await db.fetch(
        "SELECT outcome, count(*) AS n, count(rating) AS rated,"
        " count(queued_at) AS queued FROM calls GROUP BY outcome"
    )
    outcomes = {r["outcome"] or "in_progress": r["n"] for r in rows}
    calls = sum(outcomes.values())
    routes = await db.fetch("SELECT route, count(*) AS n FROM calls GROUP BY route")
    events = await db.fetchrow("SELECT count(*) AS n FROM call_events")
    tickets = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, count(*) AS total"
        " FROM ticket_outbox WHERE kind = 'create'"
    )
    return {
        "calls": calls,
        "offered": sum(r["queued"] for r in rows),
        "answered": outcomes.get("answered", 0),
        "abandoned": outcomes.get("abandoned", 0),
        "rated": sum(r["rated"] for r in rows),
        "outcomes": outcomes,
        "routes": {r["route"] or "unrouted": r["n"] for r in routes},
        "timeline_rows": events["n"] if events else 0,
        "tickets": dict(tickets) if tickets else {},
    }


async def _drained(process: EngineProcess, stop: asyncio.Event, timeout: float) -> bool:
    """Wait until no call is in progress (True), or ``timeout`` / Ctrl-C (False)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while process.engine.calls and not stop.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.5)
    return not process.engine.calls


async def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Run the demo in a fresh working folder, removed at the end unless ``--keep``."""
    workdir = Path(tempfile.mkdtemp(prefix="hotline-demo-"))
    try:
        async with contextlib.AsyncExitStack() as stack:
            return await _run(args, workdir, stack)
    finally:
        if args.keep:
            if not args.json:
                print(f"working folder kept: {workdir}", flush=True)
        else:
            await asyncio.to_thread(shutil.rmtree, workdir, True)


async def _run(
    args: argparse.Namespace, workdir: Path, stack: contextlib.AsyncExitStack
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    secret = os.environ.get(SECRET_ENV) or f"demo-{rng.getrandbits(48):x}"
    os.environ.setdefault("HOTLINE_TICKET_TOKEN", "demo-backend-token")
    manager = ConfigManager(args.config)
    config = manager.current
    agents = [a for a in config.agents.agents if "general" in a.skills][: args.agents]
    seats = list(config.seats.seats)[: len(agents)]
    phones = [
        PhoneScript(
            seat.endpoint.split("/", 1)[1],
            answer_after=rng.uniform(1.5, 4.0),
            hangup_after=rng.uniform(args.talk_min, args.talk_max),
        )
        for seat in seats
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def say(*words: object) -> None:
        if not args.json:
            print(*words, flush=True)

    say("starting a private PostgreSQL ...")
    pg = PrivatePostgres()
    stack.push_async_callback(asyncio.to_thread, pg.cleanup)
    await asyncio.to_thread(pg.start)
    backend = await DemoBackend().start()
    stack.push_async_callback(backend.stop)
    sim = PbxSim(
        SimConfig(
            user="hotline",
            secret=secret,
            phones=tuple(phones),
            recordings_dir=workdir / "asterisk-recordings",
            keep_history=False,
        )
    )
    stack.push_async_callback(sim.stop)
    await sim.start()
    settings = Settings.from_config(args.config, config, environ={}).with_(
        ari_url=sim.ari_url,
        ari_password=secret,
        ami_port=sim.ami_port,
        ami_secret=secret,
        http_port=args.http_port,
        database_url=pg.dsn,
        state_dir=str(workdir / "state"),
        recordings_dir=str(workdir / "recordings"),
        tickets_url=backend.url,
    )
    # A fresh read-only wallboard token for this run, unless one is configured.
    if not os.environ.get("HOTLINE_WALLBOARD_TOKEN"):
        os.environ["HOTLINE_WALLBOARD_TOKEN"] = "demo:" + secrets.token_urlsafe(9)
    board = os.environ["HOTLINE_WALLBOARD_TOKEN"].split(",")[0].rpartition(":")[2]
    process = EngineProcess(settings, manager)
    db = Database(pg.dsn)
    summary: dict[str, Any] = {}
    try:
        await process.start()
        await db.open(run_migrations=False)
        say(f"engine listening on {process.url}")
        say(f"  wallboard:         {process.url}/wallboard#token={board}")
        say(f"  wallboard figures: {process.url}/api/wallboard  (bearer token {board})")
        say(f"  agent toolbar:     {process.url}/agent")
        async with aiohttp.ClientSession() as http:
            for agent, seat in zip(agents, seats, strict=False):
                async with http.post(
                    f"{process.url}/api/agents/login",
                    json={"agent": agent.number, "pin": agent.number, "seat": seat.id},
                ) as r:
                    token = (await r.json())["token"]
                await http.post(
                    f"{process.url}/api/agents/me/ready",
                    headers={"Authorization": f"Bearer {token}"},
                )
        say(f"{len(agents)} agents ready; callers arrive at {args.calls_per_minute}/min")
        retired, unknown = _numbers(config)
        mix = Mix()
        started = time.monotonic()
        deadline = started + args.duration if args.duration else None
        placed = 0
        handles: list[Any] = []
        last_status = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            handles.append(sim.place_call(_caller(rng, placed, mix, retired, unknown)))
            placed += 1
            gap = rng.expovariate(args.calls_per_minute / 60.0)
            if now - last_status >= 10:
                last_status = now
                engine = process.engine
                say(
                    f"[{now - started:5.0f}s] calls placed {placed}, in progress "
                    f"{len(engine.calls)}, ended {len(engine.recent_ended)}, "
                    f"log errors {logs.COUNTS.errors}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), gap)
        say("no more callers; letting the calls in progress finish ...")
        longest_wait = max(float(q.max_wait or 0) for q in config.queues.queues.values())
        if not await _drained(process, stop, longest_wait + args.talk_max + 60):
            # Whoever is still on the line after that hangs up, so that every
            # call record the demo leaves is complete.
            on_line = {call.caller_channel for call in process.engine.calls.values()}
            for handle in handles:
                if handle.channel_id in on_line:
                    sim.hangup_call(handle)
            await _drained(process, asyncio.Event(), 15)
        await process.writer.flushed(30)
        await asyncio.sleep(0)
        summary = await _summary(db)
        summary["placed"] = placed
        summary["still_in_progress"] = len(process.engine.calls)
        summary["tickets_received"] = len(backend.tickets)
        summary["errors"] = logs.COUNTS.errors + process.engine.errors
        counts = Counter(summary["outcomes"])
        summary["adds_up"] = (
            sum(counts.values()) == summary["calls"] == placed - len(process.engine.calls)
        )
    finally:
        await db.close()
        await process.stop()
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline demo",
        description="Run the engine on pbxsim with a private PostgreSQL and scripted calls.",
    )
    parser.add_argument(
        "--config",
        default=str(config_dir()),
        help="configuration directory (default: the shipped deployment)",
    )
    parser.add_argument("--duration", type=float, default=0, help="seconds (0: until Ctrl-C)")
    parser.add_argument("--calls-per-minute", type=float, default=10)
    parser.add_argument("--agents", type=int, default=8, help="scripted agents (<= 35)")
    parser.add_argument("--talk-min", type=float, default=15.0)
    parser.add_argument("--talk-max", type=float, default=40.0)
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    parser.add_argument(
        "--keep", action="store_true", help="keep the working folder (recordings, state) on exit"
    )
    args = parser.parse_args(argv)
    if args.calls_per_minute <= 0 or args.agents < 1:
        parser.error("--calls-per-minute must be positive and --agents at least 1")
    logs.configure(json=args.json, level="WARNING")
    summary = asyncio.run(run_demo(args))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print("summary:", json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if summary.get("errors", 1) == 0 else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
