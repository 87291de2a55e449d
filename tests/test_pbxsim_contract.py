"""pbxsim honours the ARI contract: every response and event validates, errors are Asterisk's.

One broad scenario exercises every resource pbxsim serves; every REST answer
is validated against the ``responseClass`` of its operation and every
WebSocket event against ``Message`` (so against its concrete event model).
"""

from __future__ import annotations

import aiohttp
import pytest

from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.support.sim import AriProbe, Exchange, basic_auth, running_sim
from tests.support.swagger import check_request, response_model, validate_model

pytestmark = pytest.mark.bridge


def validate(exchange: Exchange) -> list[str]:
    model = response_model(exchange.method, exchange.path)
    assert model is not None, f"{exchange.method} {exchange.path} is not in the Swagger files"
    if exchange.status >= 300:
        body = exchange.body
        return (
            []
            if isinstance(body, dict) and set(body) == {"message"}
            else [f"{exchange.method} {exchange.path}: error body {body!r}"]
        )
    if model in ("void", "binary"):
        return []
    return validate_model(model, exchange.body)


async def test_a_broad_scenario_validates_against_the_swagger_models() -> None:
    phones = (PhoneScript("8001", answer_after=0.2), PhoneScript("8003", answer_after=0.2))
    async with running_sim(phones=phones) as sim, AriProbe(sim) as ari:
        call = sim.place_call(
            CallerScript(
                number="13800138000",
                name="张三市民",
                redirecting_from="85098110",
                digits=(DigitPress(at=0.1, digits="12#"),),
            )
        )
        start = await ari.event("StasisStart")
        caller = start["channel"]["id"]
        r = ari.request
        await r("GET", "/asterisk/info")
        await r("GET", "/asterisk/info", only="build,system")
        await r("GET", "/asterisk/ping")
        await r("POST", "/asterisk/variable", variable="GLOBAL_X", value="1")
        await r("GET", "/asterisk/variable", variable="GLOBAL_X")
        await r("GET", "/applications")
        await r("GET", "/applications/hotline")
        await r("POST", "/applications/hotline/subscription", eventSource="endpoint:PJSIP/8003")
        await r("DELETE", "/applications/hotline/subscription", eventSource="endpoint:PJSIP/8003")
        await r("GET", "/endpoints")
        await r("GET", "/endpoints/PJSIP")
        await r("GET", "/endpoints/PJSIP/8001")
        await r("GET", "/deviceStates")
        await r("PUT", "/deviceStates/Stasis:queue-1", deviceState="INUSE")
        await r("GET", "/deviceStates/Stasis:queue-1")
        await r("DELETE", "/deviceStates/Stasis:queue-1")
        await r("POST", f"/channels/{caller}/variable", variable="HOTLINE_CALL_ID", value="c-1")
        for name in (
            "HOTLINE_CALL_ID",
            "REDIRECTING(from-num)",
            "REDIRECTING(reason)",
            "REDIRECTING(orig-num)",
            "CALLERID(num)",
            "CALLERID(name)",
        ):
            await r("GET", f"/channels/{caller}/variable", variable=name)
        await r("GET", f"/channels/{caller}/variables", variables="HOTLINE_CALL_ID,CALLERID(num)")
        await r("POST", f"/channels/{caller}/ring")
        await r("DELETE", f"/channels/{caller}/ring")
        await r("POST", f"/channels/{caller}/answer")
        first = await r("POST", f"/channels/{caller}/play", media="sound:hello-world,sound:press-1")
        await r("POST", f"/channels/{caller}/play/pb-x", media="sound:vm-goodbye")
        await r("GET", "/playbacks/pb-x")
        await ari.event("PlaybackStarted")
        await r("POST", f"/playbacks/{first.body['id']}/control", operation="restart")
        await r("DELETE", "/playbacks/pb-x")
        await ari.event("ChannelDtmfReceived", lambda e: e["digit"] == "#")
        await r("POST", f"/channels/{caller}/moh", mohClass="default")
        await r("DELETE", f"/channels/{caller}/moh")
        await r("POST", f"/channels/{caller}/hold")
        await r("DELETE", f"/channels/{caller}/hold")
        await r("POST", f"/channels/{caller}/mute", direction="in")
        await r("DELETE", f"/channels/{caller}/mute")
        await r("POST", f"/channels/{caller}/silence")
        await r("DELETE", f"/channels/{caller}/silence")
        await r("POST", f"/channels/{caller}/dtmf", dtmf="123")
        await r("POST", f"/channels/{caller}/record", name="greeting-1", format="wav")
        await ari.event("RecordingStarted")
        await r("GET", "/recordings/live/greeting-1")
        await r("POST", "/recordings/live/greeting-1/pause")
        await r("POST", "/recordings/live/greeting-1/stop")
        await r("POST", f"/channels/{caller}/record", name="scrap", format="wav")
        await r("DELETE", "/recordings/live/scrap")

        agent = await r(
            "POST",
            "/channels",
            endpoint="PJSIP/8001",
            app="hotline",
            appArgs="agent,c-1",
            callerId='"张三市民" <13800138000>',
            json={"variables": {"HOTLINE_CALL_ID": "c-1"}},
        )
        await r(
            "POST",
            "/channels/agent-x",
            endpoint="PJSIP/8003",
            app="hotline",
            appArgs="agent",
            timeout="30",
        )
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == agent.body["id"])
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == "agent-x")
        await r("GET", "/channels")
        await r("GET", f"/channels/{agent.body['id']}")
        await r("POST", "/bridges", type="mixing", name="call-c-1", bridgeId="br-1")
        await r("POST", "/bridges/hold-1", type="holding")
        await r("GET", "/bridges")
        await r("POST", "/bridges/br-1/addChannel", channel=f"{caller},{agent.body['id']}")
        await r("POST", "/bridges/hold-1/addChannel", channel="agent-x", role="participant")
        await r("POST", "/bridges/hold-1/moh", mohClass="default")
        await r("DELETE", "/bridges/hold-1/moh")
        await r("POST", "/bridges/br-1/play", media="sound:beep")
        await r("POST", "/bridges/br-1/play/pb-b", media="sound:beep")
        await r("POST", "/bridges/br-1/record", name="c-1", format="wav", ifExists="overwrite")
        await ari.event("RecordingStarted", lambda e: e["recording"]["name"] == "c-1")
        snoop = await r(
            "POST",
            f"/channels/{caller}/snoop",
            spy="both",
            app="hotline",
            appArgs="snoop",
            snoopId="snoop-1",
        )
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == "snoop-1")
        await r("POST", "/bridges/hold-1/removeChannel", channel="agent-x")
        await r("POST", "/bridges/br-1/addChannel", channel="agent-x")
        await r("GET", "/bridges/br-1")
        await r("POST", "/recordings/live/c-1/stop")
        await ari.event("RecordingFinished", lambda e: e["recording"]["name"] == "c-1")
        await r("GET", "/recordings/stored")
        await r("GET", "/recordings/stored/c-1")
        await r("POST", "/recordings/stored/c-1/copy", destinationRecordingName="c-1-copy")
        await r("GET", "/recordings/stored/c-1/file")
        await r("DELETE", "/recordings/stored/c-1-copy")
        await r("DELETE", "/channels/snoop-1")
        await r("DELETE", "/channels/agent-x", reason="busy")
        await r("DELETE", f"/channels/{agent.body['id']}", reason_code="16")
        await r("DELETE", "/bridges/hold-1")
        sim.hangup_call(call)
        await ari.event("StasisEnd", lambda e: e["channel"]["id"] == caller)
        await r("DELETE", "/bridges/br-1")
        assert snoop.status == 200

        problems = []
        for exchange in ari.exchanges:
            assert exchange.status < 300, exchange
            problems += check_request(exchange.method, exchange.path, exchange.params)
            problems += validate(exchange)
        for event in ari.events:
            problems += validate_model("Message", event)
        assert problems == []
        kinds = set(ari.types())
        assert {
            "PlaybackContinuing",
            "RecordingFinished",
            "ChannelEnteredBridge",
            "ChannelLeftBridge",
            "ChannelDestroyed",
            "ChannelConnectedLine",
            "ChannelDtmfReceived",
            "Dial",
            "StasisEnd",
        } <= kinds
        assert len(ari.events) > 80


ERRORS = [
    ("GET", "/channels/nope", {}, 404, "Channel not found"),
    ("DELETE", "/channels/nope", {}, 404, "Channel not found"),
    ("POST", "/channels/nope/answer", {}, 404, "Channel not found"),
    ("GET", "/channels/nope/variable", {"variable": "X"}, 404, "Provided channel was not found"),
    ("GET", "/bridges/nope", {}, 404, "Bridge not found"),
    ("DELETE", "/bridges/None", {}, 404, "Bridge not found"),
    ("GET", "/recordings/stored/nope", {}, 404, "Recording not found"),
    ("POST", "/recordings/live/nope/stop", {}, 404, "Recording not found"),
    ("GET", "/playbacks/nope", {}, 404, "Playback not found"),
    ("GET", "/applications/nope", {}, 404, "Application not found"),
    ("GET", "/endpoints/PJSIP/nope", {}, 404, "Endpoint not found"),
    ("GET", "/nothing/here", {}, 404, "Resource not found"),
    ("PATCH", "/channels", {}, 405, "Invalid method"),
    ("POST", "/channels", {"app": "hotline"}, 400, "Endpoint must be specified"),
    (
        "POST",
        "/channels",
        {"endpoint": "8001", "app": "hotline"},
        400,
        "Invalid endpoint specified",
    ),
    (
        "POST",
        "/channels",
        {"endpoint": "PJSIP/8001"},
        400,
        "Application or extension must be specified",
    ),
    ("POST", "/channels", {"endpoint": "PJSIP/9999", "app": "hotline"}, 500, "Allocation failed"),
    ("POST", "/channels", {"endpoint": "PJSIP/8002", "app": "hotline"}, 500, "Allocation failed"),
]


@pytest.mark.parametrize(("method", "path", "params", "status", "message"), ERRORS)
async def test_errors_answer_as_asterisk_does(
    method: str, path: str, params: dict[str, str], status: int, message: str
) -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        exchange = await ari.request(method, path, **params)
        assert (exchange.status, exchange.body) == (status, {"message": message})


async def test_state_and_stasis_errors() -> None:
    async with (
        running_sim(phones=(PhoneScript("8001", answer_after=None),)) as sim,
        AriProbe(sim) as ari,
    ):
        sim.place_call(CallerScript(number="13900139000"))
        caller = (await ari.event("StasisStart"))["channel"]["id"]
        leg = await ari.request(
            "POST", "/channels", endpoint="PJSIP/8001", app="hotline", channelId="ringing-leg"
        )
        assert leg.status == 200 and leg.body["state"] == "Down"
        await ari.event("Dial", lambda e: e["dialstatus"] == "RINGING")
        # Not in Stasis until answered: 409 for control, 422 for a bridge.
        play = await ari.request("POST", "/channels/ringing-leg/play", media="sound:x")
        assert (play.status, play.body) == (409, {"message": "Channel not in Stasis application"})
        await ari.request("POST", "/bridges", bridgeId="b")
        add = await ari.request("POST", "/bridges/b/addChannel", channel="ringing-leg")
        assert (add.status, add.body) == (422, {"message": "Channel not in Stasis application"})
        add = await ari.request("POST", "/bridges/b/addChannel", channel="ghost")
        assert (add.status, add.body) == (400, {"message": "Channel not found"})
        remove = await ari.request("POST", "/bridges/b/removeChannel", channel=caller)
        assert (remove.status, remove.body) == (422, {"message": "Channel not in this bridge"})
        again = await ari.request("POST", "/bridges", bridgeId="b")
        assert (again.status, again.body) == (409, {"message": "Bridge with id 'b' already exists"})
        again = await ari.request("POST", "/bridges/b")
        assert again.status == 409
        dup = await ari.request(
            "POST", "/channels", endpoint="PJSIP/8001", app="hotline", channelId="ringing-leg"
        )
        assert (dup.status, dup.body) == (
            409,
            {"message": "Channel with given unique ID already exists"},
        )
        missing = await ari.request("GET", f"/channels/{caller}/variable", variable="NOPE")
        assert (missing.status, missing.body) == (
            404,
            {"message": "Provided variable was not found"},
        )
        bad = await ari.request("DELETE", f"/channels/{caller}", reason="bogus")
        assert (bad.status, bad.body) == (
            400,
            {"message": "Invalid reason for hangup reason provided"},
        )
        fmt = await ari.request("POST", "/bridges/b/record", name="x", format="mp3")
        assert (fmt.status, fmt.body) == (
            422,
            {"message": "specified format is unknown on this system"},
        )
        dtmf = await ari.request("POST", f"/channels/{caller}/dtmf")
        assert (dtmf.status, dtmf.body) == (400, {"message": "DTMF is required"})


async def test_basic_auth_is_required() -> None:
    async with running_sim() as sim, aiohttp.ClientSession() as http:
        async with http.get(sim.ari_url + "/asterisk/info") as response:
            assert response.status == 401
            assert "Basic" in response.headers["WWW-Authenticate"]
        wrong = basic_auth(sim.config.user, "wrong")
        async with http.get(sim.ari_url + "/asterisk/info", headers=wrong) as response:
            assert response.status == 401
        async with http.get(sim.ari_url + "/sim/state", headers=wrong) as response:
            assert response.status == 401
        key = f"{sim.config.user}:{sim.config.secret}"
        async with http.get(sim.ari_url + "/asterisk/info", params={"api_key": key}) as response:
            assert response.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(sim.ws_url())
        async with http.get(sim.ari_url + "/events", headers=basic_auth()) as response:
            assert response.status == 400
