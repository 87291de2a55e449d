"""``hotline bench logins``: other people's work during a flood of wrong PINs.

**System.** A private PostgreSQL, pbxsim (``hotline sim``, no phones) and
the engine (``hotline run`` on a copy of ``config/``), each in its own
process on loopback.  One stored recording of ``--recording-mb`` MB is
seeded into the engine's store and recordings directory.

**Phases.**

1. *Normal*: ``--samples`` recording downloads (supervisor token) and as
   many configuration validations (admin token), one after the other.
2. *Flood*: ``--flood`` wrong-PIN logins are kept under way at once, each
   from its own loopback address (``127.0.x.y``, so that the per-address
   throttle does not simply lock one guesser out), each guess for the next
   agent number of ``1000``-``9999`` (the configured agents among them,
   but the measured one), or with ``--known-only`` for the configured
   agents alone; a guesser told ``429`` waits ``Retry-After`` as a client
   does, or, with ``--ignore-retry-after``, asks again at once (a request
   storm rather than guessing).  Meanwhile the same downloads and
   validations are timed again, and an agent logs in with the right PIN
   (retrying after ``Retry-After`` when told to).  The flood stops after
   ``--max-seconds`` whatever happens.

**Figures.** Per phase, the median and the slowest download and
validation (ms), the flood's ratio to normal, the logins the flood got
answered (by status) and the time the honest agent took to get in.
Benchmarks print figures; nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.loadsupport import (
    BenchError,
    Child,
    clean_environ,
    cpu_seconds,
    free_port,
    hotline_command,
    start_pbxsim,
)
from cti.config import ConfigManager
from cti.pgserver import PrivatePostgres
from cti.recordings.service import RecordingService, RecordingSettings
from cti.store import Database
from recordings import (
    CallId,
    Recording,
    RecordingName,
    RecordingState,
    SourceUnavailable,
    make_wav,
    recording_name,
    relative_path,
)

REPO = Path(__file__).resolve().parents[1]
CALL_ID = "c-bench-1"
HONEST = "1003"
SIM_USER = "hotline"


class _NoSource:
    async def fetch(self, name: RecordingName) -> bytes:
        raise SourceUnavailable(name, "the bench seeds its recording itself")

    async def delete(self, name: RecordingName) -> None:
        raise SourceUnavailable(name, "the bench seeds its recording itself")


async def _seed_recording(dsn: str, directory: Path, zone: Any, megabytes: float) -> None:
    db = Database(dsn)
    await db.open()
    try:
        service = RecordingService(
            db, _NoSource(), RecordingSettings(directory=directory, retention_months=12, zone=zone)
        )
        ended = datetime.now(UTC)
        await db.execute(
            "INSERT INTO calls (call_id, caller_number, dialled, first_agent, last_agent,"
            " arrived_at, answered_at, ended_at, outcome)"
            " VALUES ($1, '13800138000', '12345', '1003', '1003', $2, $2, $3, 'answered')",
            CALL_ID,
            ended - timedelta(minutes=5),
            ended,
        )
        audio = make_wav(b"\x01\x00" * int(megabytes * 512 * 1024))
        path = relative_path(CallId(CALL_ID), 1, ended, zone)
        sha = await service.files.write_atomic(path, audio)
        await service.store.save(
            Recording(
                name=recording_name(CallId(CALL_ID), 1),
                call_id=CallId(CALL_ID),
                segment=1,
                started_at=ended - timedelta(minutes=4),
                state=RecordingState.STORED,
                agents=("1003",),
                finished_at=ended,
                duration_s=240.0,
                file_path=path,
                size_bytes=len(audio),
                sha256=sha,
                source_deleted=True,
            )
        )
    finally:
        await db.close()


async def _timed(work: Callable[[], Awaitable[None]], samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        await work()
        times.append((time.perf_counter() - start) * 1000)
    return times


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.pg = PrivatePostgres()
        self.secret = secrets.token_hex(16)
        self.supervisor = secrets.token_hex(16)
        self.admin = secrets.token_hex(16)
        self.engine: Child | None = None
        self.sim: Child | None = None
        self.url = ""
        self.http: aiohttp.ClientSession | None = None
        self.known: list[str] = []

    async def start(self) -> None:
        config_dir = self.workdir / "config"
        shutil.copytree(REPO / "config", config_dir)
        config = ConfigManager(config_dir).current
        self.known = [a.number for a in config.agents.agents if a.number != HONEST]
        await asyncio.to_thread(self.pg.start)
        ari_port, ami_port, http_port = free_port(), free_port(), free_port()
        self.sim = await start_pbxsim(
            self.workdir,
            ari_port=ari_port,
            ami_port=ami_port,
            user=SIM_USER,
            secret=self.secret,
            time_scale=1.0,
            phones=[],
        )
        engine = config.engine
        recordings = self.workdir / "recordings"
        env = {
            **clean_environ(),
            "HOTLINE_ARI_URL": f"http://127.0.0.1:{ari_port}/ari",
            "HOTLINE_AMI_HOST": "127.0.0.1",
            "HOTLINE_AMI_PORT": str(ami_port),
            "HOTLINE_HTTP_HOST": "127.0.0.1",
            "HOTLINE_HTTP_PORT": str(http_port),
            "HOTLINE_STATE_DIR": str(self.workdir / "state"),
            "HOTLINE_RECORDINGS_DIR": str(recordings),
            "HOTLINE_SUPERVISOR_TOKEN": f"bench-supervisor:{self.supervisor}",
            "HOTLINE_ADMIN_TOKEN": f"bench-admin:{self.admin}",
            engine.ari.password_env: self.secret,
            engine.ami.secret_env: self.secret,
            engine.database.dsn_env: self.pg.dsn,
        }
        if engine.tickets.token_env:
            env[engine.tickets.token_env] = secrets.token_hex(8)
        self.engine = await Child(
            "engine",
            hotline_command("run", f"--config={config_dir}", "--log-json", "--log-level=INFO"),
            env,
            self.workdir / "engine.log",
        ).start()
        self.url = f"http://127.0.0.1:{http_port}"
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        deadline = time.monotonic() + 60
        while not await self._up():
            self.engine.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"the engine did not come up:\n{self.engine.tail()}")
            await asyncio.sleep(0.2)  # a process starting up: nothing to wait on but time
        await _seed_recording(self.pg.dsn, recordings, config.timezone, self.args.recording_mb)

    async def _up(self) -> bool:
        assert self.http is not None
        try:
            async with self.http.get(self.url + "/healthz") as reply:
                return reply.status == 200
        except aiohttp.ClientError:
            return False

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        for child in (self.engine, self.sim):
            if child is not None:
                await child.stop()
        await asyncio.to_thread(self.pg.cleanup)

    async def download(self) -> None:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {self.supervisor}"}
        async with self.http.get(f"{self.url}/api/recordings/{CALL_ID}", headers=headers) as r:
            body = await r.read()
            if r.status != 200 or not body:
                raise BenchError(f"recording download: {r.status}")

    async def validate(self) -> None:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {self.admin}"}
        async with self.http.post(f"{self.url}/api/admin/config/validate", headers=headers) as r:
            data = await r.json()
            if r.status != 200 or not data.get("valid"):
                raise BenchError(f"config validation: {r.status} {data}")

    async def honest_login(self) -> tuple[float, int]:
        """Seconds until agent 1003 is in with the right PIN, and the 429s on the way."""
        assert self.http is not None
        start = time.perf_counter()
        refused = 0
        body = {"agent": HONEST, "pin": HONEST, "seat": "s01"}
        while True:
            async with self.http.post(f"{self.url}/api/agents/login", json=body) as r:
                if r.status == 200:
                    return time.perf_counter() - start, refused
                if r.status != 429:
                    raise BenchError(f"honest login: {r.status} {await r.text()}")
                refused += 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))  # as told

    async def flood(self, stop: asyncio.Event, answers: Counter[int]) -> None:
        """``--flood`` wrong-PIN logins under way at once until ``stop``."""
        width = self.args.flood

        async def guesser(index: int) -> None:
            address = f"127.0.{1 + index // 250}.{1 + index % 250}"
            connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=1)
            async with aiohttp.ClientSession(connector=connector) as http:
                attempt = 0
                while not stop.is_set():
                    attempt += 1
                    if self.args.known_only:
                        agent = self.known[(index + attempt) % len(self.known)]
                    else:
                        agent = f"{1000 + (index * 7 + attempt) % 9000:04d}"
                    if agent == HONEST:
                        continue  # locking the measured agent out is another attack
                    body = {"agent": agent, "pin": "0000", "seat": "s01"}
                    wait = 0.0
                    try:
                        async with http.post(f"{self.url}/api/agents/login", json=body) as r:
                            await r.read()
                            answers[r.status] += 1
                            if r.status == 429 and not self.args.ignore_retry_after:
                                wait = float(r.headers.get("Retry-After", "1"))
                    except aiohttp.ClientError:
                        answers[0] += 1
                    if wait:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), wait)  # as told, or stopped

        await asyncio.gather(*(guesser(i) for i in range(width)))


def _row(name: str, normal: list[float], flood: list[float]) -> dict[str, Any]:
    n50, f50 = statistics.median(normal), statistics.median(flood)
    return {
        "what": name,
        "normal_p50_ms": round(n50, 1),
        "normal_max_ms": round(max(normal), 1),
        "flood_p50_ms": round(f50, 1),
        "flood_max_ms": round(max(flood), 1),
        "ratio_p50": round(f50 / n50, 2) if n50 else None,
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    bench = Bench(args, workdir)
    try:
        await bench.start()
        for warm in (bench.download, bench.validate):
            await warm()
        normal_download = await _timed(bench.download, args.samples)
        normal_validate = await _timed(bench.validate, args.samples)

        stop = asyncio.Event()
        answers: Counter[int] = Counter()
        flooding = asyncio.create_task(bench.flood(stop, answers))
        asyncio.get_running_loop().call_later(args.max_seconds, stop.set)
        await asyncio.sleep(args.ramp)  # let the flood reach its width before timing
        assert bench.engine is not None
        engine_cpu = cpu_seconds(bench.engine.pid)
        own_cpu = time.process_time()
        flood_start = time.perf_counter()
        try:
            async with asyncio.timeout(args.max_seconds):
                flood_download = await _timed(bench.download, args.samples)
                flood_validate = await _timed(bench.validate, args.samples)
                login_s, login_refused = await bench.honest_login()
        except TimeoutError:
            raise BenchError(f"the flood phase did not finish in {args.max_seconds} s") from None
        flood_s = time.perf_counter() - flood_start
        engine_share = (cpu_seconds(bench.engine.pid) - engine_cpu) / flood_s
        own_share = (time.process_time() - own_cpu) / flood_s
        stop.set()
        await flooding
        return {
            "flood_width": args.flood,
            "ignore_retry_after": args.ignore_retry_after,
            "known_only": args.known_only,
            "recording_mb": args.recording_mb,
            "figures": [
                _row("recording download", normal_download, flood_download),
                _row("config validation", normal_validate, flood_validate),
            ],
            "flood_answers": {str(k): v for k, v in sorted(answers.items())},
            "flood_logins_per_s": round(sum(answers.values()) / max(flood_s + args.ramp, 1e-9)),
            "honest_login_s": round(login_s, 2),
            "honest_login_429s": login_refused,
            "engine_cpu_share": round(engine_share, 2),
            "flooder_cpu_share": round(own_share, 2),
        }
    finally:
        await bench.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline bench logins",
        description="Recording downloads and config validations during a wrong-PIN flood.",
    )
    parser.add_argument("--flood", type=int, default=300, help="wrong-PIN logins at once")
    parser.add_argument("--samples", type=int, default=10, help="timed requests of each kind")
    parser.add_argument("--recording-mb", type=float, default=1.0, help="recording size")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds of flood before timing")
    parser.add_argument(
        "--ignore-retry-after", action="store_true", help="guessers ask again at once on 429"
    )
    parser.add_argument(
        "--known-only", action="store_true", help="guess only at the configured agents"
    )
    parser.add_argument("--max-seconds", type=float, default=180, help="longest flood")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-logins-") as tmp:
        try:
            result = asyncio.run(run(args, Path(tmp)))
        except BenchError as exc:
            print(f"hotline bench logins: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    manner = "at once on 429" if result["ignore_retry_after"] else "after Retry-After"
    targets = "the configured agents" if result["known_only"] else "agent numbers 1000-9999"
    print(
        f"wrong-PIN flood: {result['flood_width']} logins at once, each from its own address,"
        f" at {targets}, asking again {manner}"
    )
    print(f"{'':<20}{'normal p50':>12}{'max':>9}{'flood p50':>12}{'max':>9}{'ratio':>8}")
    for row in result["figures"]:
        print(
            f"{row['what']:<20}{row['normal_p50_ms']:>10.1f}ms{row['normal_max_ms']:>7.1f}ms"
            f"{row['flood_p50_ms']:>10.1f}ms{row['flood_max_ms']:>7.1f}ms{row['ratio_p50']:>7}x"
        )
    print(f"flood answers by status: {result['flood_answers']}")
    print(f"flood logins answered per second: {result['flood_logins_per_s']}")
    print(
        f"honest agent login during the flood: {result['honest_login_s']} s"
        f" ({result['honest_login_429s']} x 429 busy first)"
    )
    print(
        f"CPU during the flood (cores): engine {result['engine_cpu_share']},"
        f" this flooding process {result['flooder_cpu_share']}"
    )
    return 0
