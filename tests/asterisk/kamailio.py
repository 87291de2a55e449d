"""Debian's Kamailio running the shipped ``deploy/kamailio/kamailio.cfg`` on loopback ports.

The shipped configuration is copied with only what one test host needs changed,
each an exact line replaced exactly once (a reshaped shipped file fails loudly):
its listening address, the carrier's address, the seats' network, the
dispatcher list's path, a faster probe, logs to stderr and the control socket
in the test's directory.  ``dispatcher.list`` names the test's Asterisk nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
from pathlib import Path

from tests.asterisk.pbx import REPO, AsteriskFailed, free_udp_port, replace_line

SHIPPED = REPO / "deploy" / "kamailio" / "kamailio.cfg"


class KamailioUnavailable(Exception):
    """No Kamailio binary; the message is the skip reason."""


def kamailio_binary() -> str:
    found = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(found).exists():
        raise KamailioUnavailable("Debian's kamailio is missing: tools/bootstrap.sh --test")
    return found


def render(root: Path, *, port: int, carrier_port: int, nodes: list[int]) -> Path:
    """The shipped configuration for loopback: Kamailio on ``port``, the Asterisk nodes'
    SIP ports ``nodes``, the carrier's SIPp on ``carrier_port``."""
    root.mkdir(parents=True, exist_ok=True)
    listing = root / "dispatcher.list"
    listing.write_text(
        "".join(f"1 sip:127.0.0.1:{p} 0 0 name=ast-{n}\n" for n, p in enumerate(nodes, 1)),
        encoding="utf-8",
    )
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in [
        ("#!define SIP_LISTEN   udp:10.0.0.10:5060", f"#!define SIP_LISTEN   udp:127.0.0.1:{port}"),
        (
            '#!define CARRIER      "sip:10.0.0.1:5060"',
            f'#!define CARRIER      "sip:127.0.0.1:{carrier_port}"',
        ),
        ('#!define CARRIER_IP   "10.0.0.1"', '#!define CARRIER_IP   "127.0.0.1"'),
        ('#!define SEAT_NET     "10.0.1.0/24"', '#!define SEAT_NET     "127.0.0.0/8"'),
        ("log_stderror=no", "log_stderror=yes"),
        ("children=4", "children=2"),
        (
            'modparam("dispatcher", "list_file", "/etc/kamailio/dispatcher.list")',
            f'modparam("dispatcher", "list_file", "{listing}")',
        ),
        (
            'modparam("dispatcher", "ds_ping_interval", 5)',
            'modparam("dispatcher", "ds_ping_interval", 1)',
        ),
        (
            'loadmodule "ctl.so"',
            f'loadmodule "ctl.so"\nmodparam("ctl", "binrpc", "unix:{root / "ctl.sock"}")',
        ),
    ]:
        text = replace_line(text, old, new, file="kamailio.cfg")
    cfg = root / "kamailio.cfg"
    cfg.write_text(text, encoding="utf-8")
    return cfg


class Kamailio:
    """One Kamailio in the foreground, logging to ``root/kamailio.log``."""

    def __init__(
        self, root: Path, *, carrier_port: int, nodes: list[int], port: int | None = None
    ) -> None:
        self.binary = kamailio_binary()
        self.root = root
        self.port = port or free_udp_port()
        self.cfg = render(root, port=self.port, carrier_port=carrier_port, nodes=nodes)
        self.log = root / "kamailio.log"
        self._process: asyncio.subprocess.Process | None = None

    def check(self) -> None:
        out = subprocess.run(
            [self.binary, "-c", "-f", str(self.cfg)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if out.returncode != 0:
            raise AsteriskFailed(f"kamailio refused the test configuration:\n{out.stderr[-3000:]}")

    async def start(self) -> None:
        self.check()
        run = self.root / "run"
        run.mkdir(exist_ok=True)
        log = self.log.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            "-f",
            str(self.cfg),
            "-DD",
            "-E",
            "-Y",
            str(run),
            "-P",
            str(run / "kamailio.pid"),
            "-w",
            str(self.root),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def destinations(self) -> str:
        """``kamcmd dispatcher.list`` through the test's control socket ('' if it fails)."""
        kamcmd = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
        out = subprocess.run(
            [kamcmd, "-s", f"unix:{self.root / 'ctl.sock'}", "dispatcher.list"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no kamailio log)"

    async def stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
