"""Calls out on a real Asterisk: click-to-dial through the carrier trunk, an automatic return visit.

The citizen is a SIPp phone behind the carrier trunk (``citizen.xml`` at the
carrier's address): the engine creates the citizen's leg into the
application with the dial string of engine.yaml (``PJSIP/{number}@carrier``)
and dials it (``create_then_dial_answer_busy_timeout.jsonl``).  What the
citizen's phone receives is asserted: the request URI, and the presented
number (outbound.yaml ``presented_number``) in ``From`` and
``P-Asserted-Identity`` as Asterisk sends them.

1. Click-to-dial (``POST /api/agents/me/dial``): the agent's seat phone
   rings and answers first, then the citizen; the conversation is bridged,
   recorded, and the recording stored by the engine.
2. An automatic return visit (``POST /api/return-visits``): the engine's
   dialler calls the citizen, who hears the notice and answers the survey
   with a key sent as RFC 4733 telephone events; the answer reaches the
   work-order backend.
3. A click-to-dial conversation goes on through an engine killed and
   started again, and ends with its one record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import wave
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.asterisk.conftest import EngineFactory, PhoneFactory
from tests.asterisk.engine import AgentSession, edit_yaml
from tests.asterisk.pbx import Asterisk
from tests.asterisk.scenario import (
    call_events,
    call_record,
    picture_says,
    prompt_seconds,
    stored_recordings,
    tier_config,
    trunk_reachable,
)
from tests.asterisk.sip import (
    Sipp,
    citizen_phone,
    first_message,
    header,
    hung_up_on,
    received_message,
)
from tests.faces_support import role_env
from tests.support.backend import TicketBackend

pytestmark = [pytest.mark.asterisk, pytest.mark.outbound, pytest.mark.usefixtures("no_leftovers")]

CITIZEN = "13812345678"
PRESENTED = "12345"  # config/outbound.yaml presented_number
TICKET_TOKEN = "tier-token"  # what tests.asterisk.engine gives the engine
RESTART_TALK_S = 15


def assert_presented(citizen: Sipp, asterisk: Asterisk) -> None:
    """The INVITE the citizen's phone got: to its number at the trunk, from the hotline."""
    invite = received_message(citizen, "INVITE")
    start = invite.split("\n", 1)[0]
    assert start.startswith(f"INVITE sip:{CITIZEN}@127.0.0.1:{asterisk.ports.carrier}"), start
    assert f"<sip:{PRESENTED}@" in header(invite, "From"), invite
    assert f"<sip:{PRESENTED}@" in header(invite, "P-Asserted-Identity"), invite


async def test_click_to_dial_rings_the_seat_then_the_citizen_through_the_trunk(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    # The agent hangs up six seconds after answering the seat phone.
    seat = await phones("8013", "answer", ring_ms=500, talk_ms=6000)
    agent = AgentSession(runner, "1014", "s13")
    await agent.login()
    citizen = await citizen_phone(tmp_path, port=asterisk.ports.carrier, ring_ms=1000)
    try:
        await trunk_reachable(asterisk, "carrier")
        placed = await agent.post("/api/agents/me/dial", {"number": CITIZEN})
        assert placed["number"] == CITIZEN and placed["presented_number"] == PRESENTED
        call_id = str(placed["call_id"])
        # Answered, then the agent's hang-up ends the citizen's leg.
        await hung_up_on(citizen, timeout=30)
    finally:
        await citizen.stop()

    # The seat first (showing the number it is about to call), then the citizen.
    assert seat.uas is not None
    assert seat.uas.received("INVITE") == 1
    assert f"sip:{CITIZEN}@" in header(received_message(seat.uas, "INVITE"), "From")
    assert citizen.received("INVITE") == 1 and citizen.received("BYE") == 1
    seat_answered, _ = first_message(seat.uas, "sent", "SIP/2.0 200")
    citizen_rung, _ = first_message(citizen, "received", "INVITE")
    assert seat_answered < citizen_rung  # the citizen is dialled once the agent is on the line
    assert_presented(citizen, asterisk)

    record = await call_record(empty_dsn, call_id=call_id)
    assert record["outcome"] == "answered" and record["hangup_by"] == "agent"
    assert record["caller_number"] == CITIZEN and record["first_agent"] == "1014"
    assert record["tags"]["direction"] == "outbound" and record["tags"]["agent"] == "1014"
    events = await call_events(empty_dsn, call_id)
    steps = ["click_to_dial", "agent_answered", "dialling", "answered"]
    assert [e for e in events if e in steps] == steps, events

    # The conversation's recording: fetched from Asterisk, hashed, stored.
    [recording] = await stored_recordings(empty_dsn, call_id)
    assert recording["status"] == "stored" and recording["agents"] == ["1014"]
    path = Path(recording["file_path"])
    if not path.is_absolute():
        path = runner.workdir / "recordings" / path
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == recording["sha256"]
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        seconds = w.getnframes() / 8000
    # The seat hangs up six seconds after answering; the citizen rang one and answered.
    assert 2 < seconds < 7, seconds
    assert not list(asterisk.recordings_dir.glob(f"{recording['name']}.*"))


def visits_config(dest: Path) -> Path:
    """The tier's config/ with the dialler passing every second, at any hour of the day."""
    tier_config(dest)
    outbound = dest / "outbound.yaml"
    # The tests run at any hour: quiet hours are tested on a virtual clock with pbxsim.
    edit_yaml(
        outbound,
        'quiet_hours: {start: "21:00", end: "08:00"}',
        'quiet_hours: {start: "00:00", end: "00:00"}',
    )
    edit_yaml(outbound, "dial_every_seconds: 15", "dial_every_seconds: 1")
    return dest


async def ask_for_visit(runner: Any, token: str, body: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{runner.url}/api/return-visits",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 201, await response.text()


async def test_an_automatic_return_visit_answered_with_dtmf(
    asterisk: Asterisk,
    engine: EngineFactory,
    empty_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    supervisor = role_env(monkeypatch)["supervisor"]
    notice = prompt_seconds("visit-notice")
    async with TicketBackend(token=TICKET_TOKEN) as backend:
        runner = await engine(
            config_dir=visits_config(tmp_path / "config"), tickets_url=backend.url
        )
        # Key 2 (满意) once a second from just after the notice, as RFC 4733 events.
        citizen = await citizen_phone(
            tmp_path,
            port=asterisk.ports.carrier,
            ring_ms=1000,
            wait_ms=int((notice + 1) * 1000),
            then="press",
            digit="2",
            max_presses=20,
        )
        try:
            await trunk_reachable(asterisk, "carrier")
            now = dt.datetime.now(dt.UTC)
            await ask_for_visit(
                runner,
                supervisor,
                {
                    "ticket_id": "WO-T1",
                    "number": CITIZEN,
                    "due_from": (now - dt.timedelta(hours=1)).isoformat(),
                    "due_until": (now + dt.timedelta(days=1)).isoformat(),
                    "survey": "satisfaction",
                    "summary": "小区路灯不亮，已由城管局处理",
                },
            )
            # The survey's thanks, then the engine hangs up.
            await hung_up_on(citizen, timeout=notice + 40)
        finally:
            await citizen.stop()
            assert citizen.received("INVITE") == 1 and citizen.received("BYE") == 1
        assert_presented(citizen, asterisk)

        # Through the outbox, behind the call's own ticket: a loaded machine takes its time.
        await backend.wait_until(lambda: bool(backend.return_visits.get("WO-T1")), timeout=60)
        (sent,) = backend.return_visits["WO-T1"]
        assert sent["reached"] is True and sent["outcome"] == "reached"
        assert sent["status"] == "done" and sent["attempt"] == 1 and sent["agent"] is None
        assert sent["answers"] == [{"question": "satisfaction", "answer": "2"}]
        assert sent["caller"] == {"number": CITIZEN}


async def test_a_call_out_goes_on_through_an_engine_kill(
    asterisk: Asterisk,
    engine: EngineFactory,
    phones: PhoneFactory,
    empty_dsn: str,
    tmp_path: Path,
) -> None:
    runner = await engine()
    # The agent talks long enough for the engine to be killed and started again.
    seat = await phones("8013", "answer", ring_ms=500, talk_ms=RESTART_TALK_S * 1000)
    agent = AgentSession(runner, "1014", "s13")
    await agent.login()
    citizen = await citizen_phone(tmp_path, port=asterisk.ports.carrier, ring_ms=1000)
    try:
        await trunk_reachable(asterisk, "carrier")
        placed = await agent.post("/api/agents/me/dial", {"number": CITIZEN})
        call_id = str(placed["call_id"])
        await citizen.wait_for_received("ACK", count=1, timeout=30)
        await picture_says(asterisk, '"p":"connected"', timeout=10)
        await runner.kill()
        await runner.start()
        found = [e for e in runner.log_events() if e.get("event") == "calls_found"]
        assert found and found[-1]["calls"] == 1, found
        # The agent hangs up at the end of the talk: the citizen's leg ends with it.
        await hung_up_on(citizen, timeout=RESTART_TALK_S + 20)
    finally:
        await citizen.stop()
    assert seat.uas is not None and seat.uas.received("BYE") == 0  # the agent hung up
    record = await call_record(empty_dsn, call_id=call_id)
    assert record["outcome"] == "answered" and record["hangup_by"] == "agent"
    assert record["tags"]["direction"] == "outbound"
    events = await call_events(empty_dsn, call_id)
    assert events.count("answered") == 1 and "adopted" in events, events
