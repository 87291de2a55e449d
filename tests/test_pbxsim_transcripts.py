"""Each recorded Asterisk session replayed against pbxsim: same statuses, same events.

The three bridged-call transcripts with a supervisor, a consultee and a
holding bridge were recorded one after the other against one Asterisk, and
depend on each other (the bridge ``br-1`` created in ``supervisor_snoop``
outlives it, so ``threeway_consultee_agent_leaves`` gets ``409`` for it, and
its consultee is still in it in ``holding_bridge_then_agent``).  They are
replayed in that order against one simulator.

``engine_ws_drop_and_return`` is replayed only partly: Asterisk's recording
has no events between the answer of the caller and the closing of the socket
(the answer's ``ChannelStateChange``, both ``ChannelEnteredBridge``, the peer
variables), although the socket was open; pbxsim's events of that window are
left out of the comparison.  Everything after the reconnection is compared.

AMI frames of ``ami_agent_register_unregister`` are compared field by field.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pbxsim import PhoneScript, RemoteScript
from tests.support.replay import Replayer, load_transcript, recorded_dialplan
from tests.support.sim import AmiProbe, running_sim

pytestmark = pytest.mark.bridge

SCALE = 0.05
DURATIONS = {"sound:hello-world": 1.4, "sound:vm-goodbye": 0.86}


def agent(**behaviour: Any) -> tuple[PhoneScript, ...]:
    """The agent phone 8001 of the recordings: a static contact, answering unless told."""
    phone = PhoneScript("8001", static_contact=True, registered=False, answer_after=0.05)
    return (replace(phone, **behaviour),)


async def replay(
    name: str,
    *,
    gap_after_request: int | None = None,
    storage_broken: bool = False,
    **world: object,
) -> list[str]:
    async with running_sim(
        time_scale=SCALE, sound_durations=DURATIONS, dialplan=recorded_dialplan(), **world
    ) as sim:
        sim.set_recording_storage_broken(storage_broken)
        result = await Replayer(sim, name, gap_after_request=gap_after_request).run()
        assert result.statuses, "nothing replayed"
        return result.mismatches()


async def test_inbound_answer_bridge_record() -> None:
    assert await replay("inbound_answer_bridge_record", phones=agent()) == []


async def test_agent_no_answer_times_out_without_stasis_start() -> None:
    problems = await replay("agent_no_answer", phones=agent(ring=False, answer_after=None))
    assert problems == []


async def test_record_directory_missing_answers_500() -> None:
    problems = await replay("record_dir_missing_500", phones=agent(), storage_broken=True)
    assert problems == []


async def test_caller_abandons_while_agent_rings() -> None:
    problems = await replay("caller_abandons_while_agent_rings", phones=agent(answer_after=None))
    assert problems == []


async def test_agent_busy_486() -> None:
    assert await replay("agent_busy_486", phones=agent(reject=True)) == []


async def test_engine_ws_drop_and_return() -> None:
    # Requests 0..2 are the variable, the originate and the caller's answer.
    problems = await replay("engine_ws_drop_and_return", phones=agent(), gap_after_request=2)
    assert problems == []


async def test_snoop_threeway_holding_series() -> None:
    remotes = (RemoteScript("12319", trunk="hotline-12319", answer_after=0.05),)
    async with running_sim(
        time_scale=SCALE, phones=agent(), remotes=remotes, dialplan=recorded_dialplan()
    ) as sim:
        for name in (
            "supervisor_snoop",
            "threeway_consultee_agent_leaves",
            "holding_bridge_then_agent",
        ):
            result = await Replayer(sim, name).run()
            assert result.statuses, name
            assert result.mismatches() == [], name


def _ami_frames(name: str) -> list[dict[str, str]]:
    frames = []
    for entry in load_transcript(name):
        if entry["dir"] == "ami-in" and entry["raw"].startswith(("Event", "Response")):
            lines = entry["raw"].removesuffix("\r\n\r\n").split("\r\n")
            frames.append(
                dict(
                    line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                    for line in lines
                )
            )
    return frames


async def test_ami_agent_register_unregister() -> None:
    recorded = _ami_frames("ami_agent_register_unregister")
    phones = (
        *agent(),
        PhoneScript("8002", registered=False, contact_host="127.0.0.2", contact_port=5090),
    )
    async with running_sim(phones=phones, dialplan=recorded_dialplan()) as sim:
        ami = await AmiProbe.open(sim)
        try:
            assert ami.banner == "Asterisk Call Manager/11.0.0\r\n"
            login = await ami.login()
            booted = await ami.frame()
            auth = await ami.frame()
            assert login == recorded[0]
            assert booted.keys() == recorded[1].keys()
            assert (booted["Event"], booted["Status"]) == ("FullyBooted", "Fully Booted")
            assert auth.keys() == recorded[2].keys()

            await ami.send("PJSIPShowContacts", ActionID="2")
            assert await ami.frame() == recorded[3]  # Error, "No Contacts found\n"

            sim.register_phone("8002")
            registered = [await ami.frame() for _ in range(3)]
            assert registered == recorded[4:7]

            await ami.send("PJSIPShowContacts", ActionID="3")
            listing = [await ami.frame() for _ in range(3)]
            assert [f.keys() for f in listing] == [f.keys() for f in recorded[7:10]]
            assert listing[0] == recorded[7]
            assert listing[1]["Uri"] == recorded[8]["Uri"]
            assert listing[2] == recorded[9]

            await ami.send("DeviceStateList", ActionID="4")
            devices = [await ami.frame()]
            while devices[-1].get("Event") != "DeviceStateListComplete":
                devices.append(await ami.frame())
            assert devices[0] == recorded[10]
            states = {f["Device"]: f["State"] for f in devices[1:-1]}
            recorded_states = {f["Device"]: f["State"] for f in recorded[11:17]}
            for device in ("PJSIP/carrier", "PJSIP/8001", "PJSIP/8002"):
                assert states[device] == recorded_states[device]
            assert devices[-1]["ListItems"] == str(len(devices) - 2)

            sim.unregister_phone("8002")
            unregistered = [await ami.frame() for _ in range(3)]
            assert unregistered == recorded[18:21]
        finally:
            await ami.close()


async def test_replay_notices_a_different_asterisk() -> None:
    """The comparison has teeth: a phone that rings for ever where the recording shows an
    answer stalls the replay, and an extra event shows as a mismatch."""
    with pytest.raises(AssertionError, match="inbound_answer_bridge_record: 13 events"):
        async with running_sim(
            time_scale=SCALE, phones=agent(answer_after=None), dialplan=recorded_dialplan()
        ) as sim:
            await Replayer(sim, "inbound_answer_bridge_record", timeout=3.0).run()
    async with running_sim(time_scale=SCALE, phones=agent(), dialplan=recorded_dialplan()) as sim:
        result = await Replayer(sim, "agent_busy_486", timeout=3.0).run()
        problems = result.mismatches()
        assert any("('dial', 'agent-1')" in p and "ANSWER" in p for p in problems)
        assert any("event types differ" in p for p in problems)


# -- recorded on 2026-12-06: Local channels into the probe dialplan ------------------

PROBE_DIALPLAN = Path(__file__).resolve().parent / "fixtures" / "asterisk" / "probe-extensions.conf"
PROBE_SCALE = 0.2  # the probe dialplan's waits (1 s, 2 s, 30 s) must outlast the replay's steps


async def replay_probe(name: str, scale: float = PROBE_SCALE, **world: object) -> list[str]:
    async with running_sim(time_scale=scale, dialplan=PROBE_DIALPLAN, **world) as sim:
        result = await Replayer(sim, name).run()
        assert result.statuses, "nothing replayed"
        return result.mismatches()


@pytest.mark.fidelity
async def test_create_then_dial_answer_busy_timeout() -> None:
    assert await replay_probe("create_then_dial_answer_busy_timeout") == []


@pytest.mark.fidelity
async def test_continue_back_to_dialplan() -> None:
    assert await replay_probe("continue_back_to_dialplan") == []


@pytest.mark.fidelity
async def test_channelvars_and_stasis_args() -> None:
    channelvars = ("HOTLINE_CALL_ID", "REDIRECTING(from-num)")
    assert await replay_probe("channelvars_and_stasis_args", channelvars=channelvars) == []


@pytest.mark.fidelity
async def test_application_replaced() -> None:
    assert await replay_probe("application_replaced") == []


@pytest.mark.fidelity
async def test_playback_list_pause_unpause() -> None:
    durations = {"sound:hotline/zh/goodbye": 2.73, "sound:hotline/zh/transfer-to-agent": 3.34}
    # The pause must come while the second sound plays: a slower clock keeps it
    # playing long enough for a loaded machine.
    assert (
        await replay_probe("playback_list_pause_unpause", scale=0.5, sound_durations=durations)
        == []
    )
