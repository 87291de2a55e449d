"""The engine on a real Asterisk: a 12345 call answered, recorded and rated; an abandoned call.

Real SIP on every side: SIPp dials in through the carrier trunk, SIPp seat
phones registered with their passwords ring and answer, and ``hotline run``
drives it all over ARI and AMI, with its records in PostgreSQL.
"""

from __future__ import annotations

import array
import hashlib
import math
import wave
from pathlib import Path

import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession
from tests.asterisk.pbx import SHIPPED_CONF, Asterisk
from tests.asterisk.scenario import (
    RING_TIMEOUT,
    call_events,
    call_record,
    prompt_seconds,
    stored_recordings,
)
from tests.asterisk.sip import CALLER_NAME, CALLER_NUMBER, call, write_alaw_wav

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]

TALK_S = 3


def rms(path: Path) -> float:
    with wave.open(str(path)) as w:
        samples = array.array("h", w.readframes(w.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


async def test_call_answered_recorded_and_rated(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    phone = await phones("8001", "answer", ring_ms=1000, talk_ms=TALK_S * 1000)
    await AgentSession(runner, "1003", "s01").login()
    # The caller speaks (a looped prompt as RTP), so the recording holds audio.
    voice = write_alaw_wav(SHIPPED_CONF / "sounds/hotline/zh/goodbye.wav", tmp_path / "voice.wav")
    # Press 1 (非常满意) once a second from about when the agent has hung up.
    notice = prompt_seconds("recording-notice")
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + 1 + TALK_S + 1.5) * 1000),
        then="press",
        digit="1",
        max_presses=25,
        audio=voice,
    )
    try:
        await caller.expect_success(timeout=60)  # the engine hung up after the rating
    finally:
        await caller.stop()

    assert phone.uas is not None
    assert phone.uas.received("INVITE") == 1
    assert f'"{CALLER_NAME}" <sip:{CALLER_NUMBER}@' in phone.uas.messages()

    record = await call_record(empty_dsn, dialled="12345")
    assert record["caller_number"] == CALLER_NUMBER
    assert record["caller_name"] == CALLER_NAME
    assert record["first_agent"] == "1003"
    assert record["outcome"] == "answered"
    assert record["hangup_by"] == "agent"
    assert record["rating"] == 1
    events = await call_events(empty_dsn, record["call_id"])
    assert events.index("arrived") < events.index("queued") < events.index("offered")
    assert events.index("offered") < events.index("answered")

    # The bridge recording: fetched from Asterisk, hashed, stored; Asterisk's copy removed.
    [recording] = await stored_recordings(empty_dsn, record["call_id"])
    assert recording["status"] == "stored"
    assert recording["agents"] == ["1003"]  # the agent may listen to the call later
    path = Path(recording["file_path"])
    if not path.is_absolute():
        path = runner.workdir / "recordings" / path
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == recording["sha256"]
    assert len(data) == recording["size_bytes"]
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        seconds = w.getnframes() / 8000
    assert TALK_S - 1 < seconds < TALK_S + 2, seconds
    assert rms(path) > 100  # the caller's voice, not silence
    assert not list(asterisk.recordings_dir.glob(f"{recording['name']}.*"))


async def test_caller_abandons_while_the_agent_rings(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    phone = await phones("8002", "noanswer")
    await AgentSession(runner, "1004", "s02").login()
    notice = prompt_seconds("recording-notice")
    # Hang up two seconds into the ringing, well before the ring timeout.
    caller = await call(
        tmp_path,
        sip_port=asterisk.ports.sip,
        source_port=asterisk.ports.carrier,
        dialled="12345",
        wait_ms=int((notice + 2) * 1000),
        then="hangup",
    )
    try:
        await caller.expect_success(timeout=30)
    finally:
        await caller.stop()
    record = await call_record(empty_dsn, dialled="12345")
    assert record["outcome"] == "abandoned"
    assert record["hangup_by"] == "caller"
    assert record["answered_at"] is None
    assert record["first_offered_at"] is not None
    # No ghost ringing: the seat's INVITE was cancelled at once (487 after the CANCEL).
    assert phone.uas is not None
    await phone.uas.wait_for_received("CANCEL", count=1, timeout=RING_TIMEOUT)
    assert phone.uas.received("INVITE") == 1
