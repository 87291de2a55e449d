"""A private PostgreSQL server for the demo and the tests.

The server runs from the Debian PostgreSQL package's binaries
(``/usr/lib/postgresql/<major>/bin``) in a directory of its own, listening on
127.0.0.1 at a free port with trust authentication for loopback only.

PostgreSQL refuses to run as root.  When this process is root, the data
directory is handed to the ``postgres`` system user and every server command
runs as that user through ``runuser -u postgres --``; otherwise the server
runs as the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cti.errors import StoreError

SERVER_USER = "postgres"


def find_bindir() -> Path:
    """The newest installed PostgreSQL server's ``bin`` directory.

    ``HOTLINE_PG_BINDIR`` overrides the search.
    """
    override = os.environ.get("HOTLINE_PG_BINDIR")
    candidates = [override] if override else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(str(Path(pg_ctl).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise StoreError(
        "no PostgreSQL server binaries found: install the 'postgresql' package "
        "or set HOTLINE_PG_BINDIR"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrivatePostgres:
    """One throw-away PostgreSQL cluster.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.  After
    :meth:`start`, :attr:`dsn` connects as the superuser ``hotline`` to the
    database ``hotline``.
    """

    base_dir: Path | None = None
    port: int = 0
    keep: bool = False
    bindir: Path = field(default_factory=find_bindir)
    _owned_tmp: bool = False

    def __post_init__(self) -> None:
        if self.base_dir is None:
            # /tmp is world-traversable, so the postgres user can reach it.
            self.base_dir = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
            self._owned_tmp = True
        if not self.port:
            self.port = free_port()

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://hotline@127.0.0.1:{self.port}/hotline"

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _cmd(self, *args: str) -> list[str]:
        if self._as_root:
            return ["runuser", "-u", SERVER_USER, "--", *args]
        return list(args)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise StoreError(
                f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc

    def start(self, timeout: float = 30.0) -> PrivatePostgres:
        assert self.base_dir is not None
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
            os.chmod(self.base_dir, 0o755)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "hotline",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base_dir} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.base_dir / "server.log"),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        self._wait_ready(timeout)
        exists = self._run(
            str(self.bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "hotline",
            "-d",
            "postgres",
            "-tAc",
            "SELECT 1 FROM pg_database WHERE datname='hotline'",
        ).stdout.strip()
        if exists != "1":
            self._run(
                str(self.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "hotline",
                "hotline",
            )
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise StoreError(f"private PostgreSQL did not accept connections on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "stop",
                check=False,
            )

    def restart(self) -> None:
        """Start a stopped server again on the same port and data."""
        self.start()

    def cleanup(self) -> None:
        self.stop("immediate")
        if self._owned_tmp and not self.keep and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
