"""``hotline run`` as a child process against an in-process pbxsim, for the tests that
kill the engine (SIGKILL) and start it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pbxsim import PbxSim


class EngineProc:
    """``hotline run`` as a child process."""

    def __init__(self, config_dir: Path, env: dict[str, str], log: Path) -> None:
        self.config_dir, self.env, self.log = config_dir, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cti.cli", "run", "--config", str(self.config_dir)],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the process stops running, its sockets stay open."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen process must run to stop
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def engine_environment(
    sim: PbxSim,
    secret: str,
    *,
    http_port: int,
    database_url: str,
    workdir: Path,
    tickets_url: str,
    ticket_token: str,
    **extra: str,
) -> dict[str, str]:
    """The environment of a child engine on ``sim`` (``extra``: more variables)."""
    return {
        **os.environ,
        "HOTLINE_ARI_URL": sim.ari_url,
        "HOTLINE_ARI_PASSWORD": secret,
        "HOTLINE_AMI_PORT": str(sim.ami_port),
        "HOTLINE_AMI_SECRET": secret,
        "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_STATE_DIR": str(workdir / "state"),
        "HOTLINE_RECORDINGS_DIR": str(workdir / "recordings"),
        "HOTLINE_TICKETS_URL": tickets_url,
        "HOTLINE_TICKET_TOKEN": ticket_token,
        **extra,
    }
