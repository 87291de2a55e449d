"""Scripted peers and what pbxsim lets a test observe; the /sim control API."""

from __future__ import annotations

import json

import aiohttp
import pytest

from pbxsim import (
    CallerScript,
    DigitPress,
    PhoneScript,
    RemoteScript,
    Scenario,
    ScriptError,
    SimTimeout,
)
from pbxsim.scripts import from_dict, to_dict
from tests.support.sim import AmiProbe, AriProbe, basic_auth, running_sim

pytestmark = pytest.mark.bridge


def test_scripts_round_trip_through_their_dict_form() -> None:
    caller = CallerScript(
        number="13800138000",
        name="张三市民",
        redirecting_from="85098110",
        digits=(DigitPress(at=1.0, digits="1", on_media="sound:menu"),),
        hangup_after_bridged=30.0,
    )
    assert from_dict(CallerScript, json.loads(json.dumps(to_dict(caller)))) == caller
    phone = PhoneScript("8001", answer_after=2.0, hangup_after=60.0)
    assert from_dict(PhoneScript, to_dict(phone)) == phone
    scenario = Scenario(
        phones=(phone,),
        callers=(caller,),
        remotes=(RemoteScript("110", busy=True),),
        sound_durations={"x": 1.0},
    )
    assert Scenario.from_dict(json.loads(json.dumps(scenario.to_dict()))) == scenario


@pytest.mark.parametrize(
    "bad",
    [
        {"number": "1", "dialed": "12345"},
        {"number": ""},
        {"number": "1", "digits": [{"at": 1, "digits": "x"}]},
        {"number": "1", "redirecting_reason": "sometimes"},
    ],
)
def test_bad_caller_scripts_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ScriptError):
        from_dict(CallerScript, bad)


async def test_forwarded_call_shows_redirecting_and_digits_follow_the_script() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        call = sim.place_call(
            CallerScript(
                number="13800138000",
                name="张三市民",
                dialled="85098110",
                redirecting_from="85098110",
                digits=(
                    DigitPress(at=30.0, digits="12"),
                    DigitPress(at=0.1, digits="9", on_media="sound:menu"),
                ),
            )
        )
        start = await ari.event("StasisStart")
        caller = start["channel"]["id"]
        # The shipped dialplan passes the redirecting number as the last argument.
        assert start["args"] == ["inbound", "85098110", "85098110"]
        assert start["channel"]["caller"] == {"name": "张三市民", "number": "13800138000"}
        expected = {
            "REDIRECTING(from-num)": "85098110",
            "REDIRECTING(reason)": "cfu",
            "REDIRECTING(orig-num)": "",
            "CALLERID(num)": "13800138000",
        }
        for name, value in expected.items():
            reply = await ari.request("GET", f"/channels/{caller}/variable", variable=name)
            assert reply.body == {"value": value}, name
        assert not [e for e in ari.events if e["type"] == "ChannelDtmfReceived"]
        await ari.request("POST", f"/channels/{caller}/answer")
        await ari.request("POST", f"/channels/{caller}/play", media="sound:menu")
        digits = [(await ari.event("ChannelDtmfReceived", start=i))["digit"] for i in range(1)]
        await sim.wait_for(lambda: len(sim.call_log(call).dtmf_received) == 3, 2.0)
        assert digits == ["9"]
        assert sim.call_log(call).dtmf_received == ["9", "1", "2"]
        assert ("media", "sound:menu") in sim.call_log(call).heard


async def test_caller_hangs_up_after_the_bridge_and_phones_hang_up_after_answer() -> None:
    phones = (PhoneScript("8001", answer_after=0.2, hangup_after=100.0),)
    async with running_sim(phones=phones) as sim, AriProbe(sim) as ari:
        call = sim.place_call(CallerScript(number="13800138000", hangup_after_bridged=2.0))
        caller = (await ari.event("StasisStart"))["channel"]["id"]
        await ari.request("POST", f"/channels/{caller}/answer")
        await ari.request("POST", "/channels", endpoint="PJSIP/8001", app="hotline", channelId="a1")
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == "a1")
        await ari.request("POST", "/bridges", bridgeId="b")
        await ari.request("POST", "/bridges/b/addChannel", channel=f"{caller},a1")
        request = await ari.event("ChannelHangupRequest")
        assert request["channel"]["id"] == caller and "cause" not in request
        assert sim.call_log(call).hangup_by == "remote"
        # The agent's own timer (100 s from answer) has not fired yet.
        assert "a1" in sim.world.channels


async def test_phone_behaviours_busy_unregistered_busy_outside() -> None:
    phones = (
        PhoneScript("8001", reject=True),
        PhoneScript("8002", registered=False),
        PhoneScript("8003", answer_after=0.1),
    )
    async with running_sim(phones=phones) as sim, AriProbe(sim) as ari:
        busy = await ari.request("POST", "/channels", endpoint="PJSIP/8001", app="hotline")
        destroyed = await ari.event("ChannelDestroyed")
        assert destroyed["channel"]["id"] == busy.body["id"]
        assert (destroyed["cause"], destroyed["tech_cause"]) == (17, 486)
        assert not [e for e in ari.events if e["type"] == "StasisStart"]
        absent = await ari.request("POST", "/channels", endpoint="PJSIP/8002", app="hotline")
        assert absent.status == 500
        endpoint = await ari.request("GET", "/endpoints/PJSIP/8002")
        assert endpoint.body["state"] == "offline"
        sim.set_phone_busy_outside("8003")
        refused = await ari.request("POST", "/channels", endpoint="PJSIP/8003", app="hotline")
        await ari.event(
            "Dial", lambda e: e["peer"]["id"] == refused.body["id"] and e["dialstatus"] == "BUSY"
        )
        sim.set_phone_busy_outside("8003", False)
        taken = await ari.request(
            "POST", "/channels", endpoint="PJSIP/8003", app="hotline", appArgs="agent"
        )
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == taken.body["id"])
        assert sim.hangup_phone("8003") == 1
        gone = await ari.event("ChannelDestroyed", lambda e: e["channel"]["id"] == taken.body["id"])
        assert gone["cause"] == 16
        assert [log.answered for log in sim.phone_logs("8003")] == [False, True]


async def test_remote_parties_behind_trunks() -> None:
    remotes = (
        RemoteScript("12319", trunk="hotline-12319", answer_after=0.1),
        RemoteScript("110", trunk="hotline-12319", busy=True),
    )
    async with running_sim(remotes=remotes) as sim, AriProbe(sim) as ari:
        leg = await ari.request(
            "POST",
            "/channels",
            endpoint="PJSIP/12319@hotline-12319",
            app="hotline",
            appArgs="consultee",
            callerId="12345",
        )
        assert leg.body["name"].startswith("PJSIP/hotline-12319-")
        assert leg.body["caller"] == {"name": "", "number": "12345"}
        start = await ari.event("StasisStart")
        assert start["args"] == ["consultee"]
        dial = [e for e in ari.events if e["type"] == "Dial"]
        assert [d["dialstring"] for d in dial] == ["12319@hotline-12319"] * 3
        busy = await ari.request(
            "POST", "/channels", endpoint="PJSIP/110@hotline-12319", app="hotline"
        )
        await ari.event("ChannelDestroyed", lambda e: e["channel"]["id"] == busy.body["id"])
        unknown = await ari.request("POST", "/channels", endpoint="PJSIP/1@nowhere", app="hotline")
        assert unknown.status == 500


async def test_no_answer_times_out_with_cause_19() -> None:
    async with (
        running_sim(phones=(PhoneScript("8001", answer_after=None),)) as sim,
        AriProbe(sim) as ari,
    ):
        leg = await ari.request(
            "POST", "/channels", endpoint="PJSIP/8001", app="hotline", timeout="15"
        )
        destroyed = await ari.event("ChannelDestroyed")
        assert destroyed["channel"]["id"] == leg.body["id"]
        assert (destroyed["cause"], destroyed["cause_txt"], destroyed["tech_cause"]) == (
            19,
            "User alerting, no answer",
            480,
        )
        assert [e["type"] for e in ari.events] == [
            "Dial",
            "ChannelStateChange",
            "Dial",
            "ChannelDestroyed",
        ]


async def test_snoop_ends_with_its_target_and_logs_what_the_supervisor_heard() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        call = sim.place_call(CallerScript(number="13800138000"))
        caller = (await ari.event("StasisStart"))["channel"]["id"]
        await ari.request("POST", f"/channels/{caller}/answer")
        snoop = await ari.request(
            "POST", f"/channels/{caller}/snoop", spy="both", app="hotline", appArgs="snoop"
        )
        assert snoop.body["name"].startswith(f"Snoop/{caller}-")
        started = await ari.event("StasisStart", lambda e: e["args"] == ["snoop"])
        assert started["channel"]["id"] == snoop.body["id"]
        sim.hangup_call(call)
        end = await ari.event("StasisEnd", lambda e: e["channel"]["id"] == snoop.body["id"])
        assert end["channel"]["name"] == snoop.body["name"]
        assert sim.channel_log(snoop.body["id"]).heard[0][0] == "snoop"
        bad = await ari.request("POST", f"/channels/{caller}/snoop", app="hotline")
        assert bad.status == 404


async def test_wait_for_raises_at_its_deadline() -> None:
    async with running_sim() as sim:
        with pytest.raises(SimTimeout) as timeout:
            await sim.wait_for(lambda: False, 0.05, what="never")
        assert timeout.value.what == "never"


async def test_control_api_drives_the_simulator_from_outside() -> None:
    async with (
        running_sim() as sim,
        AriProbe(sim) as ari,
        aiohttp.ClientSession(headers=basic_auth()) as http,
    ):
        base = f"http://{sim.config.host}:{sim.ari_port}/sim"

        async def call(method: str, path: str, body: object = None) -> tuple[int, object]:
            async with http.request(method, base + path, json=body) as response:
                data = await response.json() if response.status == 200 else None
                return response.status, data

        status, placed = await call("POST", "/calls", {"number": "13800138000", "name": "张三市民"})
        assert status == 200
        start = await ari.event("StasisStart")
        assert start["channel"]["caller"]["name"] == "张三市民"
        assert (await call("PUT", "/phones/8009", {"answer_after": 0.1}))[0] == 204
        ami = await AmiProbe.open(sim)
        await ami.login()
        await ami.until(lambda f: f.get("Event") == "SuccessfulAuth")
        assert (await call("POST", "/phones/8009/unregister"))[0] == 204
        gone = await ami.until(lambda f: f.get("Event") == "ContactStatus")
        assert (gone["AOR"], gone["ContactStatus"]) == ("8009", "Removed")
        await ami.close()
        assert (
            await call(
                "POST", "/faults/http", {"method": "GET", "path": "^/channels$", "status": 500}
            )
        )[0] == 204
        assert (await ari.request("GET", "/channels")).status == 500
        assert (await call("POST", "/calls/" + placed["id"] + "/dtmf", {"digits": "5"}))[0] == 204
        status, state = await call("GET", "/state")
        assert status == 200 and len(state["channels"]) == 1 and state["apps"] == {"hotline": True}
        assert (await call("POST", "/calls/" + placed["id"] + "/hangup"))[1] == {"hung_up": True}
        await ari.event("StasisEnd")
        assert (await call("POST", "/calls", {"number": "1", "bogus": 1}))[0] == 400
        assert (await call("POST", "/phones/none/register"))[0] == 404
        status, requests = await call("GET", "/requests")
        assert [r["status"] for r in requests] == [500]
        status, log = await call("GET", f"/channels/{start['channel']['id']}/log")
        assert log["hangup_by"] == "remote"


async def test_without_history_nothing_accumulates() -> None:
    async with running_sim(keep_history=False) as sim, AriProbe(sim) as ari:
        sim.load_scenario({"callers": [{"number": "13800138000", "hangup_after": 1.0}]})
        caller = (await ari.event("StasisStart"))["channel"]["id"]
        await ari.request("GET", f"/channels/{caller}")
        await ari.event("StasisEnd")
        assert (sim.requests, sim.events, sim.ami_frames, sim.world.logs) == ([], [], [], {})
