"""Playback lists and their control as ``res_stasis_playback.c`` does them.

Each item of a list is started (``PlaybackStarted`` naming it, with the next
as ``next_media_uri``) and, unless it is the last, continued
(``PlaybackContinuing`` naming the item that finished); the last ends with
``PlaybackFinished``.  Pause stops the clock without an event; unpause
publishes ``PlaybackStarted`` again and plays what was left.  A ``tone:``
plays until stopped.  Operations follow the module's table: what it does not
list for a state is ``409``, a no-op is ``204``, and media that cannot be
controlled (``number:``) answer ``500``.  A queued playback deleted ends, as
``done``, when its turn comes.  The recorded side is the transcript
``playback_list_pause_unpause``.
"""

from __future__ import annotations

from typing import Any

import pytest

from pbxsim import CallerScript, PbxSim
from tests.support.sim import AriProbe, running_sim

pytestmark = pytest.mark.fidelity

DURATIONS = {
    "sound:a": 1.0,
    "sound:b": 1.0,
    "sound:long": 50.0,
    "sound:longer": 150.0,
    "number:42": 50.0,
}


def of(ari: AriProbe, playback_id: str) -> list[tuple[str, str, str | None, str]]:
    return [
        (
            e["type"],
            e["playback"]["media_uri"],
            e["playback"].get("next_media_uri"),
            e["playback"]["state"],
        )
        for e in ari.events
        if e.get("playback", {}).get("id") == playback_id
    ]


async def caller(sim: PbxSim, ari: AriProbe, number: str) -> str:
    sim.place_call(CallerScript(number=number))
    start = await ari.event("StasisStart", lambda e: e["channel"]["caller"]["number"] == number)
    channel_id: str = start["channel"]["id"]
    assert (await ari.request("POST", f"/channels/{channel_id}/answer")).status == 204
    return channel_id


async def play(ari: AriProbe, channel_id: str, playback_id: str, *media: str) -> Any:
    reply = await ari.request(
        "POST", f"/channels/{channel_id}/play/{playback_id}", media=",".join(media)
    )
    assert reply.status == 201, reply.body
    return reply.body


async def test_each_item_of_a_list_is_started_and_continued() -> None:
    async with running_sim(sound_durations=DURATIONS) as sim, AriProbe(sim) as ari:
        channel = await caller(sim, ari, "13800138000")
        body = await play(ari, channel, "pb-1", "sound:a", "sound:b")
        assert body["next_media_uri"] == "sound:b" and body["state"] == "queued"
        await ari.event("PlaybackFinished")
        assert of(ari, "pb-1") == [
            ("PlaybackStarted", "sound:a", "sound:b", "playing"),
            ("PlaybackContinuing", "sound:a", "sound:b", "continuing"),
            ("PlaybackStarted", "sound:b", None, "playing"),
            ("PlaybackFinished", "sound:b", None, "done"),
        ]
        assert sim.channel_log(channel).media_played == ["sound:a", "sound:b"]


async def test_pause_really_pauses_and_unpause_starts_again() -> None:
    async with running_sim(sound_durations=DURATIONS) as sim, AriProbe(sim) as ari:
        first = await caller(sim, ari, "13800138000")
        second = await caller(sim, ari, "13900139000")
        await play(ari, first, "paused", "sound:long")
        await ari.event("PlaybackStarted", lambda e: e["playback"]["id"] == "paused")
        control = "/playbacks/paused/control"
        assert (await ari.request("POST", control, operation="pause")).status == 204
        assert (await ari.request("POST", control, operation="pause")).status == 204  # no-op
        # Three times the paused item's length passes on the other channel...
        await play(ari, second, "clock", "sound:longer")
        await ari.event("PlaybackFinished", lambda e: e["playback"]["id"] == "clock")
        # ...and the paused playback has not moved on.
        assert (await ari.request("GET", "/playbacks/paused")).body["state"] == "paused"
        assert of(ari, "paused") == [("PlaybackStarted", "sound:long", None, "playing")]
        assert (await ari.request("POST", control, operation="unpause")).status == 204
        await ari.event("PlaybackFinished", lambda e: e["playback"]["id"] == "paused")
        assert of(ari, "paused") == [
            ("PlaybackStarted", "sound:long", None, "playing"),
            ("PlaybackStarted", "sound:long", None, "playing"),
            ("PlaybackFinished", "sound:long", None, "done"),
        ]
        assert sim.channel_log(first).media_played == ["sound:long"]


async def test_operations_by_state_as_the_table_says() -> None:
    async with running_sim(sound_durations=DURATIONS) as sim, AriProbe(sim) as ari:
        channel = await caller(sim, ari, "13800138000")
        await play(ari, channel, "front", "sound:long")
        await play(ari, channel, "behind", "sound:a")
        await ari.event("PlaybackStarted", lambda e: e["playback"]["id"] == "front")
        queued = "/playbacks/behind/control"
        paused = await ari.request("POST", queued, operation="pause")
        assert (paused.status, paused.body) == (
            409,
            {"message": "Can only pause while media is playing"},
        )
        assert (await ari.request("POST", queued, operation="restart")).status == 204
        bad = await ari.request("POST", queued, operation="rewind")
        assert (bad.status, bad.body) == (400, {"message": "Invalid operation rewind"})
        # A queued playback deleted is canceled: it ends, as done, when its turn comes.
        assert (await ari.request("DELETE", "/playbacks/behind")).status == 204
        canceled = await ari.request("POST", queued, operation="restart")
        assert canceled.status == 409
        front = "/playbacks/front/control"
        for operation in ("unpause", "restart", "forward", "reverse"):
            assert (await ari.request("POST", front, operation=operation)).status == 204
        assert (await ari.request("DELETE", "/playbacks/front")).status == 204
        await ari.event("PlaybackFinished", lambda e: e["playback"]["id"] == "behind")
        assert of(ari, "front") == [
            ("PlaybackStarted", "sound:long", None, "playing"),
            ("PlaybackFinished", "sound:long", None, "done"),
        ]
        assert of(ari, "behind") == [("PlaybackFinished", "sound:a", None, "done")]
        missing = await ari.request("POST", "/playbacks/behind/control", operation="pause")
        assert (missing.status, missing.body) == (404, {"message": "Playback not found"})

        # number: cannot be controlled.
        await play(ari, channel, "counted", "number:42")
        await ari.event("PlaybackStarted", lambda e: e["playback"]["id"] == "counted")
        reply = await ari.request("POST", "/playbacks/counted/control", operation="pause")
        assert (reply.status, reply.body) == (500, {"message": "Could not pause playback"})
        stop = await ari.request("DELETE", "/playbacks/counted")
        assert (stop.status, stop.body) == (500, {"message": "Could not stop playback"})


async def test_a_tone_plays_until_stopped() -> None:
    async with running_sim(sound_durations=DURATIONS) as sim, AriProbe(sim) as ari:
        first = await caller(sim, ari, "13800138000")
        second = await caller(sim, ari, "13900139000")
        await play(ari, first, "tone", "tone:ring")
        await ari.event("PlaybackStarted", lambda e: e["playback"]["id"] == "tone")
        await play(ari, second, "clock", "sound:longer")
        await ari.event("PlaybackFinished", lambda e: e["playback"]["id"] == "clock")
        assert (await ari.request("GET", "/playbacks/tone")).body["state"] == "playing"
        assert sim.channel_log(first).media_played == ["tone:ring"]
        assert ("media", "tone:ring") in sim.channel_log(first).heard
        assert (await ari.request("DELETE", "/playbacks/tone")).status == 204
        await ari.event("PlaybackFinished", lambda e: e["playback"]["id"] == "tone")
        assert of(ari, "tone")[-1] == ("PlaybackFinished", "tone:ring", None, "done")


async def test_a_hang_up_fails_the_playing_and_the_queued() -> None:
    async with running_sim(sound_durations=DURATIONS) as sim, AriProbe(sim) as ari:
        channel = await caller(sim, ari, "13800138000")
        await play(ari, channel, "now", "sound:long")
        await play(ari, channel, "next", "sound:a")
        await ari.event("PlaybackStarted", lambda e: e["playback"]["id"] == "now")
        assert (await ari.request("DELETE", f"/channels/{channel}")).status == 204
        await ari.event("StasisEnd")
        assert of(ari, "now")[-1] == ("PlaybackFinished", "sound:long", None, "failed")
        assert of(ari, "next") == [
            ("PlaybackStarted", "sound:a", None, "playing"),
            ("PlaybackFinished", "sound:a", None, "failed"),
        ]
