"""pbxsim's AMI server over real TCP: login, actions, events, UTF-8, split writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.loadsupport import manager_eventfilters
from pbxsim import CallerScript, PhoneScript, RemoteScript
from tests.support.sim import AmiProbe, AriProbe, default_config, running_sim

pytestmark = pytest.mark.bridge

REPO = Path(__file__).resolve().parents[1]


async def test_banner_login_fullybooted_ping_logoff() -> None:
    async with running_sim() as sim:
        ami = await AmiProbe.open(sim)
        assert ami.banner == "Asterisk Call Manager/11.0.0\r\n"
        await ami.send("Ping", ActionID="0")
        assert await ami.frame() == {
            "Response": "Error",
            "ActionID": "0",
            "Message": "Permission denied",
        }
        assert await ami.login() == {
            "Response": "Success",
            "ActionID": "1",
            "Message": "Authentication accepted",
        }
        booted = await ami.frame()
        assert booted["Event"] == "FullyBooted" and booted["Privilege"] == "system,all"
        assert booted["Status"] == "Fully Booted" and booted["Uptime"].isdigit()
        assert (await ami.frame())["Event"] == "SuccessfulAuth"
        await ami.send("Ping", ActionID="4")
        pong = await ami.frame()
        assert (pong["Response"], pong["ActionID"], pong["Ping"]) == ("Success", "4", "Pong")
        assert float(pong["Timestamp"]) > 0
        await ami.send("NoSuchThing", ActionID="5")
        unknown = await ami.frame()
        assert unknown["Response"] == "Error" and "Invalid/unknown command" in unknown["Message"]
        await ami.send("Logoff", ActionID="9")
        assert await ami.frame() == {
            "Response": "Goodbye",
            "ActionID": "9",
            "Message": "Thanks for all the fish.",
        }
        assert await ami.closed()
        await ami.close()


async def test_wrong_secret_is_refused_and_the_connection_closed() -> None:
    async with running_sim() as sim:
        ami = await AmiProbe.open(sim)
        reply = await ami.login(secret="wrong")
        assert reply == {"Response": "Error", "ActionID": "1", "Message": "Authentication failed"}
        assert await ami.closed()
        await ami.close()


async def test_pjsip_show_contacts_both_ways_and_registration_events() -> None:
    phones = (PhoneScript("8002", registered=False),)
    async with running_sim(phones=phones) as sim:
        ami = await AmiProbe.open(sim)
        await ami.login()
        await ami.until(lambda f: f.get("Event") == "SuccessfulAuth")
        await ami.send("PJSIPShowContacts", ActionID="2")
        empty = await ami.frame()
        assert (empty["Response"], empty["Message"]) == ("Error", "No Contacts found\n")
        sim.register_phone("8002")
        peer = await ami.frame()
        assert (peer["Event"], peer["Peer"], peer["PeerStatus"]) == (
            "PeerStatus",
            "PJSIP/8002",
            "Reachable",
        )
        state = await ami.frame()
        assert (state["Event"], state["Device"], state["State"]) == (
            "DeviceStateChange",
            "PJSIP/8002",
            "NOT_INUSE",
        )
        contact = await ami.frame()
        assert (contact["Event"], contact["ContactStatus"], contact["AOR"]) == (
            "ContactStatus",
            "NonQualified",
            "8002",
        )
        await ami.send("PJSIPShowContacts", ActionID="3")
        listing = [await ami.frame() for _ in range(3)]
        assert listing[0]["EventList"] == "start"
        assert (listing[1]["Event"], listing[1]["Endpoint"]) == ("ContactList", "8002")
        assert (listing[2]["Event"], listing[2]["ListItems"]) == ("ContactListComplete", "1")
        sim.set_phone_busy_outside("8002")
        busy = await ami.frame()
        assert (busy["Device"], busy["State"]) == ("PJSIP/8002", "INUSE")
        await ami.close()


async def test_call_events_keep_chinese_names_and_core_show_channels() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        ami = await AmiProbe.open(sim)
        await ami.login()
        await ami.until(lambda f: f.get("Event") == "SuccessfulAuth")
        call = sim.place_call(CallerScript(number="13800138000", name="张三市民"))
        new = await ami.until(lambda f: f.get("Event") == "Newchannel")
        assert new["CallerIDName"] == "张三市民" and new["CallerIDNum"] == "13800138000"
        assert new["ChannelStateDesc"] == "Ring" and new["Exten"] == "12345"
        assert new["Privilege"] == "call,all"
        start = await ari.event("StasisStart")
        assert new["Uniqueid"] == start["channel"]["id"]
        await ami.send("CoreShowChannels", ActionID="7")
        head = await ami.until(lambda f: f.get("ActionID") == "7")
        assert head["EventList"] == "start"
        row = await ami.frame()
        assert (row["Event"], row["Uniqueid"], row["Application"]) == (
            "CoreShowChannel",
            start["channel"]["id"],
            "Stasis",
        )
        assert row["ApplicationData"] == "hotline,inbound,12345,"
        done = await ami.frame()
        assert (done["Event"], done["ListItems"]) == ("CoreShowChannelsComplete", "1")
        sim.hangup_call(call)
        hangup = await ami.until(lambda f: f.get("Event") == "Hangup")
        assert (hangup["Cause"], hangup["Cause-txt"]) == ("16", "Normal Clearing")
        assert hangup["CallerIDName"] == "张三市民"
        await ami.close()


async def test_originate_async_reports_originate_response_with_its_action_id() -> None:
    phones = (PhoneScript("8001", answer_after=0.3), PhoneScript("8004", reject=True))
    async with running_sim(phones=phones) as sim, AriProbe(sim) as ari:
        ami = await AmiProbe.open(sim)
        await ami.login()
        await ami.until(lambda f: f.get("Event") == "SuccessfulAuth")
        await ami.send(
            "Originate",
            ActionID="orig-1",
            Channel="PJSIP/8001",
            Application="Stasis",
            Data="hotline,agent",
            CallerID='"12345" <12345>',
            Async="true",
            Timeout="15000",
        )
        queued = await ami.until(lambda f: f.get("ActionID") == "orig-1")
        assert (queued["Response"], queued["Message"]) == (
            "Success",
            "Originate successfully queued",
        )
        answered = await ami.until(lambda f: f.get("Event") == "OriginateResponse")
        assert (answered["ActionID"], answered["Response"], answered["Reason"]) == (
            "orig-1",
            "Success",
            "4",
        )
        start = await ari.event("StasisStart")
        assert start["args"] == ["agent"] and start["channel"]["id"] == answered["Uniqueid"]

        await ami.send(
            "Originate",
            ActionID="orig-2",
            Channel="PJSIP/8004",
            Exten="100",
            Context="default",
            Async="yes",
        )
        await ami.until(
            lambda f: f.get("ActionID") == "orig-2" and "Response" in f and "Event" not in f
        )
        failed = await ami.until(lambda f: f.get("Event") == "OriginateResponse")
        assert (failed["ActionID"], failed["Response"], failed["Reason"]) == (
            "orig-2",
            "Failure",
            "5",
        )

        await ami.send(
            "Originate", ActionID="orig-3", Channel="PJSIP/8001", Exten="100", Context="default"
        )
        sync = await ami.until(lambda f: f.get("ActionID") == "orig-3" and "Event" not in f)
        assert sync["Response"] == "Success"
        await ami.send("Originate", ActionID="orig-4", Channel="PJSIP/none", Exten="1")
        refused = await ami.until(lambda f: f.get("ActionID") == "orig-4")
        assert (refused["Response"], refused["Message"]) == ("Error", "Originate failed")
        await ami.close()


async def test_setvar_getvar_redirect() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        ami = await AmiProbe.open(sim)
        await ami.login()
        await ami.until(lambda f: f.get("Event") == "SuccessfulAuth")
        sim.place_call(CallerScript(number="13800138000"))
        start = await ari.event("StasisStart")
        name = start["channel"]["name"]
        await ami.send(
            "Setvar", ActionID="s", Channel=name, Variable="HOTLINE_CALL_ID", Value="c-9"
        )
        assert (await ami.until(lambda f: f.get("ActionID") == "s"))["Message"] == "Variable Set"
        varset = await ari.event("ChannelVarset", lambda e: e["variable"] == "HOTLINE_CALL_ID")
        assert varset["value"] == "c-9"
        await ami.send("Getvar", ActionID="g", Channel=name, Variable="HOTLINE_CALL_ID")
        got = await ami.until(lambda f: f.get("ActionID") == "g")
        assert (got["Response"], got["Value"]) == ("Success", "c-9")
        await ami.send("Getvar", ActionID="n", Channel="PJSIP/ghost-1", Variable="X")
        assert (await ami.until(lambda f: f.get("ActionID") == "n"))["Message"] == "No such channel"
        await ami.send(
            "Redirect", ActionID="r", Channel=name, Context="from-carrier", Exten="12319"
        )
        redirected = await ami.until(lambda f: f.get("ActionID") == "r")
        assert redirected["Message"] == "Redirect successful"
        await ari.event("StasisEnd")
        again = await ari.event("StasisStart", lambda e: e["args"] == ["inbound", "12319", ""])
        assert again["channel"]["id"] == start["channel"]["id"]
        await ami.close()


async def test_split_writes_cut_frames_inside_utf8_characters() -> None:
    remotes = (RemoteScript("12319", trunk="hotline-12319"),)
    async with running_sim(ami_split_writes=True, ami_split_pause=0.001, remotes=remotes) as sim:
        reader, writer = await asyncio.open_connection(sim.config.host, sim.ami_port)
        writer.write(
            b"Action: Login\r\nActionID: 1\r\nUsername: hotline\r\n"
            b"Secret: test-secret-not-for-production\r\n\r\n"
        )
        chunks: list[bytes] = []
        name = "张三市民".encode()

        def data() -> bytes:
            return b"".join(chunks)

        async with asyncio.timeout(5):
            while b"Authentication accepted" not in data():
                chunks.append(await reader.read(65536))
            sim.place_call(CallerScript(number="13800138000", name="张三市民"))
            while name not in data() or b"\r\n\r\n" not in data().split(name, 1)[1]:
                chunks.append(await reader.read(65536))
        writer.close()
        # Some chunk ends inside a multi-byte character: decoding chunks alone fails.
        broken = 0
        for chunk in chunks:
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                broken += 1
        whole = b"".join(chunks).decode("utf-8")
        assert "CallerIDName: 张三市民\r\n" in whole
        assert len(chunks) > 4
        assert broken > 0


async def test_eventfilter_lets_only_the_events_named_through_and_never_filters_answers() -> None:
    shipped = manager_eventfilters(REPO / "asterisk-conf" / "manager.conf", "hotline")
    assert shipped == [
        "Event: FullyBooted",
        "Event: ContactStatus",
        "Event: DeviceStateChange",
    ]
    phones = (PhoneScript("8002", registered=False),)
    async with (
        running_sim(phones=phones, ami_eventfilter=(*shipped, "!Device: PJSIP/8003")) as sim,
        AriProbe(sim) as ari,
    ):
        ami = await AmiProbe.open(sim)
        await ami.login()
        assert (await ami.frame())["Event"] == "FullyBooted"
        # Part of the login's answer here (Asterisk would not send it: no `security` read).
        assert (await ami.frame())["Event"] == "SuccessfulAuth"
        sim.register_phone("8002")  # PeerStatus is filtered out
        state = await ami.frame()
        assert (state["Event"], state["Device"]) == ("DeviceStateChange", "PJSIP/8002")
        assert (await ami.frame())["Event"] == "ContactStatus"
        # A call's channel events are filtered out; a list answer is not.
        sim.place_call(CallerScript(number="13800138000"))
        await ari.event("StasisStart")
        await ami.send("PJSIPShowContacts", ActionID="2")
        listing = [await ami.frame() for _ in range(3)]
        assert [f.get("Event") for f in listing] == [None, "ContactList", "ContactListComplete"]
        sim.set_phone_busy_outside("8002")
        busy = await ami.frame()
        assert (busy["Event"], busy["State"]) == ("DeviceStateChange", "INUSE")
        events = {f.get("Event") for f in ami.frames}
        assert not events & {"PeerStatus", "Newchannel", "Newstate", "VarSet", "Hangup"}
        await ami.close()


def test_an_eventfilter_that_is_not_a_regular_expression_is_refused() -> None:
    with pytest.raises(ValueError, match="ami_eventfilter"):
        default_config(ami_eventfilter=("Event: (",))
