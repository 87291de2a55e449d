"""``hotline bench load``: what a call costs the engine, measured end to end.

**System.** Each part in its own process, on loopback: a private PostgreSQL,
pbxsim (``hotline sim``) with one phone per agent, the engine (``hotline
run``, JSON logs at INFO as in production) on a copy of the configuration in
which the main number goes straight to the general queue (no recording
notice) and enough agents wait, each at a seat of their own; in this process
a stand-in ticket backend.  Agents log in over the API and become ready.
Phones answer after ``--answer-after`` seconds and hang up after ``--talk``;
the caller then rates the call (key 1 at the survey question).  pbxsim runs
at ``--time-scale`` 1 unless told otherwise (the issue's 1 s and 20 s); the
engine's own timers (wrap-up, ring timeout) are real time.

**Phases.**

1. *Memory*: ``--concurrent`` callers arrive at the highest rate and stay on
   the line (phones set not to hang up).  Once the wallboard shows them all
   talking, the engine's RSS is read; then every agent hangs up, the
   callers rate, and the calls complete.
2. *Rates*: for each of ``--rates``, ``rate x --duration`` callers arrive
   evenly spaced (scheduled inside pbxsim), routed straight to the queue with
   idle agents.  The phase ends when the backend has every ticket.
3. *Ingest*: :mod:`bench.ingest`, in this process, after the others stopped.

**Figures.**

* ``queue_to_ring_p50_ms`` / ``_p99_ms`` by rate: pbxsim's emission time of
  the caller's ``StasisStart`` to pbxsim's arrival time of the agent-leg
  originate (``POST /channels``), both from pbxsim's clock;
* ``cpu_ms_per_call``: the engine's CPU time (``/proc/<pid>/stat``, user +
  system) over the rate phases, from the first arrival to the last ticket,
  over the calls completed (answered, bridged, recorded, rated, ticketed);
* ``rss_mb_500_calls``: engine RSS with ``--concurrent`` calls talking
  (extrapolated from the per-call figure when ``--concurrent`` is not 500);
  ``rss_mb_per_call`` is (RSS then - RSS before) / calls;
* ``events_per_s``: :mod:`bench.ingest`;
* ``wallboard_p99_ms``: from a caller's ``StasisStart`` (pbxsim's clock) to
  the first wallboard update this process receives that counts the call as
  offered (the k-th arrival of a phase is seen when ``offered`` reaches the
  phase's starting value + k), over the rate phases.

And to explain them: ``queue_to_ring_steps_p50_ms`` (when each request of
the caller's lane reached pbxsim: call id set, diversion read, answer, music
on hold, agent rung), ``cpu_ms_per_call_net_of_idle`` (the idle engine's CPU
rate subtracted), pbxsim's CPU per call, the share of the machine busy in
each phase and its load average at the start (the machine may be shared).

Benchmarks print figures; nothing here asserts.  Logs and the bench
configuration stay in the work directory with ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import ingest
from bench.loadrig import Rig, RigOptions, Sample, WallboardWatch
from bench.loadsupport import (
    BenchError,
    Child,
    bench_config,
    cpu_seconds,
    host_cpu,
    machine,
    percentile,
    rss_mb,
)
from cti import logs
from cti.config import ConfigManager
from cti.shipped import config_dir

BENCH_PIN = "2468"
SPARE_AGENTS = 10
IDLE_WINDOW_S = 3.0
SETTLE_S = 2.0

TARGETS: dict[str, tuple[str, float]] = {
    # figure -> (comparison, target)
    "queue_to_ring_p99_ms": ("<", 10.0),
    "cpu_ms_per_call": ("<", 3.0),
    "rss_mb_500_calls": ("<", 200.0),
    "events_per_s": (">=", 20_000.0),
    "wallboard_p99_ms": ("<", 1000.0),
}


@dataclass
class Phase:
    """One batch of callers; ``index`` is the third digit of their numbers."""

    index: int
    name: str
    rate: float
    count: int
    started_at: float = 0.0
    seconds: float = 0.0  # from the first arrival to the last ticket (or the deadline)
    offered_before: int = 0
    cpu_s: float = 0.0
    sim_cpu_s: float = 0.0
    host_busy: float = 0.0  # share of the machine's CPUs busy during the phase
    completed: int = 0
    tickets: int = 0

    def number(self, i: int) -> str:
        return f"13{self.index}{i:08d}"


def _sayer(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines on stdout, unless the output is JSON."""

    def say(line: str) -> None:
        if not args.json:
            print(line, flush=True)

    return say


def phase_of(number: str) -> int | None:
    if len(number) == 11 and number.startswith("13") and number[2].isdigit():
        return int(number[2])
    return None


def _rate_key(rate: float) -> str:
    return f"{rate:g}"


class Bench:
    """The phases, run against one :class:`Rig`."""

    def __init__(self, rig: Rig, args: argparse.Namespace, main: str, survey: str) -> None:
        self.rig = rig
        self.args = args
        self.main = main
        self.survey = survey
        self.say = _sayer(args)

    @property
    def engine(self) -> Child:
        assert self.rig.engine is not None
        return self.rig.engine

    @property
    def watch(self) -> WallboardWatch:
        assert self.rig.watch is not None
        return self.rig.watch

    def _callers(self, phase: Phase) -> list[dict[str, Any]]:
        spacing = 1.0 / phase.rate / self.args.time_scale  # pbxsim scales start_after
        return [
            {
                "number": phase.number(i),
                "dialled": self.main,
                "digits": [{"at": 0.5, "digits": "1", "on_media": self.survey}],
                "start_after": i * spacing,
            }
            for i in range(phase.count)
        ]

    def _tickets(self, phase: Phase) -> list[dict[str, Any]]:
        bodies = [t["body"] for t in self.rig.backend.tickets.values()]
        return [b for b in bodies if phase_of(b.get("caller", {}).get("number", "")) == phase.index]

    async def _wait_tickets(self, phase: Phase, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                while len(self._tickets(phase)) < phase.count:
                    self.engine.check_alive()
                    await asyncio.sleep(0.25)  # the backend has no change signal to wait on
        except TimeoutError:
            self.say(f"  {phase.name}: only {len(self._tickets(phase))} of {phase.count} tickets")

    def _cpu(self) -> tuple[float, float, tuple[float, float]]:
        assert self.rig.sim is not None
        return cpu_seconds(self.engine.pid), cpu_seconds(self.rig.sim.pid), host_cpu()

    async def _arrive(
        self, phase: Phase, ready_timeout: float
    ) -> tuple[float, float, tuple[float, float]]:
        """Wait for enough idle agents, then let the phase's callers arrive; CPU before."""
        watch = self.watch
        await watch.wait_for(
            lambda s: s.ready >= phase.count, ready_timeout, f"{phase.count} idle agents"
        )
        assert watch.latest is not None
        phase.offered_before = watch.latest.offered
        cpu = self._cpu()
        phase.started_at = time.time()
        await self.rig.sim_call("POST", "/sim/scenario", {"callers": self._callers(phase)})
        return cpu

    def _finish(self, phase: Phase, before: tuple[float, float, tuple[float, float]]) -> None:
        engine, sim, (busy, total) = self._cpu()
        phase.seconds = time.time() - phase.started_at
        phase.cpu_s = engine - before[0]
        phase.sim_cpu_s = sim - before[1]
        phase.host_busy = (busy - before[2][0]) / max(total - before[2][1], 1e-9)
        tickets = self._tickets(phase)
        phase.tickets = len(tickets)
        phase.completed = sum(
            1
            for t in tickets
            if t.get("kind") == "call"
            and (t.get("times") or {}).get("answered_at")
            and (t.get("rating") or {}).get("level") is not None
            and t.get("recording_url")
        )

    def _call_time(self, phase: Phase) -> float:
        a = self.args
        per_call = (float(a.answer_after) + float(a.talk) + 10.0) * float(a.time_scale)
        return phase.count / phase.rate + per_call + 60.0

    async def idle_cpu(self) -> float:
        """Engine CPU milliseconds per second with agents logged in and no calls."""
        before = cpu_seconds(self.engine.pid)
        await asyncio.sleep(IDLE_WINDOW_S)  # a measurement window, not a synchronisation
        return (cpu_seconds(self.engine.pid) - before) * 1000 / IDLE_WINDOW_S

    async def memory(self, phase: Phase) -> dict[str, Any]:
        rig, staff = self.rig, self.rig.options.staff
        self.say(f"memory: {phase.count} calls held up ...")

        async def hold(e: str) -> None:
            await rig.sim_call("PUT", f"/sim/phones/{e}", rig.phone(e, hangs_up=False))

        await rig.each(list(staff.endpoints), hold, width=16)
        await self.watch.wait_for(
            lambda s: s.ready >= phase.count, 120, f"{phase.count} idle agents"
        )
        rss_before = rss_mb(self.engine.pid)
        cpu = await self._arrive(phase, 120)
        await self.watch.wait_for(
            lambda s: s.on_call >= phase.count,
            self._call_time(phase),
            f"{phase.count} calls talking",
        )
        await asyncio.sleep(SETTLE_S)  # recordings and writes of the last calls start
        rss_held = rss_mb(self.engine.pid)

        async def hang_up(e: str) -> None:
            await rig.sim_call("POST", f"/sim/phones/{e}/hangup")
            await rig.sim_call("PUT", f"/sim/phones/{e}", rig.phone(e))

        await rig.each(list(staff.endpoints), hang_up, width=16)
        await self._wait_tickets(phase, self._call_time(phase))
        self._finish(phase, cpu)
        per_call = (rss_held - rss_before) / phase.count
        return {
            "concurrent": phase.count,
            "rss_mb_before": round(rss_before, 1),
            "rss_mb_held": round(rss_held, 1),
            "rss_mb_per_call": round(per_call, 4),
            "rss_mb_500_calls": round(
                rss_held if phase.count == 500 else rss_before + 500 * per_call, 1
            ),
            "extrapolated": phase.count != 500,
        }

    async def rate(self, phase: Phase) -> None:
        self.say(f"rate {phase.rate:g}/s: {phase.count} calls ...")
        cpu = await self._arrive(
            phase, 120 + self.rig.options.config.queues.queues["general"].wrapup
        )
        await self._wait_tickets(phase, self._call_time(phase))
        self._finish(phase, cpu)
        self.say(
            f"  {phase.completed}/{phase.count} completed, "
            f"{phase.cpu_s * 1000 / max(phase.completed, 1):.1f} ms CPU per call"
        )


STEPS = ("call_id_set", "diversion_read", "answered", "moh_started", "agent_rung")
"""The engine's requests between a caller's arrival and the agent's ring, in lane order."""


@dataclass(frozen=True)
class Arrival:
    """One caller: when pbxsim emitted its ``StasisStart``, and when each step's request
    arrived at pbxsim, in seconds after that (absent: never)."""

    at: float
    steps: dict[str, float]


def _step(request: dict[str, Any]) -> tuple[str, str] | None:
    """(step, caller channel or call id) of a request on the path to the agent's ring."""
    method, path = request["method"], request["path"]
    params = request.get("params") or {}
    if method == "POST" and path == "/channels":
        args = str(params.get("appArgs", "")).split(",")
        return ("agent_rung", args[1]) if len(args) > 1 and args[0] == "agent" else None
    parts = path.split("/")
    if len(parts) != 4 or parts[1] != "channels":
        return None
    channel, tail = parts[2], parts[3]
    if tail == "variable" and method == "POST" and params.get("variable") == "HOTLINE_CALL_ID":
        return "call_id_set", channel
    if tail == "variable" and method == "GET":
        return "diversion_read", channel
    if tail == "answer" and method == "POST":
        return "answered", channel
    if tail == "moh" and method == "POST":
        return "moh_started", channel
    return None


def arrivals(
    starts: list[dict[str, Any]], requests: list[dict[str, Any]]
) -> dict[int, list[Arrival]]:
    """Per phase, every inbound caller with the timing of its steps (see :data:`STEPS`)."""
    first: dict[tuple[str, str], float] = {}
    call_of: dict[str, str] = {}
    for r in requests:
        found = _step(r)
        if found is None:
            continue
        first.setdefault(found, r["at"])
        if found[0] == "call_id_set":
            call_of[found[1]] = str((r.get("params") or {}).get("value"))
    out: dict[int, list[Arrival]] = {}
    for item in starts:
        event = item["event"]
        if not event.get("args") or event["args"][0] != "inbound":
            continue
        channel = event["channel"]
        phase = phase_of(channel.get("caller", {}).get("number", ""))
        if phase is None:
            continue
        at, steps = item["at"], {}
        for step in STEPS:
            key = call_of.get(channel["id"], "") if step == "agent_rung" else channel["id"]
            if (step, key) in first:
                steps[step] = first[(step, key)] - at
        out.setdefault(phase, []).append(Arrival(at, steps))
    return out


def freshness(phase: Phase, arrivals: list[float], samples: list[Sample]) -> list[float]:
    """Seconds from each arrival to the first wallboard update counting it."""
    out: list[float] = []
    seen = [s for s in samples if s.at >= phase.started_at - 1]
    j = 0
    for k, arrived in enumerate(sorted(arrivals), 1):
        target = phase.offered_before + k
        while j < len(seen) and seen[j].offered < target:
            j += 1
        if j == len(seen):
            break
        out.append(max(0.0, seen[j].at - arrived))
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


@dataclass
class Collected:
    """What the system-level phases observed, before any figure is computed."""

    rates: list[float]
    workdir: Path
    phases: list[Phase] = field(default_factory=list)
    held: Phase | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    starts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    wallboard_source: str = ""
    idle_cpu_ms_per_s: float = 0.0
    engine_log_errors: int | None = None
    machine: dict[str, Any] = field(default_factory=machine)  # taken when the run starts


async def collect(args: argparse.Namespace, rates: list[float]) -> Collected:
    """Start the system, run the memory and rate phases, gather what pbxsim saw."""
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-load-"))
    seen = Collected(rates, workdir)
    agents = max(args.concurrent, *(math.ceil(r * args.duration) for r in rates)) + SPARE_AGENTS
    say = _sayer(args)
    say(f"work directory {workdir}; {agents} agents")
    staff = bench_config(Path(args.config), workdir / "config", agents, pin=BENCH_PIN)
    config = ConfigManager(workdir / "config").current
    language = config.platform.languages.primary.code
    survey = "sound:" + config.sound(config.survey.question_prompts[0], language)
    options = RigOptions(
        workdir,
        workdir / "config",
        config,
        staff,
        args.answer_after,
        args.talk,
        args.time_scale,
        Path.cwd() / args.cprofile if args.cprofile else None,
    )
    profile: Child | None = None
    try:
        async with Rig(options) as rig:
            bench = Bench(rig, args, config.platform.main_number, survey)
            say(f"engine pid {bench.engine.pid}; logging {agents} agents in ...")
            await rig.log_in_everyone()
            seen.idle_cpu_ms_per_s = await bench.idle_cpu()
            seen.held = Phase(0, "memory", max(rates), args.concurrent)
            seen.memory = await bench.memory(seen.held)
            if args.profile:
                profile = await _profiler(args.profile, bench.engine.pid, workdir)
            for i, rate in enumerate(rates, 1):
                phase = Phase(i, f"rate {rate:g}/s", rate, math.ceil(rate * args.duration))
                seen.phases.append(phase)
                await bench.rate(phase)
            if profile is not None:
                await profile.stop(sig=signal.SIGINT)
            seen.starts = await rig.sim_call("GET", "/sim/events?type=StasisStart&timed=1")
            seen.requests = await rig.sim_call("GET", "/sim/requests")
            assert rig.watch is not None
            seen.samples, seen.wallboard_source = list(rig.watch.samples), rig.watch.source
    finally:
        if profile is not None:
            await profile.stop(sig=signal.SIGINT)
    seen.engine_log_errors = _log_errors(workdir / "engine.log")
    return seen


def _keep_observations(seen: Collected) -> None:
    """Each caller's step timings and every wallboard sample, for a closer look."""
    by_phase = arrivals(seen.starts, seen.requests)
    data = {
        "arrivals": {str(k): [dataclasses.asdict(a) for a in v] for k, v in by_phase.items()},
        "phases": [dataclasses.asdict(p) for p in [seen.held, *seen.phases] if p is not None],
        "wallboard": [dataclasses.asdict(s) for s in seen.samples],
    }
    (seen.workdir / "observations.json").write_text(json.dumps(data))


def _py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


async def _profiler(path: str, pid: int, workdir: Path) -> Child | None:
    spy = _py_spy()
    if spy is None:
        print("hotline bench load: --profile needs py-spy on PATH", file=sys.stderr)
        return None
    argv = [spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "-o", path]
    return await Child("py-spy", argv, {}, workdir / "py-spy.log").start()


def _log_errors(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    count = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            count += 1
    return count


def figures(args: argparse.Namespace, seen: Collected, events: dict[str, Any]) -> dict[str, Any]:
    """Every figure, from what the phases observed and the ingest micro-benchmark."""
    phases, held, memory, rates = seen.phases, seen.held, seen.memory, seen.rates
    assert held is not None
    by_phase = arrivals(seen.starts, seen.requests)
    p50: dict[str, float | None] = {}
    p99: dict[str, float | None] = {}
    steps: dict[str, dict[str, float | None]] = {}
    unrung: dict[str, int] = {}
    fresh: list[float] = []
    fresh_p99: dict[str, float | None] = {}
    for phase in phases:
        callers = by_phase.get(phase.index, [])
        values = [c.steps["agent_rung"] for c in callers if "agent_rung" in c.steps]
        key = _rate_key(phase.rate)
        p50[key], p99[key] = _ms(percentile(values, 50)), _ms(percentile(values, 99))
        steps[key] = {
            step: _ms(percentile([c.steps[step] for c in callers if step in c.steps], 50))
            for step in STEPS
        }
        unrung[key] = phase.count - len(values)
        seen_late = freshness(phase, [c.at for c in callers], seen.samples)
        fresh_p99[key] = _ms(percentile(seen_late, 99))
        fresh += seen_late
    completed = sum(p.completed for p in phases)
    cpu = sum(p.cpu_s for p in phases)
    idle = seen.idle_cpu_ms_per_s / 1000  # CPU seconds per second with no calls
    result: dict[str, Any] = {
        "queue_to_ring_p50_ms": p50,
        "queue_to_ring_p99_ms": p99,
        "queue_to_ring_steps_p50_ms": steps,
        "cpu_ms_per_call": round(cpu * 1000 / completed, 2) if completed else None,
        "cpu_ms_per_call_net_of_idle": (
            round((cpu - idle * sum(p.seconds for p in phases)) * 1000 / completed, 2)
            if completed
            else None
        ),
        "cpu_ms_per_call_by_rate": {
            _rate_key(p.rate): round(p.cpu_s * 1000 / p.completed, 2) if p.completed else None
            for p in phases
        },
        "pbxsim_cpu_ms_per_call_by_rate": {
            _rate_key(p.rate): round(p.sim_cpu_s * 1000 / p.count, 2) for p in phases
        },
        "host_cpu_busy_by_rate": {_rate_key(p.rate): round(p.host_busy, 3) for p in phases},
        "rss_mb_500_calls": memory.get("rss_mb_500_calls"),
        "rss_mb_per_call": memory.get("rss_mb_per_call"),
        "memory": memory,
        "events_per_s": events["events_per_s"],
        "ingest": events,
        "wallboard_p99_ms": _ms(percentile(fresh, 99)),
        "wallboard_p50_ms": _ms(percentile(fresh, 50)),
        "wallboard_p99_ms_by_rate": fresh_p99,
        "calls": {
            "placed": sum(p.count for p in phases) + held.count,
            "completed": completed + held.completed,
            "tickets": sum(p.tickets for p in phases) + held.tickets,
            "not_rung_by_rate": unrung,
        },
        "settings": {
            "rates": rates,
            "duration_s": args.duration,
            "concurrent": args.concurrent,
            "answer_after_s": args.answer_after,
            "talk_s": args.talk,
            "time_scale": args.time_scale,
        },
        "machine": seen.machine,
        "wallboard_source": seen.wallboard_source,
        "engine_idle_cpu_ms_per_s": round(seen.idle_cpu_ms_per_s, 2),
        "engine_log_errors": seen.engine_log_errors,
    }
    result["targets"] = _targets(result, rates)
    return result


def _targets(result: dict[str, Any], rates: list[float]) -> dict[str, Any]:
    top = _rate_key(max(rates))
    measured = {
        "queue_to_ring_p99_ms": result["queue_to_ring_p99_ms"].get(top),
        "cpu_ms_per_call": result["cpu_ms_per_call"],
        "rss_mb_500_calls": result["rss_mb_500_calls"],
        "events_per_s": result["events_per_s"],
        "wallboard_p99_ms": result["wallboard_p99_ms"],
    }
    out: dict[str, Any] = {}
    for name, (op, target) in TARGETS.items():
        value = measured[name]
        met = None if value is None else (value < target if op == "<" else value >= target)
        out[name] = {"target": f"{op} {target:g}", "measured": value, "met": met}
    out["queue_to_ring_p99_ms"]["at_rate"] = top
    return out


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table, each target with its verdict."""
    targets = result["targets"]
    top = targets["queue_to_ring_p99_ms"]["at_rate"]
    rows: list[tuple[str, str, dict[str, Any] | None]] = []
    for key, p99 in result["queue_to_ring_p99_ms"].items():
        p50 = result["queue_to_ring_p50_ms"].get(key)
        rows.append(
            (
                f"queue-to-ring latency at {key} calls/s",
                f"p50 {p50} ms, p99 {p99} ms",
                targets["queue_to_ring_p99_ms"] if key == top else None,
            )
        )
    memory = result["memory"]
    rows += [
        ("engine CPU per completed call", f"{result['cpu_ms_per_call']} ms",
         targets["cpu_ms_per_call"]),
        ("engine RSS per concurrent call", f"{result['rss_mb_per_call']} MB", None),
        (f"engine RSS at {memory.get('concurrent')} calls (before: "
         f"{memory.get('rss_mb_before')} MB)", f"{memory.get('rss_mb_held')} MB",
         targets["rss_mb_500_calls"] if not memory.get("extrapolated") else None),
        ("event ingest (ARI + AMI, one core)", f"{result['events_per_s']} events/s",
         targets["events_per_s"]),
        ("wallboard freshness", f"p50 {result['wallboard_p50_ms']} ms, "
         f"p99 {result['wallboard_p99_ms']} ms", targets["wallboard_p99_ms"]),
    ]  # fmt: skip
    verdicts = {True: "met", False: "MISSED", None: "not measured"}
    lines = [f"{'figure':<48}{'measured':<34}target"]
    for name, value, target in rows:
        verdict = f"{target['target']} ({verdicts[target['met']]})" if target else ""
        lines.append(f"{name:<48}{value:<34}{verdict}")
    m = result["machine"]
    calls = result["calls"]
    lines.append(
        f"calls: {calls['placed']} placed, {calls['completed']} completed; "
        f"wallboard by {result.get('wallboard_source')}"
    )
    lines.append(
        f"machine: {m['nproc']} x {m['cpu_model']}, {m['memory_gb']} GB, Python {m['python']}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline bench load",
        description="Queue-to-ring latency, CPU and memory per call, event ingest and "
        "wallboard freshness of the engine against pbxsim.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rates", default="5,20,50", help="arrival rates, calls per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of arrivals a rate")
    parser.add_argument("--concurrent", type=int, default=500, help="calls held for the RSS")
    parser.add_argument("--answer-after", type=float, default=1.0, help="agent answer, seconds")
    parser.add_argument("--talk", type=float, default=20.0, help="talk time, seconds")
    parser.add_argument("--time-scale", type=float, default=1.0, help="pbxsim's time scale")
    parser.add_argument("--ingest-seconds", type=float, default=2.0, help="CPU s per stream")
    parser.add_argument(
        "--config", default=str(config_dir()), help="configuration to start from (the shipped one)"
    )
    parser.add_argument("--profile", help="py-spy raw profile of the engine in the rate phases")
    parser.add_argument(
        "--cprofile", help="run the engine under cProfile; its stats are written to this file"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.concurrent < 1 or args.duration <= 0 or args.time_scale <= 0:
        parser.error("--concurrent, --duration and --time-scale must be positive")
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if not rates or any(r <= 0 for r in rates) or len(rates) > 9:
        parser.error("--rates: one to nine positive rates, e.g. 5,20,50")
    logs.configure(json=True, level="WARNING")
    try:
        seen = asyncio.run(collect(args, rates))
    except BenchError as exc:
        print(f"hotline bench load: {exc}", file=sys.stderr)
        return 1
    if not args.json:
        print("event ingest micro-benchmark ...", flush=True)
    result = figures(args, seen, ingest.measure(Path(args.config), args.ingest_seconds))
    if args.keep:
        result["workdir"] = str(seen.workdir)
        _keep_observations(seen)
    else:
        shutil.rmtree(seen.workdir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False) if args.json else table(result))
    return 0
