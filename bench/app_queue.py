"""The engine's ACD against a plain app_queue ``Queue()``, on the same real Asterisk.

What is measured: from the caller's INVITE (SIPp, through the carrier trunk)
to the INVITE the chosen agent's phone receives, at p50 and p99, under
bursts of calls arriving at 5 and 20 calls per second.  The same SIPp load
runs three times on one Asterisk booted from asterisk-conf/:

* **engine**: a call to 12345 goes to ``Stasis(hotline,...)``; ``hotline
  run`` (its own process, with PostgreSQL) answers it, queues it in the
  general queue (strategy ``longest_idle``) and originates the agent leg.
  The bench's copy of config/ drops the recording notice of the 12345
  route, so both columns measure routing and not a prompt's length;
* **app_queue**: a call to 7777xxxx goes to ``Queue(bench)`` (site addition
  ``extensions_local.conf``), a queue of the same seats with the equivalent
  strategy ``leastrecent`` and no announcements;
* **floor**: the smallest Python ARI application that connects a caller to
  an agent (:mod:`bench.floor_app`): it originates the agent leg the moment
  it sees the caller's ``StasisStart`` and does nothing before.  The
  engine's figure divided by this one is the cost of everything the engine
  decides on the way (routing, queueing, the ACD, its records).

Seat phones: every seat registers (its own credentials) to one SIPp that
answers after 100 ms; callers hang up a second after being answered, and
every burst has no more calls than there are seats, so no caller waits for
a free agent: the figure is the decision and signalling path alone.  Before
the first burst every seat must be reachable: Asterisk qualifies a contact
right after it registers, and the SIPp that registered it is gone by then, so
the bench qualifies each seat again once the answering SIPp listens, and
stops if one stays unreachable.

Run from a checkout (it uses asterisk-conf/ and the SIPp scenarios of
tests/asterisk/), with an installed Asterisk (``ASTERISK_BIN`` or PATH),
SIPp and the PostgreSQL server binaries::

    python -m bench.app_queue [--seats 20] [--bursts 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.floor_app import FloorApp
from cti import logs
from cti.config import load_config
from cti.pgserver import PrivatePostgres

# The Asterisk, SIPp and engine harness is the asterisk tier's (tests/asterisk/),
# which a console script does not have on its path: add the checkout's root.
_CHECKOUT = Path(__file__).resolve().parents[1]
if (_CHECKOUT / "tests" / "asterisk").is_dir() and str(_CHECKOUT) not in sys.path:
    sys.path.insert(0, str(_CHECKOUT))

from tests.asterisk.engine import AgentSession, EngineRunner, config_copy, edit_yaml  # noqa: E402
from tests.asterisk.pbx import (  # noqa: E402
    Asterisk,
    AsteriskUnavailable,
    Ports,
    find_asterisk,
    free_udp_port,
)
from tests.asterisk.sip import Phone, Sipp, call, render, sipp_binary  # noqa: E402

RATES = (5, 20)
MODES = ("app_queue", "engine", "floor")
QUEUE_PREFIX = "7777"
_STAMP = re.compile(r"^-{47} (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+)$")
_FROM_NUMBER = re.compile(r"^From:.*<sip:(\d+)@", re.M)


@dataclass(frozen=True, slots=True)
class Figures:
    samples: int
    p50_ms: float
    p99_ms: float

    def as_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms}


def invites(message_log: str, direction: str) -> dict[str, datetime]:
    """First INVITE per caller number in a SIPp message log (``sent`` or ``received``)."""
    found: dict[str, datetime] = {}
    stamp: datetime | None = None
    blocks = message_log.split("\n" + "-" * 47 + " ")
    for index, block in enumerate(blocks):
        text = block if index == 0 else "-" * 47 + " " + block
        lines = text.split("\n")
        header = _STAMP.match(lines[0])
        if header is None or len(lines) < 3:
            continue
        stamp = datetime.fromisoformat(header.group(1))
        if f"message {direction}" not in lines[1]:
            continue
        start = next((line for line in lines[2:] if line.strip()), "")
        number = _FROM_NUMBER.search(text)
        if start.startswith("INVITE ") and number and number.group(1) not in found:
            found[number.group(1)] = stamp
    return found


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * (len(ordered) - 1))))
    return ordered[rank]


def figures(latencies: list[float]) -> Figures:
    if not latencies:
        return Figures(0, float("nan"), float("nan"))
    return Figures(
        len(latencies),
        round(statistics.median(latencies), 1),
        round(percentile(latencies, 0.99), 1),
    )


def bench_queue_files(endpoints: list[str]) -> dict[str, str]:
    """The app_queue side: a context and a queue of the same seats (site additions)."""
    members = "".join(f"member => PJSIP/{name}\n" for name in endpoints)
    return {
        "extensions_local.conf": (
            "; Benchmark: the same calls through a plain app_queue queue.\n"
            "[from-carrier]\n"
            f"exten => _{QUEUE_PREFIX}X.,1,Queue(bench)\n"
            " same => n,Hangup()\n"
        ),
        "queues_local.conf": (
            "[bench]\n"
            "strategy = leastrecent    ; the engine's longest_idle\n"
            "timeout = 15\nretry = 1\nwrapuptime = 0\nringinuse = no\n"
            "joinempty = yes\nannounce-frequency = 0\nannounce-position = no\n"
            "announce-holdtime = no\nperiodic-announce-frequency = 0\n" + members
        ),
    }


def bench_config(dest: Path) -> Path:
    """config/ without the 12345 recording notice, with no wrap-up in the general queue."""
    config_copy(dest)
    edit_yaml(
        dest / "routing.yaml",
        '    notice: recording_notice\n    queue: general\n    tags: {channel: "12345"}\n',
        '    queue: general\n    tags: {channel: "12345"}\n',
    )
    edit_yaml(
        dest / "queues.yaml",
        "    ring_timeout: 15\n    wrapup: 15\n",
        "    ring_timeout: 15\n    wrapup: 0\n",
    )
    return dest


class Bench:
    """One Asterisk, one PostgreSQL, one set of seat phones; the engine started on demand."""

    def __init__(self, workdir: Path, seats: int) -> None:
        self.workdir = workdir
        self.config_dir = bench_config(workdir / "config")
        config = load_config(self.config_dir)
        agents = [a.number for a in config.agents.agents if a.skills.get("general", 0) >= 3]
        self.pairs = [
            (agent, seat.id, seat.endpoint.removeprefix("PJSIP/"))
            for agent, seat in zip(agents, config.seats.seats, strict=False)
        ][:seats]
        self.asterisk = Asterisk(
            find_asterisk(),
            workdir / "asterisk",
            Ports.allocate(),
            local=bench_queue_files([endpoint for _, _, endpoint in self.pairs]),
        )
        self.phones_port = free_udp_port()
        self.phones: Sipp | None = None
        self.postgres = PrivatePostgres()
        self.runs = 0

    async def register_phones(self) -> None:
        for _, _, endpoint in self.pairs:
            phone = Phone(endpoint, self.phones_port, self.workdir, self.asterisk.ports.sip)
            await phone.register(expires=600)
        scenario = render(
            "agent_answer.xml", self.workdir / "phones.xml", ring_ms=100, talk_ms=30_000
        )
        self.phones = await Sipp.start(
            "phones", self.workdir, scenario, "-p", str(self.phones_port), "-aa", "-bind_local"
        )
        await self.seats_reachable()

    async def seats_reachable(self, timeout: float = 30.0) -> None:
        """Qualify every seat until Asterisk finds each one reachable (ARI ``online``)."""
        watcher = self.asterisk.ari(app="bench-watcher")
        pending = {endpoint for _, _, endpoint in self.pairs}
        try:
            async with asyncio.timeout(timeout):
                while pending:
                    for endpoint in sorted(pending):
                        self.asterisk.cli(f"pjsip qualify {endpoint}")
                    await asyncio.sleep(0.5)  # the qualify's answer arrives on Asterisk's side
                    for endpoint in sorted(pending):
                        found = await watcher.endpoints.get("PJSIP", endpoint)
                        if found.state == "online":
                            pending.discard(endpoint)
        except TimeoutError:
            raise RuntimeError(
                f"seats still unreachable after {timeout:.0f} s: {', '.join(sorted(pending))}"
            ) from None
        finally:
            await watcher.close()

    async def burst(self, dialled: str, prefix: str, rate: int, calls: int) -> list[float]:
        """One burst of ``calls`` at ``rate``/s; the latency of each call in ms."""
        assert self.phones is not None
        self.runs += 1
        role = f"callers-{self.runs}"
        before = invites(self.phones.messages(), "received")
        callers = await call(
            self.workdir,
            sip_port=self.asterisk.ports.sip,
            source_port=self.asterisk.ports.carrier,
            dialled=dialled,
            role=role,
            calls=calls,
            rate=rate,
            caller_number=f"{prefix}{self.runs:02d}[call_number]",
            wait_ms=1000,
            then="hangup",
        )
        await callers.wait(timeout=calls / rate + 40)
        sent = invites(callers.messages(), "sent")
        deadline = time.monotonic() + 10
        while True:  # the phones' log is written as SIPp goes
            received = invites(self.phones.messages(), "received")
            fresh = {n: t for n, t in received.items() if n not in before}
            if len(fresh) >= len(sent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        return [
            (fresh[number] - at).total_seconds() * 1000
            for number, at in sent.items()
            if number in fresh
        ]

    async def settle(self, seconds: float) -> None:
        """Let the seats finish their calls (talk and wrap-up) before the next burst."""
        await asyncio.sleep(seconds)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-aq-"))
    bench = Bench(workdir, args.seats)
    seats = len(bench.pairs)
    results: dict[str, Any] = {
        "asterisk": bench.asterisk.version,
        "seats": seats,
        "bursts_per_rate": args.bursts,
    }
    await bench.asterisk.start_async()
    bench.postgres.start()
    engine = EngineRunner(bench.asterisk, bench.config_dir, workdir / "engine", bench.postgres.dsn)
    engine.workdir.mkdir(parents=True)
    try:
        await bench.register_phones()
        latencies: dict[str, dict[int, list[float]]] = {mode: {} for mode in MODES}
        # app_queue first, with no engine connected (its calls never touch Stasis).
        for rate in RATES:
            for _ in range(args.bursts):
                got = await bench.burst(f"{QUEUE_PREFIX}0001", "13922", rate, min(seats, rate * 2))
                latencies["app_queue"].setdefault(rate, []).extend(got)
                await bench.settle(3)
        await engine.start(timeout=60)
        await asyncio.gather(
            *(AgentSession(engine, agent, seat).login() for agent, seat, _ in bench.pairs)
        )
        for rate in RATES:
            for _ in range(args.bursts):
                got = await bench.burst("12345", "13811", rate, min(seats, rate * 2))
                latencies["engine"].setdefault(rate, []).extend(got)
                await bench.settle(3)
        await engine.stop()
        # The floor: the same application name, now held by the minimal application.
        client = bench.asterisk.ari()
        await client.connect()
        floor = FloorApp(client, [endpoint for _, _, endpoint in bench.pairs])
        try:
            for rate in RATES:
                for _ in range(args.bursts):
                    got = await bench.burst("12345", "13833", rate, min(seats, rate * 2))
                    latencies["floor"].setdefault(rate, []).extend(got)
                    await bench.settle(3)
        finally:
            results["floor_refused"] = floor.refused
            await floor.close()
            await client.close()
        for mode, by_rate in latencies.items():
            results[mode] = {str(rate): figures(v).as_json() for rate, v in by_rate.items()}
        results["ratio_p99"] = {
            str(rate): _ratio(results, "engine", "app_queue", rate, "p99_ms") for rate in RATES
        }
        results["engine_over_floor"] = {
            str(rate): {
                "p50": _ratio(results, "engine", "floor", rate, "p50_ms"),
                "p99": _ratio(results, "engine", "floor", rate, "p99_ms"),
            }
            for rate in RATES
        }
    finally:
        await engine.stop()
        if bench.phones is not None:
            await bench.phones.stop()
        bench.asterisk.stop()
        bench.postgres.cleanup()
    results["workdir"] = str(workdir)
    return results


def _ratio(results: dict[str, Any], top: str, bottom: str, rate: int, key: str) -> float:
    below = results[bottom][str(rate)][key]
    return round(results[top][str(rate)][key] / below, 2) if below else float("nan")


def table(results: dict[str, Any]) -> str:
    lines = [
        f"INVITE -> agent INVITE on {results['asterisk']}, {results['seats']} seats, "
        f"{results['bursts_per_rate']} bursts per rate (p50 / p99, ms)",
        f"{'calls/s':>8} | {'app_queue':>15} | {'floor (ARI)':>15} | {'engine':>15} "
        f"| {'engine / floor':>15}",
    ]
    for rate in RATES:
        cells = [results[mode][str(rate)] for mode in ("app_queue", "floor", "engine")]
        ratio = results["engine_over_floor"][str(rate)]
        lines.append(
            f"{rate:>8} | "
            + " | ".join(f"{c['p50_ms']:>6.1f} / {c['p99_ms']:>6.1f}" for c in cells)
            + f" | {ratio['p50']:>5.2f}x / {ratio['p99']:>5.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``hotline bench app-queue``: print the comparison (``--json`` for one JSON object)."""
    parser = argparse.ArgumentParser(
        prog="hotline bench app-queue", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seats", type=int, default=20, help="seat phones and agents (<= 33)")
    parser.add_argument("--bursts", type=int, default=3, help="bursts per rate and mode")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    # The clients' own logs stay out of the figures (``--json`` prints one object).
    logs.configure(json=True, level="WARNING")
    try:
        find_asterisk()
    except AsteriskUnavailable as exc:
        print(f"bench app-queue: {exc}", file=sys.stderr)
        return 2
    if sipp_binary() is None:
        print("bench app-queue: SIPp not found (Debian package sip-tester)", file=sys.stderr)
        return 2
    results = asyncio.run(run(args))
    print(json.dumps(results, ensure_ascii=False) if args.json else table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
