"""Fixtures of the ``asterisk`` tier: a real Asterisk with the shipped asterisk-conf/.

Without an installed Asterisk (``ASTERISK_BIN`` or ``asterisk`` on PATH) or
without SIPp, every test of the tier is skipped with the reason.  One
Asterisk serves the whole session; each test uses its own seat phones and
leaves no channel behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.asterisk.engine import EngineRunner
from tests.asterisk.pbx import Asterisk, AsteriskUnavailable, Ports, find_asterisk, free_udp_port
from tests.asterisk.scenario import tier_config
from tests.asterisk.sip import Phone, sipp_binary


@pytest.fixture(scope="session")
def asterisk_binary() -> Path:
    try:
        binary = find_asterisk()
    except AsteriskUnavailable as exc:
        pytest.skip(str(exc))
    if sipp_binary() is None:
        pytest.skip("SIPp not found: install Debian's sip-tester package")
    return binary


@pytest.fixture(scope="session")
def asterisk(asterisk_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asterisk]:
    """Asterisk running the shipped configuration on loopback ports."""
    root = tmp_path_factory.mktemp("asterisk")
    pbx = Asterisk(asterisk_binary, root, Ports.allocate())
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()
        keep = root / "console.log"
        if keep.exists():
            # The console log stays next to the session's other temp files.
            shutil.copy(keep, tmp_path_factory.getbasetemp() / "asterisk-console.log")


@pytest.fixture
async def no_leftovers(asterisk: Asterisk) -> AsyncIterator[None]:
    """After the test, hang up whatever channels it left in Asterisk (and fail on
    them), and destroy leftover bridges: bridges outlive the application that
    made them, so an engine that died leaves its bridges behind."""
    yield
    ari = asterisk.ari(app="cleaner")
    try:
        channels = await ari.channels.list()
        for channel in channels:
            with contextlib.suppress(Exception):
                await ari.channels.hangup(channel.id)
        for bridge in await ari.bridges.list():
            with contextlib.suppress(Exception):
                await ari.bridges.destroy(bridge.id)
    finally:
        await ari.close()
    assert not channels, f"channels left behind: {[c.name for c in channels]}"


PhoneFactory = Callable[..., Awaitable[Phone]]


@pytest.fixture
async def phones(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[PhoneFactory]:
    """Seat phones: ``await phones("8001", "answer", ring_ms=1000)`` registers
    8001 and answers its calls as :meth:`Phone.serve` says; each is stopped
    and unregistered afterwards.  A phone must be serving to answer
    Asterisk's qualify (OPTIONS); until then it shows as unreachable."""
    made: list[Phone] = []

    async def make(endpoint: str, behaviour: str = "answer", **timing: int) -> Phone:
        phone = Phone(endpoint, free_udp_port(), tmp_path, asterisk.ports.sip)
        made.append(phone)
        await phone.register()
        await phone.serve(behaviour, **timing)
        return phone

    yield make
    await asyncio.gather(*(phone.close() for phone in made))


EngineFactory = Callable[..., Awaitable[EngineRunner]]


@pytest.fixture
async def engine(
    asterisk: Asterisk, empty_dsn: str, tmp_path: Path
) -> AsyncIterator[EngineFactory]:
    """``await engine()`` starts ``hotline run`` against the session's Asterisk,
    with its own empty database and a copy of config/ (``tier_config``, or
    ``config_dir=`` for a scenario that edits more; ``tickets_url=`` for a
    scenario with a work-order backend listening); stopped afterwards."""
    runners: list[EngineRunner] = []

    async def start(config_dir: Path | None = None, tickets_url: str | None = None) -> EngineRunner:
        runner = EngineRunner(
            asterisk,
            config_dir or tier_config(tmp_path / "config"),
            tmp_path / "engine",
            empty_dsn,
        )
        if tickets_url is not None:
            runner.tickets_url = tickets_url
        runner.workdir.mkdir(parents=True, exist_ok=True)
        runners.append(runner)
        await runner.start()
        return runner

    yield start
    for runner in runners:
        await runner.stop()
