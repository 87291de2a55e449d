"""``hotline bench nodes``: one engine driving N Asterisk nodes (pbxsim), at N = 2 and 4.

**System.** As ``hotline bench load`` (:mod:`bench.loadrig`), each part in its
own process on loopback, but with N pbxsim nodes (``hotline sim
--system-name ast-K``, each with every agent's phone, as behind Kamailio) and
the engine listing them all in ``engine.yaml`` ``nodes:``.  For each N a new
system is started.

**Phase.** ``--rate x --duration`` callers arrive evenly spaced, dealt to the
nodes in turn (as Kamailio's round robin does), routed straight to the general
queue with idle agents; agents answer after ``--answer-after`` and talk
``--talk`` seconds; the caller rates the call.  The phase ends when the
backend has every ticket.

**Figures**, for each N:

* ``queue_to_ring_p50_ms`` / ``_p99_ms``: on each node, pbxsim's emission of
  the caller's ``StasisStart`` to the arrival of the agent leg's originate
  (made on the caller's node), both on that node's clock;
* ``cpu_ms_per_call``: the engine's CPU time (user + system) from the first
  arrival to the last ticket, over the calls completed (answered, bridged,
  recorded, rated, ticketed);
* ``calls_by_node``: the agent legs each node rang (every call stays on its node).

Benchmarks print figures; nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from ruamel.yaml import YAML

from bench.load import BENCH_PIN, SPARE_AGENTS, Phase, arrivals, phase_of
from bench.loadrig import Rig, RigOptions, WallboardWatch
from bench.loadsupport import (
    BenchError,
    Child,
    bench_config,
    clean_environ,
    cpu_seconds,
    free_port,
    host_cpu,
    hotline_command,
    machine,
    percentile,
)
from cti import logs
from cti.config import ConfigManager
from cti.config.sections.engine import node_env
from cti.shipped import config_dir


@dataclass
class SimNode:
    name: str
    child: Child
    url: str  # http://127.0.0.1:PORT
    ami_port: int


class NodesRig(Rig):
    """:class:`Rig` with ``count`` pbxsim nodes instead of one."""

    def __init__(self, options: RigOptions, count: int) -> None:
        super().__init__(options)
        self.count = count
        self.nodes: list[SimNode] = []

    async def _start(self) -> None:
        o = self.options
        await asyncio.to_thread(self.pg.start)
        await self.backend.start()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        for k in range(1, self.count + 1):
            name, ari_port, ami_port = f"ast-{k}", free_port(), free_port()
            child = await self._start_sim(ari_port, ami_port, system_name=name, name=name)
            node = SimNode(name, child, f"http://127.0.0.1:{ari_port}", ami_port)
            self.nodes.append(node)
            await self._until(lambda n=node: self._up(n.url + "/sim/state", self._sim_auth), child)
        self.sim, self.sim_url = self.nodes[0].child, self.nodes[0].url
        self._list_nodes()
        http_port = free_port()
        engine = o.config.engine
        env: dict[str, str] = {
            **clean_environ(),
            "HOTLINE_HTTP_HOST": "127.0.0.1",
            "HOTLINE_HTTP_PORT": str(http_port),
            "HOTLINE_STATE_DIR": str(o.workdir / "state"),
            "HOTLINE_RECORDINGS_DIR": str(o.workdir / "recordings"),
            "HOTLINE_TICKETS_URL": self.backend.url,
            "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
            engine.database.dsn_env: self.pg.dsn,
            "HOTLINE_WALLBOARD_TOKEN": f"bench:{self.wallboard_token}",
        }
        for node in self.nodes:
            env[node_env("HOTLINE_ARI_PASSWORD", node.name)] = self.secret
            env[node_env("HOTLINE_AMI_SECRET", node.name)] = self.secret
        if engine.tickets.token_env:
            env[engine.tickets.token_env] = secrets.token_hex(8)
        argv = hotline_command("run", f"--config={o.config_dir}", "--log-json", "--log-level=INFO")
        self.engine = await Child("engine", argv, env, o.workdir / "engine.log").start()
        self.engine_url = f"http://127.0.0.1:{http_port}"
        await self._until(lambda: self._up(self.engine_url + "/healthz"), self.engine)
        self.watch = WallboardWatch(self.engine_url, self.wallboard_token)
        self.watch.start(self.http)

    def _list_nodes(self) -> None:
        """The nodes into the bench configuration's ``engine.yaml``."""
        path = self.options.config_dir / "engine.yaml"
        yaml = YAML()
        data = yaml.load(path.read_text(encoding="utf-8"))
        data["nodes"] = [
            {
                "name": n.name,
                "ari_url": f"{n.url}/ari",
                "ami_host": "127.0.0.1",
                "ami_port": n.ami_port,
            }
            for n in self.nodes
        ]
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)

    async def stop(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        if self.engine is not None:
            await self.engine.stop()
        for node in self.nodes:
            await node.child.stop()
        if self.http is not None:
            await self.http.close()
        await self.backend.stop()
        await asyncio.to_thread(self.pg.cleanup)

    async def node_call(self, node: SimNode, method: str, path: str, body: Any = None) -> Any:
        assert self.http is not None
        async with self.http.request(
            method, node.url + path, json=body, headers=self._sim_auth
        ) as reply:
            if reply.status >= 300:
                raise BenchError(f"{node.name} {method} {path}: {reply.status}")
            return await reply.json() if reply.status != 204 else None


def _say(args: argparse.Namespace, line: str) -> None:
    if not args.json:
        print(line, flush=True)


def _completed(rig: NodesRig, phase: Phase) -> tuple[int, int]:
    """(tickets, completed calls) of ``phase`` at the backend."""
    bodies = [t["body"] for t in rig.backend.tickets.values()]
    mine = [b for b in bodies if phase_of(b.get("caller", {}).get("number", "")) == phase.index]
    done = sum(
        1
        for t in mine
        if t.get("kind") == "call"
        and (t.get("times") or {}).get("answered_at")
        and (t.get("rating") or {}).get("level") is not None
        and t.get("recording_url")
    )
    return len(mine), done


async def run_nodes(args: argparse.Namespace, count: int, workdir: Path) -> dict[str, Any]:
    """One system with ``count`` nodes, one rate phase; its figures."""
    phase = Phase(1, f"{count} nodes", args.rate, math.ceil(args.rate * args.duration))
    agents = phase.count + SPARE_AGENTS
    here = workdir / f"nodes-{count}"
    here.mkdir()
    staff = bench_config(Path(args.config), here / "config", agents, pin=BENCH_PIN)
    config = ConfigManager(here / "config").current
    language = config.platform.languages.primary.code
    survey = "sound:" + config.sound(config.survey.question_prompts[0], language)
    main = config.platform.main_number
    options = RigOptions(
        here, here / "config", config, staff, args.answer_after, args.talk, args.time_scale
    )
    async with NodesRig(options, count) as rig:
        assert rig.engine is not None and rig.watch is not None
        _say(args, f"{count} nodes: engine pid {rig.engine.pid}; logging {agents} agents in ...")
        await rig.log_in_everyone()
        await rig.watch.wait_for(lambda s: s.ready >= phase.count, 120, "idle agents")
        spacing = 1.0 / phase.rate / args.time_scale
        cpu_before, (busy_before, total_before) = cpu_seconds(rig.engine.pid), host_cpu()
        started = time.time()
        for k, node in enumerate(rig.nodes):
            callers = [
                {
                    "number": phase.number(i),
                    "dialled": main,
                    "digits": [{"at": 0.5, "digits": "1", "on_media": survey}],
                    "start_after": i * spacing,
                }
                for i in range(phase.count)
                if i % count == k
            ]
            await rig.node_call(node, "POST", "/sim/scenario", {"callers": callers})
        per_call = (args.answer_after + args.talk + 10.0) * args.time_scale
        deadline = time.monotonic() + phase.count / phase.rate + per_call + 60.0
        while _completed(rig, phase)[0] < phase.count and time.monotonic() < deadline:
            rig.engine.check_alive()
            await asyncio.sleep(0.25)  # the backend has no change signal to wait on
        cpu = cpu_seconds(rig.engine.pid) - cpu_before
        busy, total = host_cpu()
        seconds = time.time() - started
        tickets, completed = _completed(rig, phase)
        rung: list[float] = []
        by_node: dict[str, int] = {}
        for node in rig.nodes:
            starts = await rig.node_call(node, "GET", "/sim/events?type=StasisStart&timed=1")
            requests = await rig.node_call(node, "GET", "/sim/requests")
            mine = arrivals(starts, requests).get(phase.index, [])
            values = [a.steps["agent_rung"] for a in mine if "agent_rung" in a.steps]
            by_node[node.name] = len(values)
            rung += values
    p50, p99 = percentile(rung, 50), percentile(rung, 99)
    return {
        "nodes": count,
        "calls": phase.count,
        "tickets": tickets,
        "completed": completed,
        "calls_by_node": by_node,
        "queue_to_ring_p50_ms": None if p50 is None else round(p50 * 1000, 2),
        "queue_to_ring_p99_ms": None if p99 is None else round(p99 * 1000, 2),
        "cpu_ms_per_call": round(cpu * 1000 / completed, 2) if completed else None,
        "engine_cpu_share": round(cpu / seconds, 3) if seconds else None,
        "host_cpu_busy": round((busy - busy_before) / max(total - total_before, 1e-9), 3),
        "seconds": round(seconds, 1),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'nodes':<7}{'calls':<8}{'completed':<11}{'q-to-ring p50':<15}"
        f"{'q-to-ring p99':<15}{'CPU per call':<14}{'engine CPU':<12}by node"
    ]
    for run in result["runs"]:
        lines.append(
            f"{run['nodes']:<7}{run['calls']:<8}{run['completed']:<11}"
            f"{str(run['queue_to_ring_p50_ms']) + ' ms':<15}"
            f"{str(run['queue_to_ring_p99_ms']) + ' ms':<15}"
            f"{str(run['cpu_ms_per_call']) + ' ms':<14}"
            f"{run['engine_cpu_share']!s:<12}"
            + ", ".join(f"{k} {v}" for k, v in run["calls_by_node"].items())
        )
    s = result["settings"]
    m = result["machine"]
    lines.append(
        f"{s['rate']:g} calls/s for {s['duration_s']:g} s, answer after {s['answer_after_s']:g} s,"
        f" talk {s['talk_s']:g} s; machine: {m['nproc']} x {m['cpu_model']}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline bench nodes",
        description="Queue-to-ring latency and CPU per call of one engine driving N pbxsim nodes.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--nodes", default="2,4", help="node counts to measure, e.g. 2,4")
    parser.add_argument("--rate", type=float, default=20.0, help="arrivals, calls per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of arrivals")
    parser.add_argument("--answer-after", type=float, default=1.0, help="agent answer, seconds")
    parser.add_argument("--talk", type=float, default=5.0, help="talk time, seconds")
    parser.add_argument("--time-scale", type=float, default=1.0, help="pbxsim's time scale")
    parser.add_argument(
        "--config", default=str(config_dir()), help="configuration to start from (the shipped one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.time_scale <= 0 or args.talk < 0:
        parser.error("--rate, --duration and --time-scale must be positive")
    try:
        counts = [int(n) for n in args.nodes.split(",") if n.strip()]
    except ValueError:
        parser.error("--nodes: node counts, e.g. 2,4")
    if not counts or any(n < 1 or n > 16 for n in counts):
        parser.error("--nodes: one to sixteen nodes each, e.g. 2,4")
    logs.configure(json=True, level="WARNING")
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-nodes-"))
    _say(args, f"work directory {workdir}")
    result: dict[str, Any] = {"machine": machine(), "runs": []}
    try:
        for count in counts:
            result["runs"].append(asyncio.run(run_nodes(args, count, workdir)))
    except BenchError as exc:
        print(f"hotline bench nodes: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["settings"] = {
        "rate": args.rate,
        "duration_s": args.duration,
        "answer_after_s": args.answer_after,
        "talk_s": args.talk,
        "time_scale": args.time_scale,
    }
    if args.keep:
        result["workdir"] = str(workdir)
    print(json.dumps(result, ensure_ascii=False) if args.json else table(result))
    return 0
