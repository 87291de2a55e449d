"""Run an installed Asterisk with the shipped ``asterisk-conf/`` in a temporary directory.

The tier never builds Asterisk: it finds one (``ASTERISK_BIN``, else
``asterisk`` on ``PATH``) or skips.  The shipped configuration is used as it
is, except for what one host running tests needs changed, each change an
exact line replaced exactly once (so a reshaped shipped file fails loudly
here instead of being silently half-overridden):

* ports: HTTP (ARI), AMI, the SIP transport, all on loopback;
* addresses: the carrier and the 12319 centre become SIPp instances on
  loopback ports (identified by address *and* port, so that seat phones on
  127.0.0.1 are never taken for the carrier);
* paths: ``asterisk.conf`` gets a ``[directories]`` section pointing into
  the temporary directory (the module directory stays the build's default);
  the data directory holds the shipped prompts and music on hold.

Readiness is what the engine itself would wait for: AMI logs in and sees
``FullyBooted``, and ARI answers ``GET /asterisk/info``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cti.ami import AmiClient, AmiError
from cti.ari import AriClient, AriError

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONF = REPO / "asterisk-conf"
ARI_USER = "hotline"
AMI_USER = "hotline"
# The shipped placeholders: the tier logs in with them, as the docs tell an
# operator to replace them before service.
ARI_PASSWORD = "change-me"
AMI_SECRET = "change-me"
CARRIER_ADDRESS = "192.0.2.10"
HOTLINE_12319_ADDRESS = "192.0.2.20"


class AsteriskUnavailable(Exception):
    """No usable Asterisk binary; the message is the skip reason."""


class AsteriskFailed(Exception):
    """Asterisk did not start, or died; carries the tail of its console log."""


def find_asterisk() -> Path:
    """The Asterisk binary to test against, or :class:`AsteriskUnavailable`."""
    configured = os.environ.get("ASTERISK_BIN")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise AsteriskUnavailable(f"ASTERISK_BIN={configured} is not an executable file")
        return path
    found = shutil.which("asterisk")
    if found is None:
        raise AsteriskUnavailable(
            "no Asterisk found: set ASTERISK_BIN to an installed Asterisk 20/22 LTS "
            "or put `asterisk` on PATH (this tier never builds one)"
        )
    return Path(found)


def installed_data_dir(binary: Path) -> Path:
    """The data directory installed with ``binary`` (XML documentation and the like).

    Asterisk will not start without its XML documentation (the configuration
    framework registers options against it), so the test's own data
    directory links to it.  ``ASTERISK_DATA_DIR`` overrides the search.
    """
    configured = os.environ.get("ASTERISK_DATA_DIR")
    prefix = binary.resolve().parent.parent
    candidates = [Path(configured)] if configured else []
    candidates += [
        prefix / "var/lib/asterisk",
        prefix / "share/asterisk",
        Path("/var/lib/asterisk"),
        Path("/usr/share/asterisk"),
    ]
    for candidate in candidates:
        if (candidate / "documentation").is_dir():
            return candidate
    raise AsteriskUnavailable(
        f"no Asterisk data directory with documentation/ next to {binary}: set ASTERISK_DATA_DIR"
    )


def asterisk_version(binary: Path) -> str:
    """``asterisk -V``: e.g. ``Asterisk 22.10.1``."""
    out = subprocess.run(
        [str(binary), "-V"], capture_output=True, text=True, timeout=10, check=True
    )
    return out.stdout.strip()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for ``kind`` (TCP by default, or UDP)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)


@dataclass(frozen=True, slots=True)
class Ports:
    """Where the test Asterisk listens and where its trunks point."""

    http: int
    ami: int
    sip: int
    carrier: int  # the carrier's SIPp: source port of inbound calls
    hotline_12319: int  # the 12319 centre's SIPp

    @classmethod
    def allocate(cls) -> Ports:
        return cls(free_port(), free_port(), free_udp_port(), free_udp_port(), free_udp_port())


def replace_line(text: str, old: str, new: str, *, file: str) -> str:
    """Replace the one line equal to ``old`` (ignoring surrounding spaces) by ``new``."""
    lines = text.split("\n")
    hits = [i for i, line in enumerate(lines) if line.strip() == old]
    if len(hits) != 1:
        raise AsteriskFailed(f"{file}: expected exactly one line {old!r}, found {len(hits)}")
    lines[hits[0]] = new
    return "\n".join(lines)


# file -> [(shipped line, line for the test host)]; {name} fields from Ports.
OVERRIDES: dict[str, list[tuple[str, str]]] = {
    "http.conf": [("bindport = 8088", "bindport = {http}")],
    "manager.conf": [("port = 5038", "port = {ami}")],
    "pjsip.conf": [
        ("bind = 0.0.0.0:5060", "bind = 127.0.0.1:{sip}"),
        (f"contact = sip:{CARRIER_ADDRESS}:5060", "contact = sip:127.0.0.1:{carrier}"),
        (f"match = {CARRIER_ADDRESS}", "match = 127.0.0.1:{carrier}"),
        (
            f"contact = sip:12319@{HOTLINE_12319_ADDRESS}:5060",
            "contact = sip:12319@127.0.0.1:{hotline_12319}",
        ),
        (f"match = {HOTLINE_12319_ADDRESS}", "match = 127.0.0.1:{hotline_12319}"),
    ],
}

DIRECTORIES = {
    "astetcdir": "etc",
    "astvarlibdir": "lib",
    "astdbdir": "lib",
    "astkeydir": "lib",
    "astdatadir": "data",
    "astagidir": "data/agi-bin",
    "astspooldir": "spool",
    "astrundir": "run",
    "astlogdir": "log",
    "astcachedir": "cache",
}


def stage(
    root: Path,
    ports: Ports,
    installed_data: Path,
    shipped: Path = SHIPPED_CONF,
    local: Mapping[str, str] | None = None,
) -> Path:
    """Lay out ``root`` for one Asterisk: configuration, data, spool, logs.

    ``local`` adds site files (``extensions_local.conf``, ``queues_local.conf``,
    ``pjsip_local.conf``), which the shipped files ``#tryinclude``.

    The data directory links the installed one's entries, except ``sounds``
    and ``moh``, which are the shipped prompts and music on hold.  Returns
    the path of its ``asterisk.conf``.
    """
    etc = root / "etc"
    etc.mkdir(parents=True)
    values = {
        "http": ports.http,
        "ami": ports.ami,
        "sip": ports.sip,
        "carrier": ports.carrier,
        "hotline_12319": ports.hotline_12319,
    }
    for source in sorted(shipped.glob("*.conf")):
        text = source.read_text(encoding="utf-8")
        for old, new in OVERRIDES.get(source.name, []):
            text = replace_line(text, old, new.format(**values), file=source.name)
        if source.name == "asterisk.conf":
            text += "\n[directories]\n" + "".join(
                f"{key} => {root / sub}\n" for key, sub in DIRECTORIES.items()
            )
        (etc / source.name).write_text(text, encoding="utf-8")
    for name, text in (local or {}).items():
        if not name.endswith("_local.conf"):
            raise ValueError(f"{name}: only *_local.conf files are site additions")
        (etc / name).write_text(text, encoding="utf-8")
    for sub in set(DIRECTORIES.values()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    # The recording directory: without it every bridge recording answers 500
    # (transcripts/record_dir_missing_500.jsonl).
    (root / "spool" / "recording").mkdir(parents=True)
    own = {"sounds": shipped / "sounds", "moh": shipped / "moh"}
    for entry in installed_data.iterdir():
        if entry.name not in own and entry.name != "agi-bin":
            (root / "data" / entry.name).symlink_to(entry)
    for name, target in own.items():
        (root / "data" / name).symlink_to(target)
    return etc / "asterisk.conf"


class Asterisk:
    """One Asterisk process on loopback, started from :func:`stage`'s layout."""

    def __init__(
        self, binary: Path, root: Path, ports: Ports, local: Mapping[str, str] | None = None
    ) -> None:
        self.binary = binary
        self.root = root
        self.ports = ports
        self.conf = stage(root, ports, installed_data_dir(binary), local=local)
        self.console_log = root / "console.log"
        self.version = asterisk_version(binary)
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Asterisk {self.version} {state} sip={self.ports.sip} http={self.ports.http}>"

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}/ari"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def recordings_dir(self) -> Path:
        return self.root / "spool" / "recording"

    def ari(self, app: str = "hotline", **kwargs: object) -> AriClient:
        """A new ARI client for ``app`` (not connected)."""
        return AriClient(self.ari_url, ARI_USER, ARI_PASSWORD, app, **kwargs)  # type: ignore[arg-type]

    def ami(self, **kwargs: object) -> AmiClient:
        """A new AMI client (not connected)."""
        return AmiClient("127.0.0.1", self.ports.ami, AMI_USER, AMI_SECRET, **kwargs)  # type: ignore[arg-type]

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until fully booted (AMI FullyBooted and ARI answering)."""
        self._spawn()
        try:
            asyncio.run(self._wait_ready(timeout))
        except BaseException:
            self.stop()
            raise

    async def start_async(self, timeout: float = 60.0) -> None:
        """:meth:`start` from inside a running event loop."""
        self._spawn()
        try:
            await self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        log = self.console_log.open("ab")
        self._process = subprocess.Popen(
            [str(self.binary), "-C", str(self.conf), "-f", "-n", "-vvv"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        log.close()

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise AsteriskFailed(f"Asterisk exited at start:\n{self.log_tail()}")
            try:
                await self._probe(deadline - time.monotonic())
                return
            except (AmiError, AriError, OSError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise AsteriskFailed(
                        f"Asterisk not ready after {timeout:.0f} s ({exc!r}):\n{self.log_tail()}"
                    ) from exc
            await asyncio.sleep(0.2)  # polling interval while the process boots

    async def _probe(self, budget: float) -> None:
        # Short attempts: a process that died under a probe is noticed soon.
        budget = min(max(budget, 0.5), 3.0)
        async with asyncio.timeout(budget):
            ami = self.ami()
            with ami.subscribe("FullyBooted") as booted:
                await ami.connect()
                try:
                    await booted.get(timeout=budget)
                finally:
                    await ami.close()
            ari = self.ari()
            try:
                await ari.asterisk.info()
            finally:
                await ari.close()

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command through the remote console (``asterisk -rx``)."""
        out = subprocess.run(
            [str(self.binary), "-C", str(self.conf), "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return out.stdout

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            text = self.console_log.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no console log)"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully (SIGTERM), then kill if it hangs."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
