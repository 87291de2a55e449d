"""``POST /channels/create`` then ``POST /channels/{id}/dial``, as Asterisk 22.10 does them.

The created channel is in the application at once (``Down``); the dial's
first ``Dial`` names the dial string, the far end's progress (RINGING,
PROGRESS for early media, ANSWER or BUSY) follows with an empty one.  A dial
timeout hangs the channel up (cause 19) with no ``Dial`` NOANSWER.  The
recorded side, with Local channels, is ``create_then_dial_answer_busy_timeout``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pbxsim import PhoneScript, RemoteScript
from tests.support.sim import AriProbe, running_sim
from tests.support.swagger import validate_model

pytestmark = pytest.mark.fidelity


def story(ari: AriProbe, ident: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for e in ari.events:
        if e["type"] == "Dial" and e["peer"]["id"] == ident:
            out.append(("Dial", e["dialstatus"], e["dialstring"]))
        elif e.get("channel", {}).get("id") == ident:
            kind = e["type"]
            if kind == "ChannelStateChange":
                out.append((kind, e["channel"]["state"]))
            elif kind in ("ChannelHangupRequest", "ChannelDestroyed"):
                out.append((kind, e.get("cause"), e.get("soft"), e.get("tech_cause")))
            elif kind == "ChannelVarset":
                out.append((kind, e["variable"], e["value"]))
            else:
                out.append((kind,))
    return out


async def create(ari: AriProbe, endpoint: str, ident: str) -> dict[str, Any]:
    reply = await ari.request(
        "POST",
        "/channels/create",
        endpoint=endpoint,
        app="hotline",
        appArgs="outbound",
        channelId=ident,
    )
    assert reply.status == 200, reply.body
    assert reply.body["state"] == "Down"
    start = await ari.event("StasisStart", lambda e: e["channel"]["id"] == ident)
    assert start["args"] == ["outbound"]
    body: dict[str, Any] = reply.body
    return body


async def test_create_then_dial_a_phone_that_answers() -> None:
    phones = (PhoneScript("8001", answer_after=0.5),)
    async with running_sim(phones=phones) as sim, AriProbe(sim) as ari:
        await create(ari, "PJSIP/8001", "out-1")
        assert (await ari.request("POST", "/channels/out-1/dial", timeout="10")).status == 204
        await ari.event("Dial", lambda e: e["dialstatus"] == "ANSWER")
        assert story(ari, "out-1") == [
            ("ChannelDialplan",),
            ("ChannelVarset", "STASISSTATUS", ""),
            ("StasisStart",),
            ("Dial", "", "8001"),
            ("ChannelStateChange", "Ringing"),
            ("Dial", "RINGING", ""),
            ("ChannelStateChange", "Up"),
            ("Dial", "ANSWER", ""),
        ]
        again = await ari.request("POST", "/channels/out-1/dial")
        assert (again.status, again.body) == (
            409,
            {"message": "Channel is not in the 'Down' state"},
        )
        # Answered and still the application's, with nothing more to do for the dial.
        assert (await ari.request("POST", "/channels/out-1/answer")).status == 204


async def test_early_media_from_a_trunk() -> None:
    remotes = (RemoteScript("110", trunk="carrier", answer_after=None, early_media="tone:ring"),)
    async with running_sim(remotes=remotes) as sim, AriProbe(sim) as ari:
        await create(ari, "PJSIP/110@carrier", "out-110")
        assert (await ari.request("POST", "/channels/out-110/dial")).status == 204
        await ari.event("Dial", lambda e: e["dialstatus"] == "PROGRESS")
        statuses = [s[1] for s in story(ari, "out-110") if s[0] == "Dial"]
        assert statuses == ["", "RINGING", "PROGRESS"]
        assert ("early_media", "tone:ring") in sim.channel_log("out-110").heard


async def test_a_busy_phone_and_a_dial_timeout() -> None:
    phones = (
        PhoneScript("8001", reject=True),
        PhoneScript("8002", answer_after=None),
    )
    async with running_sim(phones=phones) as sim, AriProbe(sim) as ari:
        await create(ari, "PJSIP/8001", "busy-1")
        assert (await ari.request("POST", "/channels/busy-1/dial")).status == 204
        await ari.event("ChannelDestroyed", lambda e: e["channel"]["id"] == "busy-1")
        assert ("Dial", "BUSY", "") in story(ari, "busy-1")
        assert story(ari, "busy-1")[-1] == ("ChannelDestroyed", 17, None, 486)

        await create(ari, "PJSIP/8002", "late-1")
        assert (await ari.request("POST", "/channels/late-1/dial", timeout="1")).status == 204
        await ari.event("ChannelDestroyed", lambda e: e["channel"]["id"] == "late-1")
        assert story(ari, "late-1")[-5:] == [
            ("Dial", "RINGING", ""),
            ("ChannelHangupRequest", 32, True, None),
            ("StasisEnd",),
            ("ChannelVarset", "STASISSTATUS", "SUCCESS"),
            ("ChannelDestroyed", 19, None, None),
        ]
        gone = await ari.request("GET", "/channels/late-1")
        assert (gone.status, gone.body) == (404, {"message": "Channel not found"})


async def test_create_and_dial_refusals() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        missing = await ari.request("POST", "/channels/create", app="hotline")
        assert (missing.status, missing.body) == (400, {"message": "Endpoint must be specified"})
        bad = await ari.request("POST", "/channels/create", endpoint="PJSIP", app="hotline")
        assert (bad.status, bad.body) == (400, {"message": "Invalid endpoint specified"})
        await create(ari, "PJSIP/8001", "dup")
        twice = await ari.request(
            "POST", "/channels/create", endpoint="PJSIP/8001", app="hotline", channelId="dup"
        )
        assert (twice.status, twice.body) == (
            409,
            {"message": "Channel with given unique ID already exists"},
        )
        ghost = await ari.request("POST", "/channels/ghost/dial")
        assert (ghost.status, ghost.body) == (404, {"message": "Channel not found"})
        originated = await ari.request(
            "POST", "/channels", endpoint="PJSIP/8001", app="hotline", channelId="orig"
        )
        assert originated.status == 200
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == "orig")
        # An originated leg is Up once in the application: not Down.
        refused = await ari.request("POST", "/channels/orig/dial")
        assert (refused.status, refused.body) == (
            409,
            {"message": "Channel is not in the 'Down' state"},
        )


async def test_local_early_media_from_the_dialplan(tmp_path: Path) -> None:
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text(
        "[probe]\nexten => announce,1,Progress()\n same => n,Playback(sorry,noanswer)\n"
        " same => n,Busy(1)\n",
        encoding="utf-8",
    )
    async with running_sim(dialplan=dialplan) as sim, AriProbe(sim) as ari:
        await create(ari, "Local/announce@probe", "loc-1")
        assert (await ari.request("POST", "/channels/loc-1/dial")).status == 204
        await ari.event("Dial", lambda e: e["dialstatus"] == "BUSY")
        dials = [s for s in story(ari, "loc-1") if s[0] == "Dial"]
        assert dials == [
            ("Dial", "", "announce@probe"),
            ("Dial", "PROGRESS", ""),
            ("Dial", "BUSY", ""),
        ]


STATE_BOUND = [
    ("POST", "continue", {}),
    ("POST", "redirect", {"endpoint": "PJSIP/8001"}),
    ("POST", "answer", {}),
    ("POST", "dtmf", {"dtmf": "123"}),
    ("POST", "ring", {}),
    ("DELETE", "ring", {}),
    ("POST", "mute", {}),
    ("DELETE", "mute", {}),
    ("POST", "hold", {}),
    ("DELETE", "hold", {}),
    ("POST", "moh", {}),
    ("DELETE", "moh", {}),
    ("POST", "silence", {}),
    ("DELETE", "silence", {}),
    ("POST", "play", {"media": "sound:hello"}),
]


async def test_a_channel_not_yet_answered_refuses_what_needs_media(tmp_path: Path) -> None:
    """Down (created) and Ringing (dialled) are invalid states: 412 for every
    operation that touches the channel's media or dialplan (``channel_state_invalid``)."""
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text(
        "[probe]\nexten => ring,1,Ringing()\n same => n,Wait(60)\n", encoding="utf-8"
    )
    async with running_sim(dialplan=dialplan) as sim, AriProbe(sim) as ari:
        await create(ari, "Local/ring@probe", "c-1")

        async def refused() -> list[tuple[str, str, int]]:
            out = []
            for method, what, params in STATE_BOUND:
                reply = await ari.request(method, f"/channels/c-1/{what}", **params)
                if (reply.status, reply.body) != (412, {"message": "Channel in invalid state"}):
                    out.append((method, what, reply.status))
            return out

        assert await refused() == []
        assert (await ari.request("POST", "/channels/c-1/dial")).status == 204
        await ari.event("Dial", lambda e: e["dialstatus"] == "RINGING")
        assert await refused() == []
        # Variables need no media.
        reply = await ari.request("POST", "/channels/c-1/variable", variable="X", value="1")
        assert reply.status == 204
        assert (await ari.request("DELETE", "/channels/c-1")).status == 204


async def test_continue_after_the_dial_runs_the_dialplan_the_application_still_hears(
    tmp_path: Path,
) -> None:
    """The application created the channel, so it keeps hearing of it in the dialplan."""
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text(
        "[probe]\nexten => pick,1,Answer()\n same => n,Wait(60)\n"
        "exten => after,1,UserEvent(Handled,who: engine)\n same => n,Hangup(99)\n",
        encoding="utf-8",
    )
    async with running_sim(dialplan=dialplan) as sim, AriProbe(sim) as ari:
        await create(ari, "Local/pick@probe", "c-2")
        assert (await ari.request("POST", "/channels/c-2/dial")).status == 204
        await ari.event("Dial", lambda e: e["dialstatus"] == "ANSWER")
        mark = len(ari.events)
        reply = await ari.request(
            "POST", "/channels/c-2/continue", context="probe", extension="after", priority="1"
        )
        assert reply.status == 204
        destroyed = await ari.event("ChannelDestroyed", start=mark)
        assert (destroyed["cause"], destroyed["channel"]["id"]) == (99, "c-2")
        after = [
            (e["type"], e.get("dialplan_app") or e.get("eventname"))
            for e in ari.events[mark:]
            if e.get("channel", {}).get("id") == "c-2"
        ]
        assert after == [
            ("StasisEnd", None),
            ("ChannelVarset", None),
            ("ChannelDialplan", "UserEvent"),
            ("ChannelUserevent", "Handled"),
            ("ChannelDialplan", "Hangup"),
            ("ChannelDestroyed", None),
        ]
        user = next(e for e in ari.events if e["type"] == "ChannelUserevent")
        assert user["userevent"] == {"who": "engine"}
        for event in ari.events:
            assert validate_model("Message", event) == []


async def test_a_dial_before_the_created_channel_entered_the_application_is_refused() -> None:
    # Asterisk 22 answers the create before the channel has entered Stasis.
    phones = (PhoneScript("8001", answer_after=0.5),)
    async with running_sim(phones=phones, create_entry_delay=0.5) as sim, AriProbe(sim) as ari:
        reply = await ari.request(
            "POST", "/channels/create", endpoint="PJSIP/8001", app="hotline", channelId="out-9"
        )
        assert reply.status == 200, reply.body
        early = await ari.request("POST", "/channels/out-9/dial")
        assert (early.status, early.body) == (409, {"message": "Channel not in Stasis application"})
        await ari.event("StasisStart", lambda e: e["channel"]["id"] == "out-9")
        assert (await ari.request("POST", "/channels/out-9/dial")).status == 204
        await ari.event("Dial", lambda e: e["dialstatus"] == "ANSWER")
