"""The engine as a separate process (``hotline run``) against the tier's Asterisk.

A real process, so that a test can kill it (SIGKILL) in the middle of a call
and start it again, as an operator's host would.  Its deployment values come
from the environment overrides of ``cti.app`` (ARI URL, AMI port, HTTP port,
state and recordings directories, ticket backend) and the secrets from the
variables ``engine.yaml`` names; the configuration directory is a copy of the
shipped ``config/`` that a test may edit (dates, ring timeouts) before start.

:class:`AgentSession` drives one agent through the engine's own HTTP API
(login with seat and PIN, ready), as the toolbar would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.asterisk.pbx import AMI_SECRET, ARI_PASSWORD, REPO, Asterisk, free_port


class EngineFailed(Exception):
    """The engine did not come up, or died; carries the tail of its log."""


def config_copy(dest: Path) -> Path:
    """A copy of the shipped config/ to edit for one test."""
    shutil.copytree(REPO / "config", dest)
    return dest


def edit_yaml(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path`` (the test's config copy)."""
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise ValueError(f"{path.name}: {old!r} occurs {text.count(old)} times")
    path.write_text(text.replace(old, new), encoding="utf-8")


@dataclass
class EngineRunner:
    """``hotline run`` as a child process; ``start`` / ``kill`` / ``stop`` may repeat."""

    asterisk: Asterisk
    config_dir: Path
    workdir: Path
    database_url: str
    tickets_url: str = "http://127.0.0.1:9"  # nothing listens: tickets stay in the outbox
    http_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "engine.log"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOTLINE_ARI_URL=self.asterisk.ari_url,
            HOTLINE_AMI_HOST="127.0.0.1",
            HOTLINE_AMI_PORT=str(self.asterisk.ports.ami),
            HOTLINE_HTTP_HOST="127.0.0.1",
            HOTLINE_HTTP_PORT=str(self.http_port),
            HOTLINE_STATE_DIR=str(self.workdir / "state"),
            HOTLINE_RECORDINGS_DIR=str(self.workdir / "recordings"),
            HOTLINE_TICKETS_URL=self.tickets_url,
            HOTLINE_ARI_PASSWORD=ARI_PASSWORD,
            HOTLINE_AMI_SECRET=AMI_SECRET,
            HOTLINE_DATABASE_URL=self.database_url,
            HOTLINE_TICKET_TOKEN="tier-token",
        )
        return env

    async def start(self, timeout: float = 30.0) -> None:
        """Start and wait until ``/healthz`` shows ARI and AMI connected."""
        (self.workdir / "state").mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"--- start {self.starts + 1}\n".encode())
        log.flush()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cti.cli",
            "run",
            "--config",
            str(self.config_dir),
            "--log-json",
            cwd=REPO,
            env=self.environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.process.returncode is not None:
                    raise EngineFailed(
                        f"engine exited {self.process.returncode}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with http.get(
                        f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as response:
                        if response.status == 200:
                            health = await response.json()
                            if health.get("ari") == "connected" and health.get("ami") in (
                                "connected",
                                "absent",
                            ):
                                return
                if time.monotonic() > deadline:
                    raise EngineFailed(f"engine not healthy after {timeout} s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)  # polling the health endpoint while it starts

    async def kill(self) -> None:
        """SIGKILL: no goodbye to Asterisk, no flush; what a crash looks like."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as systemd stops the service; SIGKILL if it hangs."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await self.process.wait()
        except TimeoutError:
            await self.kill()

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no engine log)"

    def log_events(self) -> list[dict[str, Any]]:
        """The engine's JSON log lines, parsed (other lines skipped)."""
        import json

        events: list[dict[str, Any]] = []
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        events.append(record)
        return events


@dataclass
class AgentSession:
    """One agent logged in at one seat through the engine's HTTP API."""

    engine: EngineRunner
    agent: str
    seat: str
    pin: str = ""
    token: str = ""

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST as this agent; AssertionError unless 2xx."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.engine.url}{path}", json=body or {}, headers=headers) as response,
        ):
            payload: dict[str, Any] = await response.json()
            if not 200 <= response.status < 300:
                raise AssertionError(f"POST {path}: {response.status} {payload}")
            return payload

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.engine.url}{path}", headers=headers) as response,
        ):
            return response.status, await response.json()

    async def login(self) -> dict[str, Any]:
        """Log in with the demo PIN (the agent's own number) and become ready."""
        view = await self.post(
            "/api/agents/login",
            {"agent": self.agent, "pin": self.pin or self.agent, "seat": self.seat},
        )
        self.token = view["token"]
        return await self.post("/api/agents/me/ready")

    async def wait_for_call(self, timeout: float) -> dict[str, Any]:
        """The agent's current call, once the toolbar would show one."""
        async with asyncio.timeout(timeout):
            while True:
                status, view = await self.get("/api/agents/me/call")
                if status == 200:
                    return view
                await asyncio.sleep(0.2)  # polling the API as the toolbar does

    async def wait_for(self, path: str, key: str, value: Any, timeout: float) -> dict[str, Any]:
        """GET ``path`` until its ``key`` equals ``value``."""
        view: dict[str, Any] = {}
        try:
            async with asyncio.timeout(timeout):
                while True:
                    status, view = await self.get(path)
                    if status == 200 and view.get(key) == value:
                        return view
                    await asyncio.sleep(0.2)  # polling the API as the toolbar does
        except TimeoutError:
            raise AssertionError(f"GET {path}: {key} never {value!r}; last {view}") from None

    async def state(self) -> dict[str, Any]:
        status, view = await self.get("/api/agents/me")
        assert status == 200, view
        return view
