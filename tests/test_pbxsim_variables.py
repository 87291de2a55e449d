"""Channel variables as Asterisk 22.10 shows and sets them.

``ari.conf`` ``channelvars`` appear in every channel's JSON (functions read,
unset ones empty); a variable set with ``report_events`` joins them for that
channel; ``POST /channels/{id}/variables`` sets several at once, each a string
or ``{"value": ..., "report_events": ...}``; names are trimmed where
``resource_channels.c`` trims them (``ast_strip``).  The recorded side is
``channelvars_and_stasis_args`` (replayed in test_pbxsim_transcripts.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim import CallerScript, PbxSim
from tests.support.sim import AriProbe, running_sim
from tests.support.swagger import validate_model

pytestmark = pytest.mark.fidelity

CHANNELVARS = ("HOTLINE_CALL_ID", "REDIRECTING(from-num)")


async def arrived(sim: PbxSim, ari: AriProbe, **script: object) -> dict[str, object]:
    sim.place_call(CallerScript(number="13800138000", **script))  # type: ignore[arg-type]
    start = await ari.event("StasisStart")
    return start


async def test_channelvars_are_in_every_channel() -> None:
    async with running_sim(channelvars=CHANNELVARS) as sim, AriProbe(sim) as ari:
        start = await arrived(sim, ari, redirecting_from="85098110")
        channel = start["channel"]
        assert isinstance(channel, dict)
        assert channel["channelvars"] == {
            "HOTLINE_CALL_ID": "",
            "REDIRECTING(from-num)": "85098110",
        }
        assert channel["caller_rdnis"] == "85098110"
        ident = channel["id"]
        reply = await ari.request(
            "POST", f"/channels/{ident}/variable", variable="HOTLINE_CALL_ID", value="c-1"
        )
        assert reply.status == 204
        varset = await ari.event("ChannelVarset", lambda e: e["variable"] == "HOTLINE_CALL_ID")
        assert varset["channel"]["channelvars"]["HOTLINE_CALL_ID"] == "c-1"
        got = await ari.request("GET", f"/channels/{ident}")
        assert got.body["channelvars"]["HOTLINE_CALL_ID"] == "c-1"
        # An originated leg shows them from its first answer on, unset as "".
        leg = await ari.request("POST", "/channels", endpoint="PJSIP/8001", app="hotline")
        assert leg.body["channelvars"] == {"HOTLINE_CALL_ID": "", "REDIRECTING(from-num)": ""}
        for event in ari.events:
            assert validate_model("Message", event) == []
            if "channel" in event:
                assert set(event["channel"]["channelvars"]) == set(CHANNELVARS)


async def test_without_channelvars_the_field_is_absent() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        start = await arrived(sim, ari)
        channel = start["channel"]
        assert isinstance(channel, dict)
        assert "channelvars" not in channel and "caller_rdnis" not in channel


async def test_report_events_adds_a_variable_to_the_events() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        start = await arrived(sim, ari)
        ident = start["channel"]["id"]  # type: ignore[index]
        path = f"/channels/{ident}/variable"
        reply = await ari.request(
            "POST", path, variable="CALL_STATE", value="queued", report_events="true"
        )
        assert reply.status == 204
        varset = await ari.event("ChannelVarset", lambda e: e["variable"] == "CALL_STATE")
        assert varset["channel"]["channelvars"] == {"CALL_STATE": "queued"}
        await ari.request("POST", f"/channels/{ident}/answer")
        state = await ari.event("ChannelStateChange")
        assert state["channel"]["channelvars"] == {"CALL_STATE": "queued"}
        # Set again without report_events: it leaves the events.
        await ari.request("POST", path, variable="CALL_STATE", value="bridged")
        again = await ari.event(
            "ChannelVarset", lambda e: e["variable"] == "CALL_STATE" and e["value"] == "bridged"
        )
        assert "channelvars" not in again["channel"]


async def test_several_variables_in_one_request() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        start = await arrived(sim, ari)
        ident = start["channel"]["id"]  # type: ignore[index]
        path = f"/channels/{ident}/variables"
        body = {
            "variables": {
                " HOTLINE_CALL_ID ": "c-7",
                "CALL_STATE": {"value": "queued", "report_events": True},
                "CALLERID(name)": "张三",
            }
        }
        reply = await ari.request("POST", path, json=body)
        assert reply.status == 204
        varset = await ari.event("ChannelVarset", lambda e: e["variable"] == "CALL_STATE")
        assert varset["channel"]["channelvars"] == {"CALL_STATE": "queued"}
        named = await ari.event("ChannelVarset", lambda e: e["variable"] == "HOTLINE_CALL_ID")
        assert named["value"] == "c-7"  # the name trimmed
        read = await ari.request(
            "GET", path, variables=" HOTLINE_CALL_ID , CALL_STATE,CALLERID(name)"
        )
        assert read.body == {
            "variables": {
                "HOTLINE_CALL_ID": "c-7",
                "CALL_STATE": "queued",
                "CALLERID(name)": "张三",
            }
        }

        async def refused(payload: object) -> tuple[int, str]:
            answer = await ari.request("POST", path, json=payload)
            return answer.status, answer.body["message"]

        assert await refused({}) == (400, "The 'variables' field is required")
        assert await refused({"variables": "x"}) == (
            400,
            "The 'variables' field must be a JSON object",
        )
        assert await refused({"variables": {"A": 1}}) == (
            400,
            "Each value in 'variables' must be a string or an object with 'value' and"
            " optional 'report_events'",
        )
        assert await refused({"variables": {"A": {"report_events": True}}}) == (
            400,
            "Each object value in 'variables' must include string field 'value'",
        )
        assert await refused({"variables": {"A": {"value": "v", "report_events": "yes"}}}) == (
            400,
            "Field 'report_events' in 'variables' entries must be boolean",
        )
        blank = await ari.request("GET", path, variables=" ,HOTLINE_CALL_ID")
        assert (blank.status, blank.body) == (400, {"message": "Variable names are required"})
        ghost = await ari.request("POST", "/channels/ghost/variables", json=body)
        assert (ghost.status, ghost.body) == (404, {"message": "Provided channel was not found"})


async def test_originate_variables_with_report_events() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        body = {
            "endpoint": "PJSIP/8001",
            "app": "hotline",
            "variables": {
                "HOTLINE_CALL_ID": {"value": "c-9", "report_events": True},
                "PLAIN": "x",
            },
        }
        reply = await ari.request("POST", "/channels", json=body)
        assert reply.status == 200
        assert reply.body["channelvars"] == {"HOTLINE_CALL_ID": "c-9"}
        start = await ari.event("StasisStart")
        assert start["channel"]["channelvars"] == {"HOTLINE_CALL_ID": "c-9"}
        assert sim.world.channels[reply.body["id"]].variables["PLAIN"] == "x"


async def test_created_channel_reports_its_variables_to_the_end(tmp_path: Path) -> None:
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text("[probe]\nexten => s,1,Wait(60)\n", encoding="utf-8")
    async with running_sim(dialplan=dialplan) as sim, AriProbe(sim) as ari:
        body = {"variables": {"CALL_STATE": {"value": "created", "report_events": True}}}
        reply = await ari.request(
            "POST",
            "/channels/create",
            endpoint="Local/s@probe",
            app="hotline",
            channelId="c-1",
            json=body,
        )
        assert reply.status == 200
        assert reply.body["channelvars"] == {"CALL_STATE": "created"}
        await ari.event("StasisStart")
        several = {
            "variables": {
                "ONE": "1",
                "TWO ": {"value": "2", "report_events": True},
                " THREE": "3",
            }
        }
        assert (await ari.request("POST", "/channels/c-1/variables", json=several)).status == 204
        read = await ari.request("GET", "/channels/c-1/variables", variables=" ONE, TWO ,THREE")
        assert read.body == {"variables": {"ONE": "1", "TWO": "2", "THREE": "3"}}
        assert (await ari.request("DELETE", "/channels/c-1")).status == 204
        end = await ari.event("StasisEnd")
        assert end["channel"]["channelvars"] == {"CALL_STATE": "created", "TWO": "2"}
