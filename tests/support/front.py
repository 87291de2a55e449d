"""Debian's HAProxy with the shipped ``deploy/haproxy/haproxy.cfg``: the one address
browsers use in front of two engines."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import aiohttp

from cti.pgserver import free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def installed() -> bool:
    return os.path.exists(HAPROXY)


class Front:
    """``haproxy -f deploy/haproxy/haproxy.cfg`` in the foreground, on a free loopback port."""

    def __init__(self, engines: tuple[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.engines = engines
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Front:
        env = {
            **os.environ,
            "HOTLINE_FRONT": f"127.0.0.1:{self.port}",
            "HOTLINE_ENGINE_A": self.engines[0],
            "HOTLINE_ENGINE_B": self.engines[1],
        }
        with self.log.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                HAPROXY, "-db", "-f", str(CONFIG), env=env, stdout=sink, stderr=sink
            )
        return self

    async def until_active(self, http: aiohttp.ClientSession, timeout: float) -> None:
        """Wait until the front reaches an engine that drives calls."""
        async with asyncio.timeout(timeout):
            while True:
                assert self.process is not None and self.process.returncode is None, (
                    self.log.read_text(errors="replace")
                )
                try:
                    async with http.get(f"{self.url}/healthz/active") as reply:
                        if reply.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
