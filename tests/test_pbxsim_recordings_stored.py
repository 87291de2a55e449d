"""Stored recordings in sub-directories, and their copy, as ``stasis_recording/stored.c``.

A recording's name is its path under the recording directory without the
extension (``2026/12/c-2``); in a URL the slashes are ``%2F``, decoded after
the path is split.  A copy makes the directories it needs; a destination that
exists is ``409``, one that leads out of the directory ``403`` (or ``500``
when ``ast_safe_mkdir`` refuses to create it).
"""

from __future__ import annotations

import pytest

from pbxsim import CallerScript
from pbxsim.wav import write_wav
from tests.support.sim import AmiProbe, AriProbe, running_sim

pytestmark = pytest.mark.fidelity


async def test_sub_directories_list_read_copy_and_delete() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        base = sim.world.recordings_dir
        write_wav(base / "c-1.wav", 1.0)
        write_wav(base / "2026" / "12" / "c-2.wav", 2.0)
        (base / "notes.txt").write_text("not a recording", encoding="utf-8")
        listed = await ari.request("GET", "/recordings/stored")
        assert listed.body == [
            {"name": "2026/12/c-2", "format": "wav"},
            {"name": "c-1", "format": "wav"},
        ]
        one = await ari.request("GET", "/recordings/stored/2026%2F12%2Fc-2")
        assert (one.status, one.body) == (200, {"name": "2026/12/c-2", "format": "wav"})
        data = await ari.request("GET", "/recordings/stored/2026%2F12%2Fc-2/file")
        assert data.status == 200
        assert data.body == (base / "2026" / "12" / "c-2.wav").read_bytes()

        copied = await ari.request(
            "POST", "/recordings/stored/c-1/copy", destinationRecordingName="archive/c-1"
        )
        assert (copied.status, copied.body) == (200, {"name": "archive/c-1", "format": "wav"})
        assert (base / "archive" / "c-1.wav").read_bytes() == (base / "c-1.wav").read_bytes()
        named = await ari.request(
            "POST", "/recordings/stored/c-1/copy", destinationRecordingName="archive/c-9.wav"
        )
        assert named.body == {"name": "archive/c-9", "format": "wav"}

        async def copy(destination: str) -> tuple[int, str]:
            reply = await ari.request(
                "POST", "/recordings/stored/c-1/copy", destinationRecordingName=destination
            )
            return reply.status, reply.body["message"]

        assert await copy("archive/c-1") == (
            409,
            "A recording with the same name already exists on the system",
        )
        assert await copy("../escaped") == (403, "Destination file path is forbidden")
        assert await copy("../nowhere/escaped") == (500, "Copy failed")
        assert not (base.parent / "escaped.wav").exists()
        outside = await ari.request("GET", "/recordings/stored/..%2Fc-1")
        assert (outside.status, outside.body) == (404, {"message": "Recording not found"})
        missing = await ari.request(
            "POST", "/recordings/stored/nope/copy", destinationRecordingName="x"
        )
        assert (missing.status, missing.body) == (404, {"message": "Recording not found"})

        assert (await ari.request("DELETE", "/recordings/stored/2026%2F12%2Fc-2")).status == 204
        names = [r["name"] for r in (await ari.request("GET", "/recordings/stored")).body]
        assert names == ["archive/c-1", "archive/c-9", "c-1"]


async def test_a_recording_named_into_a_directory_is_stored_there() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        sim.place_call(CallerScript(number="13800138000"))
        start = await ari.event("StasisStart")
        channel = start["channel"]["id"]
        await ari.request("POST", f"/channels/{channel}/answer")
        reply = await ari.request(
            "POST", f"/channels/{channel}/record", name="calls/c-3", format="wav"
        )
        assert reply.status == 201
        await ari.event("RecordingStarted")
        assert (await ari.request("POST", "/recordings/live/calls%2Fc-3/stop")).status == 204
        await ari.event("RecordingFinished")
        got = await ari.request("GET", "/recordings/stored/calls%2Fc-3")
        assert got.body == {"name": "calls/c-3", "format": "wav"}


async def test_a_snoop_is_framed_by_chanspy_events() -> None:
    """res_stasis_snoop.c publishes ChanSpyStart when the snoop channel is made and
    ChanSpyStop when it hangs up (Spyer: the snoop channel; Spyee: the target,
    named in the stop only while it still exists); the testsuite's
    rest_api/channels/snoop_spy counts one of each."""
    async with running_sim() as sim, AriProbe(sim) as ari:
        ami = await AmiProbe.open(sim)
        try:
            await ami.login()
            sim.place_call(CallerScript(number="13800138000"))
            start = await ari.event("StasisStart")
            channel = start["channel"]["id"]
            await ari.request("POST", f"/channels/{channel}/answer")
            for snoop_id in ("spy-1", "spy-2"):
                snoop = await ari.request(
                    "POST",
                    f"/channels/{channel}/snoop",
                    spy="both",
                    app="hotline",
                    snoopId=snoop_id,
                )
                assert snoop.status == 200
                await ari.event("StasisStart", lambda e, s=snoop_id: e["channel"]["id"] == s)
            started = await ami.until(lambda f: f.get("Event") == "ChanSpyStart")
            assert started["SpyerUniqueid"] == "spy-1"
            assert started["SpyerChannel"].startswith(f"Snoop/{channel}-")
            assert (started["SpyeeUniqueid"], started["SpyeeCallerIDNum"]) == (
                channel,
                "13800138000",
            )
            await ari.request("DELETE", "/channels/spy-1")
            stopped = await ami.until(lambda f: f.get("Event") == "ChanSpyStop")
            assert (stopped["SpyerUniqueid"], stopped["SpyeeUniqueid"]) == ("spy-1", channel)
            hangup = await ami.until(lambda f: f.get("Event") == "Hangup")
            assert hangup["Uniqueid"] == "spy-1"  # the stop comes before the snoop's Hangup
            # The target goes first: the other snoop's stop names no spyee.
            await ari.request("DELETE", f"/channels/{channel}")
            last = await ami.until(
                lambda f: f.get("Event") == "ChanSpyStop" and f.get("SpyerUniqueid") == "spy-2"
            )
            assert "SpyeeUniqueid" not in last
            kinds = [f.get("Event") for f in ami.frames]
            assert kinds.count("ChanSpyStart") == 2 and kinds.count("ChanSpyStop") == 2
        finally:
            await ami.close()
