"""``hotline bench acd``: how fast the ACD decides, and how much its indices buy.

**Traffic.** A seeded simulation plays the shell: callers arrive (Poisson,
at 90 % of the staffed capacity with a +-15 % swell over half an hour, so
queues build up and drain), wait with a patience of two minutes on average,
agents answer after 1 to 8 s (5 % reject, 5 % let it ring out), talk
(log-normal, 150 s on average), wrap up (a fifth end it early), and pause
about once an hour for 1 to 10 minutes.  The
stream depends on the ACD's decisions, so it is first *recorded* by
running the simulation against an ACD, then *replayed* into fresh ACDs for
the measurements: only ``Acd.handle`` is timed, never the simulation.

The first 10 virtual minutes (the centre filling up from all agents idle)
are replayed as untimed setup.

**Decisions.** A decision is one event that can change who talks to whom:
a caller arriving or hanging up, an agent becoming ready, a call ending,
wrap-up ending (the agent's button or its timer), an offer rejected or
rung out, a caller's relaxation, overflow or announcement timer.  Answers,
bridge confirmations and pauses are replayed too but are not decisions.

**Figures.** Each replay makes two kinds of pass over the recording:

- throughput passes time the whole stream in process CPU time (other
  processes on the machine do not count against it; the best pass is kept);
- a per-event pass times every event alone (wall clock), which gives the
  p99 of decision times, the share ``s`` of the ACD's time spent on
  decisions, and a digest of every command.

``decisions_per_s = decisions / (cpu_time * s)``; the lower bound
``stream_decisions_per_s = decisions / cpu_time`` charges the other events
to the decisions as well.  The naive scan-all-agents selector replays the
start of the 5,000-agent recording, as does the indexed one for the ratio;
identical command digests show they decided the same way.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass

from acd import Acd, IndexedSelector, ScanSelector, Selector
from bench.acd_traffic import (
    DECISIONS,
    Recording,
    Scenario,
    centre_80,
    centre_5000,
    record,
)

__all__ = ["DECISIONS", "Recording", "centre_80", "centre_5000", "prefix", "record", "replay"]


@dataclass
class Replay:
    """What replaying a recording into fresh ACDs measured."""

    decisions: int
    events: int
    cpu_s: float
    decision_ns: list[int]
    other_ns: int
    digest: str

    @property
    def share(self) -> float:
        """The part of the ACD's time spent on decisions (from the per-event pass)."""
        spent = sum(self.decision_ns)
        total = spent + self.other_ns
        return spent / total if total else 1.0

    @property
    def rate(self) -> float:
        """Decisions per second of CPU time spent on decisions."""
        spent = self.cpu_s * self.share
        return self.decisions / spent if spent > 0 else 0.0

    @property
    def stream_rate(self) -> float:
        """Decisions per second of CPU time spent on the whole stream (the lower bound)."""
        return self.decisions / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def p99_us(self) -> float:
        times = sorted(self.decision_ns)
        if not times:
            return 0.0
        return times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)] / 1000.0


def replay(
    scenario: Scenario,
    rec: Recording,
    selector: Callable[[], Selector] | None = None,
    repeat: int = 1,
) -> Replay:
    """Feed a recording to fresh ACDs and measure them (see the module docstring).

    The setup is handled once by an ACD with the indexed selector, which is
    then pickled; every pass starts from a copy of it (moved onto
    ``selector`` if one is given, with its indices rebuilt).  The objects
    alive before a pass are frozen out of the garbage collector's way, as a
    long-running engine would do after start-up.
    """
    stream = rec.stream
    warm = Acd(scenario.config)
    for event, now in rec.setup:
        warm.handle(event, now)
    start = rec.setup[-1][1] if rec.setup else 0.0
    snapshot = pickle.dumps(warm, protocol=pickle.HIGHEST_PROTOCOL)
    del warm

    def fresh() -> Acd:
        acd: Acd = pickle.loads(snapshot)
        if selector is not None:
            assert acd.rebuild_selector(start, selector()) == []
        gc.collect()
        gc.freeze()
        return acd

    decisions = sum(1 for event, _ in stream if isinstance(event, DECISIONS))
    best = math.inf
    for _ in range(repeat):
        handle = fresh().handle
        cpu0 = time.process_time()
        for event, now in stream:
            handle(event, now)
        best = min(best, time.process_time() - cpu0)
        gc.unfreeze()

    handle = fresh().handle
    digest = hashlib.blake2b(digest_size=16)
    clock = time.perf_counter_ns
    times: list[int] = []
    other = 0
    for event, now in stream:
        t0 = clock()
        out = handle(event, now)
        elapsed = clock() - t0
        if isinstance(event, DECISIONS):
            times.append(elapsed)
        else:
            other += elapsed
        digest.update(repr(out).encode())
    gc.unfreeze()
    return Replay(decisions, len(stream), best, times, other, digest.hexdigest())


def prefix(rec: Recording, decisions: int) -> Recording:
    """The start of a recording, up to and including its ``decisions``-th decision."""
    seen = 0
    for i, (event, _) in enumerate(rec.stream):
        if isinstance(event, DECISIONS):
            seen += 1
            if seen == decisions:
                return Recording(rec.setup, rec.stream[: i + 1])
    return rec


def python_loop_ns() -> float:
    """A yardstick of this machine's Python speed: ns per ``s += i`` loop turn."""
    n = 2_000_000
    t0 = time.process_time()
    s = 0
    for i in range(n):
        s += i
    return round((time.process_time() - t0) / n * 1e9, 1)


def run_bench(
    seed: int, events: int, naive_events: int, warmup_s: float = 600.0
) -> dict[str, object]:
    """Both centres, then the naive selector on the start of the 5,000-agent stream."""
    started = time.perf_counter()
    small_scenario = centre_80(seed)
    small = replay(small_scenario, record(small_scenario, seed, events, warmup_s), repeat=2)
    big_scenario = centre_5000(seed)
    big_stream = record(big_scenario, seed, events, warmup_s)
    big = replay(big_scenario, big_stream, repeat=2)
    head = prefix(big_stream, naive_events)
    naive = replay(big_scenario, head, ScanSelector)
    indexed = replay(big_scenario, head, IndexedSelector, repeat=2)
    return {
        "seed": seed,
        "decisions_80": small.decisions,
        "decisions_per_s_80": round(small.rate),
        "stream_decisions_per_s_80": round(small.stream_rate),
        "p99_us_80": round(small.p99_us, 1),
        "decisions_5000": big.decisions,
        "decisions_per_s_5000": round(big.rate),
        "stream_decisions_per_s_5000": round(big.stream_rate),
        "p99_us_5000": round(big.p99_us, 1),
        "naive_decisions_5000": naive.decisions,
        "naive_decisions_per_s_5000": round(naive.rate),
        "naive_p99_us_5000": round(naive.p99_us, 1),
        "indexed_decisions_per_s_5000_same_stream": round(indexed.rate),
        "ratio_5000": round(indexed.rate / naive.rate, 1) if naive.rate else 0.0,
        "same_commands": naive.digest == indexed.digest,
        "python_loop_ns": python_loop_ns(),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str]) -> int:
    """``hotline bench acd [--json] [--seed N] [--events N] [--naive-events N] [--warmup S]``."""
    parser = argparse.ArgumentParser(prog="hotline bench acd", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the traffic (12345)")
    parser.add_argument(
        "--events", type=int, default=60_000, help="decisions recorded per centre (60000)"
    )
    parser.add_argument(
        "--naive-events",
        type=int,
        default=2_000,
        help="decisions replayed by the naive selector at 5,000 agents (2000)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=600.0,
        help="virtual seconds of traffic before measuring (600)",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.naive_events < 1 or args.warmup < 0:
        parser.error("--events and --naive-events must be positive, --warmup not negative")
    f = run_bench(args.seed, args.events, args.naive_events, args.warmup)
    if args.json:
        print(json.dumps(f))
        return 0
    print(f"ACD benchmark, seed {f['seed']} (Python loop turn: {f['python_loop_ns']} ns)")
    rows = [
        ("80 agents, 6 queues", "80"),
        ("5,000 agents, 200 skills", "5000"),
    ]
    for label, n in rows:
        print(
            f"  {label:<26}{f[f'decisions_per_s_{n}']:>9,} decisions/s"
            f"  (whole stream {f[f'stream_decisions_per_s_{n}']:,}/s)"
            f"  p99 {f[f'p99_us_{n}']} us  over {f[f'decisions_{n}']:,} decisions"
        )
    print(
        f"  {'naive scan, 5,000 agents':<26}{f['naive_decisions_per_s_5000']:>9,} decisions/s"
        f"  p99 {f['naive_p99_us_5000']} us  over {f['naive_decisions_5000']:,} decisions"
    )
    print(
        f"  indexed / naive on those decisions: {f['ratio_5000']}x"
        f"  (identical commands: {f['same_commands']})"
    )
    print(f"  wall time {f['wall_s']} s")
    return 0
