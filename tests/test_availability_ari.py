"""One application, one WebSocket: pbxsim as Asterisk 22.10.1 (``application_replaced.jsonl``),
the engine's ARI client that gives the application up when it is replaced, and the fence
every request that changes a call passes."""

from __future__ import annotations

import pytest

from cti.ari import AriClient, AriFenced, Reconciled
from cti.ids import ChannelId
from cti.link import TRANSITIONS, LinkState
from pbxsim import CallerScript
from tests.support.replay import Replayer
from tests.support.sim import AriProbe, running_sim
from tests.test_pbxsim_transcripts import PROBE_DIALPLAN, PROBE_SCALE

pytestmark = pytest.mark.availability

DEADLINE = 5.0


async def test_the_transcript_socket_by_socket() -> None:
    """The first socket hears ``ApplicationReplaced`` and nothing after it; the second
    hears what follows; once it closed, a new socket gets the application back."""
    async with running_sim(time_scale=PROBE_SCALE, dialplan=PROBE_DIALPLAN) as sim:
        replayer = Replayer(sim, "application_replaced")
        result = await replayer.run()
        assert result.mismatches() == []
        first, second, third = (replayer.sockets[n].events for n in (1, 2, 3))
        assert first[-1]["type"] == "ApplicationReplaced"
        assert [e["type"] for e in first].count("ApplicationReplaced") == 1
        assert [e["type"] for e in second] == ["PlaybackStarted"]
        assert "StasisEnd" in [e["type"] for e in third]


async def test_a_replaced_client_gives_the_application_up_and_does_not_come_back() -> None:
    async with running_sim() as sim:
        client = AriClient(sim.ari_url, sim.config.user, sim.config.secret, "hotline")
        lost: list[str] = []
        client.on_replaced(lost.append)
        events = client.subscribe()
        await client.connect()
        assert isinstance(await events.get(DEADLINE), Reconciled)
        async with AriProbe(sim) as other:
            await client.link.wait_until(lambda link: link.state is LinkState.REPLACED, DEADLINE)
            assert lost == ["another WebSocket registered the application"]
            call = sim.place_call(CallerScript(number="13800138000"))
            await other.event("StasisStart")
        # The other socket closed: the application is deactivated, not handed back, and
        # the replaced client can only be closed (it never reconnects by itself).
        await sim.wait_for(lambda: not sim.connected_apps, DEADLINE)
        before = len(sim.world.events)
        sim.hangup_call(call)
        await sim.wait_for(lambda: len(sim.world.events) > before, DEADLINE)
        lost = sim.world.events[before:]
        assert lost and not any(r.delivered for r in lost)  # events of an inactive app
        assert client.link.state is LinkState.REPLACED
        assert TRANSITIONS[LinkState.REPLACED] == frozenset({LinkState.CLOSED})
        assert events.pending() == 0
        await client.close()


async def test_the_fence_keeps_changes_from_asterisk_and_lets_reads_through() -> None:
    async with running_sim() as sim:
        token: list[int | None] = [None]
        client = AriClient(
            sim.ari_url, sim.config.user, sim.config.secret, "hotline", user_agent="hotline-cti/x"
        )
        client.http.set_fence(lambda: token[0])
        try:
            with pytest.raises(AriFenced):
                await client.connect()  # a standby never subscribes
            with pytest.raises(AriFenced):
                await client.channels.hangup(ChannelId("nobody"))
            assert sim.requests == []
            await client.channels.list()  # reading is not changing
            token[0] = 7
            await client.connect()
            handle = sim.place_call(CallerScript(number="13800138000"))
            await sim.wait_for(lambda: handle.channel_id, DEADLINE)
            assert handle.channel_id is not None
            await client.channels.hangup(ChannelId(handle.channel_id))
            token[0] = None
            with pytest.raises(AriFenced):
                await client.channels.hangup(ChannelId(handle.channel_id))
        finally:
            await client.close()
        changes = [(r.method, r.client, r.fence) for r in sim.requests if r.method != "GET"]
        assert changes == [("DELETE", "hotline-cti/x", "7")]
