"""The shipped asterisk-conf/ on a real Asterisk, before any engine runs.

Asterisk boots with it; ARI and AMI answer the engine's user with the
placeholder secrets; AMI grants what the engine needs and no more; a seat
phone registers; a citizen's call reaches the ``hotline`` application with
its name, number, dialled number, forwarding number and SIP INFO digits
intact; a shipped prompt plays; and with no engine connected the dialplan's
fallback answers, and a plain queue rings a seat.

Everything here uses the project's own clients (:mod:`cti.ari`,
:mod:`cti.ami`) and real SIP user agents (SIPp).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti.ami import AmiClient, ContactStatus, DeviceStateChange
from cti.ari import (
    AriClient,
    ChannelDtmfReceived,
    PlaybackFinished,
    StasisStart,
)
from tests.asterisk.conftest import PhoneFactory
from tests.asterisk.pbx import Asterisk, asterisk_version, free_udp_port
from tests.asterisk.sip import CALLER_NAME, CALLER_NUMBER, Phone, SippFailed, call

pytestmark = [pytest.mark.asterisk, pytest.mark.usefixtures("no_leftovers")]


@pytest.fixture
async def ari(asterisk: Asterisk) -> AsyncIterator[AriClient]:
    """An ARI client registered as the application ``hotline`` (as the engine would be)."""
    client = asterisk.ari()
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def ami(asterisk: Asterisk) -> AsyncIterator[AmiClient]:
    client = asterisk.ami()
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


async def test_ari_and_ami_answer_on_loopback(asterisk: Asterisk, ari: AriClient) -> None:
    info = await ari.asterisk.info()
    assert info.system is not None
    assert asterisk_version(asterisk.binary) == f"Asterisk {info.system['version']}"
    application = await ari.applications.get("hotline")
    assert application.name == "hotline"
    ami = asterisk.ami()
    with ami.subscribe("FullyBooted") as booted:
        await ami.connect()
        try:
            event = await booted.get(timeout=5)
            assert event.status == "Fully Booted"  # type: ignore[union-attr]
        finally:
            await ami.close()


async def test_ami_user_has_least_privilege(ami: AmiClient) -> None:
    # Granted: the snapshots and lists the engine reads.
    status = await ami.action({"Action": "CoreStatus"})
    assert status.ok
    channels = await ami.action({"Action": "CoreShowChannels"})
    assert channels.ok
    devices = await ami.action({"Action": "DeviceStateList"})
    assert devices.ok
    # Refused: calls are controlled over ARI; the CLI, the configuration (and
    # the secrets in it) and module control are not the engine's.
    for action in (
        {"Action": "Originate", "Channel": "PJSIP/8001", "Application": "Playback"},
        {"Action": "Command", "Command": "core show channels"},
        {"Action": "GetConfig", "Filename": "ari.conf"},
        {"Action": "Reload", "Module": "res_pjsip.so"},
        {"Action": "PJSIPShowContacts"},
    ):
        refused = await ami.action(action, check=False)
        assert not refused.ok
        assert refused.message == "Permission denied", action


async def test_seat_phone_registers_with_its_password(
    asterisk: Asterisk, ami: AmiClient, phones: PhoneFactory, tmp_path: Path
) -> None:
    reachable: ContactStatus | None = None
    idle = False
    with ami.subscribe("ContactStatus", "DeviceStateChange") as events:
        await phones("8001")
        # Both arrive, in either order: the contact qualified, and the device
        # state the engine reads to know the seat can take calls.
        while reachable is None or not idle:
            event = await events.get(timeout=10)
            if isinstance(event, ContactStatus) and event.aor == "8001":
                reachable = event if event.status == "Reachable" else reachable
            if isinstance(event, DeviceStateChange) and event.device == "PJSIP/8001":
                idle = event.state == "NOT_INUSE"
    assert reachable.endpoint == "8001"
    devices = await ami.action({"Action": "DeviceStateList"})
    states = {item.get("Device"): item.get("State") for item in devices.events}
    assert states["PJSIP/8001"] == "NOT_INUSE"
    assert states["PJSIP/8040"] == "UNAVAILABLE"  # never registered

    impostor = Phone("8002", free_udp_port(), tmp_path, asterisk.ports.sip, password="wrong")
    with pytest.raises(SippFailed):
        await impostor.register(timeout=10)


async def test_call_reaches_the_application_intact(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    with ari.subscribe("StasisStart", "PlaybackFinished", "ChannelDtmfReceived") as events:
        caller = await call(
            tmp_path,
            sip_port=asterisk.ports.sip,
            source_port=asterisk.ports.carrier,
            dialled="12345",
            wait_ms=3000,
            then="press",
            digit="5",
            max_presses=10,
            extra_header="Diversion: <sip:85098110@192.0.2.10>;reason=unconditional",
        )
        try:
            start = await events.wait_for(lambda e: isinstance(e, StasisStart), timeout=10)
            assert isinstance(start, StasisStart)
            # The dialplan passes the number the call was forwarded from.
            assert start.args == ("inbound", "12345", "85098110")
            channel = start.channel
            assert channel.caller.name == CALLER_NAME
            assert channel.caller.number == CALLER_NUMBER
            assert channel.name.startswith("PJSIP/carrier-")
            assert channel.dialplan.context == "hotline-inbound"
            # A call forwarded by a department's carrier keeps the old number.
            forwarded = await ari.channels.get_variable(channel.id, "REDIRECTING(from-num)")
            assert forwarded == "85098110"
            assert await ari.channels.get_variable(channel.id, "HOTLINE_DID") == "served"

            await ari.channels.answer(channel.id)
            playback = await ari.channels.play(channel.id, "sound:hotline/zh/goodbye")
            finished = await events.wait_for(
                lambda e: isinstance(e, PlaybackFinished) and e.playback.id == playback.id,
                timeout=15,
            )
            assert isinstance(finished, PlaybackFinished)
            assert finished.playback.state == "done"
            # The caller presses 5 by SIP INFO once a second after 3 s.
            digit = await events.wait_for(lambda e: isinstance(e, ChannelDtmfReceived), timeout=10)
            assert isinstance(digit, ChannelDtmfReceived)
            assert digit.digit == "5"
            assert digit.channel.id == channel.id

            await ari.channels.hangup(channel.id)
            await caller.expect_success(timeout=10)  # the caller saw the BYE
        finally:
            await caller.stop()


async def test_unknown_number_still_reaches_the_engine(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    with ari.subscribe("StasisStart") as events:
        caller = await call(
            tmp_path,
            sip_port=asterisk.ports.sip,
            source_port=asterisk.ports.carrier,
            dialled="66668888",
            wait_ms=10_000,
        )
        try:
            start = await events.wait_for(lambda e: isinstance(e, StasisStart), timeout=10)
            assert isinstance(start, StasisStart)
            assert start.args == ("inbound", "66668888", "")
            assert await ari.channels.get_variable(start.channel.id, "HOTLINE_DID") == "unknown"
            await ari.channels.answer(start.channel.id)
            await ari.channels.hangup(start.channel.id)
            await caller.expect_success(timeout=10)
        finally:
            await caller.stop()
