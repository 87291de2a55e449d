"""Fault injection: cut sockets, injected HTTP errors, broken storage, an Asterisk restart."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from pbxsim import CallerScript, PbxSim
from tests.support.sim import AmiProbe, AriProbe, basic_auth, running_sim

pytestmark = pytest.mark.bridge


async def bridged_call(sim: PbxSim, ari: AriProbe) -> tuple[str, str]:
    """A caller and an agent leg in mixing bridge ``br-1``; returns their channel ids."""
    sim.place_call(CallerScript(number="13800138000", name="张三市民"))
    caller = (await ari.event("StasisStart"))["channel"]["id"]
    await ari.request(
        "POST", f"/channels/{caller}/variable", variable="HOTLINE_CALL_ID", value="c-1"
    )
    await ari.request("POST", f"/channels/{caller}/answer")
    await ari.request(
        "POST",
        "/channels",
        endpoint="PJSIP/8001",
        app="hotline",
        appArgs="agent",
        channelId="agent-1",
    )
    await ari.event("StasisStart", lambda e: e["channel"]["id"] == "agent-1")
    await ari.request("POST", "/bridges", type="mixing", bridgeId="br-1")
    await ari.request("POST", "/bridges/br-1/addChannel", channel=f"{caller},agent-1")
    await ari.event("ChannelEnteredBridge", lambda e: len(e["bridge"]["channels"]) == 2)
    return caller, "agent-1"


async def test_websocket_drop_keeps_calls_and_events_resume() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        caller, agent = await bridged_call(sim, ari)
        await sim.drop_ari_websockets(refuse_for=3.0)
        await ari.wait_until(lambda: ari.ws is not None and ari.ws.closed, 2.0, "socket closed")
        await ari.disconnect()
        assert sim.connected_apps == set()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await ari.connect()
        assert refused.value.status == 503
        # While nobody listens, the call lives on, in the application and in its bridge.
        app = await ari.request("GET", "/applications/hotline")
        assert set(app.body["channel_ids"]) == {caller, agent}
        assert app.body["bridge_ids"] == ["br-1"]
        bridge = await ari.request("GET", "/bridges/br-1")
        assert sorted(bridge.body["channels"]) == sorted([caller, agent])
        var = await ari.request("GET", f"/channels/{caller}/variable", variable="HOTLINE_CALL_ID")
        assert var.body == {"value": "c-1"}
        await sim.wait_for(lambda: asyncio.get_running_loop().time() > sim._refuse_ws_until, 5.0)
        await ari.connect()
        mark = len(ari.events)
        await ari.request("DELETE", f"/channels/{agent}")
        destroyed = await ari.event("ChannelDestroyed", start=mark)
        assert destroyed["channel"]["id"] == agent


async def test_events_of_a_closed_socket_are_dropped_not_queued() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        sim.place_call(CallerScript(number="13800138000"))
        caller = (await ari.event("StasisStart"))["channel"]["id"]
        await ari.disconnect()
        await sim.wait_for(lambda: not sim.connected_apps, 2.0)
        await ari.request("POST", f"/channels/{caller}/variable", variable="X", value="1")
        await ari.connect()
        mark = len(ari.events)
        await ari.request("POST", f"/channels/{caller}/variable", variable="Y", value="2")
        event = await ari.event("ChannelVarset", start=mark)
        assert event["variable"] == "Y"
        assert not [e for e in ari.events if e.get("variable") == "X"]


async def test_injected_http_errors_then_normal_service() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        sim.fail_requests("POST", r"^/bridges/[^/]+/record$", status=500, times=2)
        sim.fail_requests(None, r"^/asterisk/ping$", status=503, times=1, body={"message": "busy"})
        await ari.request("POST", "/bridges", bridgeId="b")
        for _ in range(2):
            failed = await ari.request("POST", "/bridges/b/record", name="r", format="wav")
            assert (failed.status, failed.body) == (500, {"message": "Internal Server Error"})
        ok = await ari.request("POST", "/bridges/b/record", name="r", format="wav")
        assert ok.status == 201
        ping = await ari.request("GET", "/asterisk/ping")
        assert (ping.status, ping.body) == (503, {"message": "busy"})
        assert (await ari.request("GET", "/asterisk/ping")).status == 200
        assert [r.status for r in sim.requests if r.path.endswith("/record")] == [500, 500, 201]


async def test_broken_recording_storage_answers_500_like_the_transcript() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        caller, _ = await bridged_call(sim, ari)
        sim.set_recording_storage_broken()
        mark = len(ari.events)
        failed = await ari.request("POST", "/bridges/br-1/record", name="c-1", format="wav")
        assert (failed.status, failed.body) == (500, {"message": "Internal Server Error"})
        # The recorder joined and left: BRIDGEPEER lists it, then the peer again.
        peer = await ari.event(
            "ChannelVarset",
            lambda e: e["variable"] == "BRIDGEPEER" and e["value"].startswith("Recorder/"),
            start=mark,
        )
        assert peer["channel"]["id"] in (caller, "agent-1")
        stop = await ari.request("POST", "/recordings/live/c-1/stop")
        assert (stop.status, stop.body) == (404, {"message": "Recording not found"})


async def test_ami_drop_and_reconnect() -> None:
    async with running_sim() as sim:
        ami = await AmiProbe.open(sim)
        await ami.login()
        await sim.drop_ami_connections()
        assert await ami.closed()
        await ami.close()
        again = await AmiProbe.open(sim)
        assert (await again.login())["Response"] == "Success"
        assert (await again.frame())["Event"] == "FullyBooted"
        await again.close()


async def test_restart_like_asterisk() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        await bridged_call(sim, ari)
        ami = await AmiProbe.open(sim)
        await ami.login()
        ari_port, ami_port = sim.ari_port, sim.ami_port
        restart = asyncio.get_running_loop().create_task(sim.restart(down_for=3.0))
        await ari.wait_until(lambda: ari.ws is not None and ari.ws.closed, 2.0, "socket closed")
        assert await ami.closed()
        await ami.close()
        # Down: connections are refused on both ports.
        await sim.wait_for(lambda: sim._down and sim._site is None, 2.0)
        with pytest.raises(OSError):
            await asyncio.open_connection(sim.config.host, ami_port)
        async with aiohttp.ClientSession(headers=basic_auth()) as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.get(f"http://{sim.config.host}:{ari_port}/ari/channels")
        await asyncio.wait_for(restart, 8.0)
        # Back, on the same ports, with nothing left of the call.
        assert (sim.ari_port, sim.ami_port) == (ari_port, ami_port)
        await ari.disconnect()
        await ari.connect()
        assert (await ari.request("GET", "/channels")).body == []
        assert (await ari.request("GET", "/bridges")).body == []
        fresh = await AmiProbe.open(sim)
        await fresh.login()
        booted = await fresh.frame()
        assert booted["Event"] == "FullyBooted" and int(booted["Uptime"]) < 5
        await fresh.send("CoreShowChannels", ActionID="c")
        done = await fresh.until(lambda f: f.get("Event") == "CoreShowChannelsComplete")
        assert done["ListItems"] == "0"
        await fresh.close()
        # New calls work again.
        sim.place_call(CallerScript(number="13900139000"))
        start = await ari.event(
            "StasisStart", lambda e: e["channel"]["caller"]["number"] == "13900139000"
        )
        assert start["channel"]["id"].endswith(".0")
