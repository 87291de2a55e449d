"""The parts of ``hotline bench load`` that are not the measurement itself.

* :func:`bench_config`: a copy of a configuration directory shaped for the
  load test: the main number goes straight to the general queue (no notice),
  the queue has no length limit, and ``agents`` agents, each with a seat of
  its own, replace the shipped staff;
* :class:`Child`: a subprocess (``hotline sim``, ``hotline run``) with its
  output in a file, stopped with SIGTERM under a deadline;
* :func:`cpu_seconds`, :func:`rss_mb`: a process's CPU time and resident
  memory read from ``/proc`` (Linux);
* :func:`percentile`, :func:`machine`, :func:`free_port`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from cti.config import ConfigManager, hash_pin

PIN_ITERATIONS = 100_000
"""The fewest PBKDF2 iterations ``agents.yaml`` accepts: the engine checks one hash per login."""


class BenchError(Exception):
    """The benchmark could not set itself up or run to its end."""


@dataclass(frozen=True)
class Staff:
    """The agents of a bench configuration: agent number, seat id, phone endpoint."""

    pin: str
    agents: tuple[str, ...]
    seats: tuple[str, ...]
    endpoints: tuple[str, ...]  # PJSIP endpoint names, without the "PJSIP/"


def bench_config(source: Path, target: Path, agents: int, *, pin: str) -> Staff:
    """Copy ``source`` to ``target`` and reshape it for the load test (see the module doc).

    Every agent shares one PIN, hashed once with :data:`PIN_ITERATIONS`.
    Raises :class:`BenchError` if the result is not a valid configuration.
    """
    shutil.copytree(source, target)
    yaml = YAML()
    yaml.preserve_quotes = True

    def patch(name: str, mutate: Any) -> None:
        path = target / name
        data = yaml.load(path.read_text(encoding="utf-8"))
        mutate(data)
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)

    numbers = tuple(str(5000 + i) for i in range(agents))
    seats = tuple(f"lt{i:04d}" for i in range(agents))
    endpoints = tuple(str(70000 + i) for i in range(agents))
    pin_hash = hash_pin(pin, iterations=PIN_ITERATIONS)

    def routing(data: Any) -> None:
        main = data["routes"][data["main"]]
        for key in ("notice", "announcement", "menu", "closed_route"):
            main.pop(key, None)
        main["queue"] = "general"

    def queues(data: Any) -> None:
        data["queues"]["general"].pop("max_length", None)

    def staff(data: Any) -> None:
        data["agents"] = [
            {
                "number": number,
                "name": f"坐席{number}",
                "home_seat": seat,
                "skills": {"general": 5},
                "pin_hash": pin_hash,
            }
            for number, seat in zip(numbers, seats, strict=True)
        ]

    def desks(data: Any) -> None:
        data["seats"] = [
            {"id": seat, "endpoint": f"PJSIP/{endpoint}", "area": "load"}
            for seat, endpoint in zip(seats, endpoints, strict=True)
        ]

    patch("routing.yaml", routing)
    patch("queues.yaml", queues)
    patch("agents.yaml", staff)
    patch("seats.yaml", desks)
    try:
        ConfigManager(target)
    except Exception as exc:
        raise BenchError(f"the bench configuration in {target} is invalid: {exc}") from exc
    return Staff(pin, numbers, seats, endpoints)


def hotline_command(*args: str) -> list[str]:
    """The ``hotline`` command of this interpreter's environment."""
    return [sys.executable, "-m", "cti.cli", *args]


def manager_eventfilters(path: Path, user: str) -> list[str]:
    """The ``eventfilter`` values of ``[user]`` in a ``manager.conf``, in order."""
    found: list[str] = []
    section = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == user and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            if key == "eventfilter":
                found.append(value)
    return found


def clean_environ() -> dict[str, str]:
    """This process's environment without any ``HOTLINE_`` or ``PBXSIM_`` variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PBXSIM_"))}


async def start_pbxsim(
    workdir: Path,
    *,
    ari_port: int,
    ami_port: int,
    user: str,
    secret: str,
    time_scale: float,
    phones: Sequence[Mapping[str, Any]],
    eventfilters: Sequence[str] = (),
    system_name: str | None = None,
    name: str = "pbxsim",
) -> Child:
    """``hotline sim`` in a child process with these phones (``PhoneScript`` dicts); its
    output goes to ``workdir/pbxsim.log``, its recordings under ``workdir``."""
    scenario = workdir / f"{name}-phones.json"
    scenario.write_text(json.dumps({"phones": list(phones)}))
    return await Child(
        name,
        hotline_command(
            "sim",
            f"--ari-port={ari_port}",
            f"--ami-port={ami_port}",
            f"--user={user}",
            f"--time-scale={time_scale}",
            f"--scenario={scenario}",
            f"--recordings-dir={workdir / 'asterisk-recordings'}",
            *(f"--ami-eventfilter={f}" for f in eventfilters),
            *([f"--system-name={system_name}"] if system_name else []),
        ),
        {**clean_environ(), "PBXSIM_SECRET": secret},
        workdir / f"{name}.log",
    ).start()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Child:
    """A subprocess whose stdout and stderr go to ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    def __repr__(self) -> str:
        return f"<Child {self.name} pid={self.pid}>"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError(f"{self.name} is not running")
        return self.process.pid

    async def start(self) -> Child:
        with self.log_path.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=out, stderr=asyncio.subprocess.STDOUT, env=self.env
            )
        return self

    def check_alive(self) -> None:
        if self.process is not None and self.process.returncode is not None:
            raise BenchError(
                f"{self.name} exited with {self.process.returncode}; see {self.log_path}:\n"
                + self.tail()
            )

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self, timeout: float = 15.0, *, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` and wait for the exit; kill after ``timeout``.  Idempotent."""
        process = self.process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            return await process.wait()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (``/proc/<pid>/stat``)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: split after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def host_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])  # guest time is already counted in user
    idle = values[3] + values[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of process ``pid`` in MiB (``VmHWM`` for its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no {field} for process {pid}")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = int(first.split()[1]) / 1024 / 1024
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "nproc": os.cpu_count(),
        "loadavg": load,  # other work on the machine while the figures were taken
        "cpu_model": model or platform.processor() or "unknown",
        "memory_gb": round(memory, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
