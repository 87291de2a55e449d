"""The engine is down: no citizen meets silence.

When no WebSocket is connected for the ``hotline`` application, ``Stasis()``
fails at once (``STASISSTATUS=FAILED``) and extensions.conf's
[hotline-engine-down] takes the call: a prompt, the plain app_queue queue of
every seat, then voicemail.  A number the platform does not serve hears the
not-in-service prompt.  Each test first registers and drops an application
WebSocket, as an engine that was running and then stopped would.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.asterisk.conftest import PhoneFactory
from tests.asterisk.pbx import SHIPPED_CONF, Asterisk
from tests.asterisk.sip import CALLER_NAME, CALLER_NUMBER, call, write_alaw_wav

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]


async def engine_went_away(asterisk: Asterisk, timeout: float = 5.0) -> None:
    """Connect the application ``hotline``, close it, and wait until Asterisk dropped it."""
    engine = asterisk.ari()
    await engine.connect()
    await engine.close()
    watcher = asterisk.ari(app="watcher")
    try:
        async with asyncio.timeout(timeout):
            while True:
                if "hotline" not in [app.name for app in await watcher.applications.list()]:
                    return
                await asyncio.sleep(0.05)  # Asterisk drops the application on its own thread
    finally:
        await watcher.close()


async def test_fallback_queue_rings_a_seat(
    asterisk: Asterisk, phones: PhoneFactory, tmp_path: Path
) -> None:
    await engine_went_away(asterisk)
    phone = await phones("8002", "answer", ring_ms=500, talk_ms=2000)
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=40_000,
    )
    try:
        # The seat hangs up after 2 s of talk; the queue then ends the caller's call.
        await caller.expect_success(timeout=40)
    finally:
        await caller.stop()
    assert phone.uas is not None
    assert phone.uas.received("INVITE") == 1
    # The seat's phone shows who is calling, Chinese name intact.
    assert f'"{CALLER_NAME}" <sip:{CALLER_NUMBER}@' in phone.uas.messages()


async def test_fallback_takes_a_message_when_no_seat_answers(
    asterisk: Asterisk, tmp_path: Path
) -> None:
    await engine_went_away(asterisk)
    inbox = asterisk.root / "spool" / "voicemail" / "hotline" / "12345" / "INBOX"
    before = set(inbox.glob("*.wav")) if inbox.exists() else set()
    # The caller speaks (RTP): app_voicemail measures a message by the audio it received.
    voice = write_alaw_wav(SHIPPED_CONF / "sounds/hotline/zh/goodbye.wav", tmp_path / "voice.wav")
    started = time.monotonic()
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="83531111",  # a merged line's old number: served
        wait_ms=14_000,
        then="hangup",
        audio=voice,
    )
    try:
        await caller.expect_success(timeout=30)
    finally:
        await caller.stop()
    assert time.monotonic() - started >= 14
    deadline = time.monotonic() + 5
    while not (set(inbox.glob("*.wav")) - before if inbox.exists() else set()):
        assert time.monotonic() < deadline, "no voicemail message was saved"
        await asyncio.sleep(0.1)  # app_voicemail writes the file after the hang-up


async def test_unknown_number_hears_not_in_service(asterisk: Asterisk, tmp_path: Path) -> None:
    await engine_went_away(asterisk)
    started = time.monotonic()
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="66668888",
        wait_ms=20_000,
    )
    try:
        # Answered, the prompt, then Asterisk hangs up: the caller gets a BYE.
        await caller.expect_success(timeout=25)
    finally:
        await caller.stop()
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 15, elapsed
    assert caller.received("BYE") == 1
