"""Replaying a recorded Asterisk transcript against pbxsim.

The replayer walks a transcript (``tests/fixtures/asterisk/transcripts``) in
order.  Each ``ari-req`` is sent to pbxsim once pbxsim has delivered at least
as many events as Asterisk had at that point; the peers are driven where the
transcript shows them act: the caller arrives where its ``StasisStart`` is,
keys a digit where its ``ChannelDtmfReceived`` is and hangs up where its
remote ``ChannelHangupRequest`` (one without a cause) is.  Phones and trunks
behave as configured by the test (answer, ring only, busy).

Ids chosen by Asterisk (the caller's ``1795302787.8``) are mapped to the ids
pbxsim chose; ids chosen by the client (``agent-leg-1``, ``br-c-0001``) are
the same on both sides.

Comparison (``ReplayResult.mismatches``):
- the sequence of REST statuses;
- per channel, the sequence of its events (type and key fields: variable
  name, whether the value is empty, state, causes, args, bridge and its
  members); ``Dial`` events per peer as their own sequence, because Asterisk
  publishes them on another topic than channel snapshots and the transcripts
  show both interleavings with ``ChannelStateChange``;
- playback and recording event sequences per playback id / recording name;
- the multiset of all event types.

``RTPAUDIOQOS*BRIDGED`` variables are left out of the comparison: Asterisk
sets them on a hang-up only when the bridge's technology at that instant is a
two-party one (``ast_bridge_peer_nolock``), and after a third party has left,
smart bridging's switch back from ``softmix`` is not deterministic: the
transcripts show the same topology with (``threeway_consultee_agent_leaves``)
and without (``holding_bridge_then_agent``) them.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pbxsim import CallerScript, CallHandle, PbxSim
from tests.support.sim import AriProbe
from tests.support.swagger import response_model, validate_model

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk" / "transcripts"


def load_transcript(name: str) -> list[dict[str, Any]]:
    """The entries of a transcript; an ``ari-resp`` without its request's method and
    path (the recordings of 2026-12-06) gets them from the ``ari-req`` before it."""
    path = TRANSCRIPTS / f"{name}.jsonl"
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    request: dict[str, Any] = {}
    for entry in entries:
        if entry["dir"] == "ari-req":
            request = entry
        elif entry["dir"] == "ari-resp" and "method" not in entry:
            entry["method"], entry["path"] = request["method"], request["path"]
    return entries


def subject(event: dict[str, Any]) -> tuple[str, str]:
    if event["type"] == "Dial":
        return ("dial", event["peer"]["id"])
    if "channel" in event:
        return ("channel", event["channel"]["id"])
    if "playback" in event:
        return ("playback", event["playback"]["id"])
    if "recording" in event:
        return ("recording", event["recording"]["name"])
    return ("other", event["type"])


def signature(event: dict[str, Any], ids: dict[str, str]) -> tuple[Any, ...]:
    """What must match between Asterisk's event and pbxsim's (sim ids mapped back)."""
    kind = event["type"]
    if kind == "ChannelVarset":
        return (kind, event["variable"], event["value"] == "")
    if kind == "Dial":
        return (kind, event["dialstatus"], event.get("dialstring"))
    if kind == "ChannelStateChange":
        return (kind, event["channel"]["state"])
    if kind in ("ChannelHangupRequest", "ChannelDestroyed"):
        return (kind, event.get("cause"), event.get("soft"), event.get("tech_cause"))
    if kind == "StasisStart":
        return (kind, tuple(event["args"]), event["channel"]["state"])
    if kind in ("ChannelEnteredBridge", "ChannelLeftBridge"):
        members = tuple(sorted(ids.get(c, c) for c in event["bridge"]["channels"]))
        return (kind, event["bridge"]["id"], event["bridge"]["bridge_type"], members)
    if kind == "ChannelConnectedLine":
        return (
            kind,
            event["channel"]["connected"]["name"],
            event["channel"]["connected"]["number"],
        )
    if kind == "ChannelDtmfReceived":
        return (kind, event["digit"])
    if kind == "ChannelDialplan":
        return (kind, event["dialplan_app"])
    if "playback" in event:
        return (kind, event["playback"]["state"], event["playback"]["media_uri"])
    if "recording" in event:
        return (kind, event["recording"]["state"])
    return (kind,)


def compared(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events a replay compares (see the module docstring for the one exception)."""
    return [
        e
        for e in events
        if not (e["type"] == "ChannelVarset" and e["variable"].endswith("BRIDGED"))
    ]


@dataclass
class ReplayResult:
    expected_statuses: list[tuple[str, str, int]] = field(default_factory=list)
    statuses: list[tuple[str, str, int]] = field(default_factory=list)
    expected_events: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    contract_problems: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # sim id -> transcript id

    def grouped(self, events: list[dict[str, Any]], ids: dict[str, str]) -> dict[Any, list[Any]]:
        groups: dict[Any, list[Any]] = defaultdict(list)
        for event in compared(events):
            kind, ident = subject(event)
            groups[(kind, ids.get(ident, ident))].append(signature(event, ids))
        for (kind, _), items in groups.items():
            if kind == "dial":
                # The Dial naming the dial string of POST /channels/{id}/dial is published
                # by the control thread after ast_call returns, racing the far end's first
                # status (a Local channel's Busy() can come first): it is compared first.
                items.sort(key=lambda s: s[1] != "")
        return dict(groups)

    def mismatches(self) -> list[str]:
        problems: list[str] = []
        if self.statuses != self.expected_statuses:
            problems.append(
                f"REST statuses differ:\n  asterisk {self.expected_statuses}\n"
                f"  pbxsim   {self.statuses}"
            )
        expected = self.grouped(self.expected_events, {})
        got = self.grouped(self.events, self.ids)
        for key in sorted(set(expected) | set(got), key=str):
            if expected.get(key) != got.get(key):
                problems.append(
                    f"events of {key} differ:\n  asterisk {expected.get(key)}\n"
                    f"  pbxsim   {got.get(key)}"
                )
        types_expected = Counter(e["type"] for e in compared(self.expected_events))
        types_got = Counter(e["type"] for e in compared(self.events))
        if types_expected != types_got:
            problems.append(
                f"event types differ: missing {types_expected - types_got}, "
                f"extra {types_got - types_expected}"
            )
        return problems + self.contract_problems


@dataclass(frozen=True)
class Credentials:
    user: str
    secret: str


@dataclass(frozen=True)
class RealAsterisk:
    """A real Asterisk's ARI, shaped as :class:`AriProbe` reads a simulator's."""

    ari_url: str
    config: Credentials

    def ws_url(self, app: str) -> str:
        return self.ari_url.replace("http://", "ws://") + f"/events?app={app}"


class Replayer:
    """Drives one transcript; ``gap_after_request`` marks events Asterisk's recording lacks.

    The target is pbxsim, or a :class:`RealAsterisk` for transcripts of Local channels
    only (nobody to play the caller): the same comparison holds both to the recording.
    """

    def __init__(
        self,
        sim: PbxSim | RealAsterisk,
        name: str,
        *,
        gap_after_request: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.sim = sim
        self.name = name
        self.entries = load_transcript(name)
        self.gap_after_request = gap_after_request
        self.timeout = timeout
        self.result = ReplayResult()
        self.transcript_ids: dict[str, str] = {}  # transcript id -> sim id
        self.calls: dict[str, CallHandle] = {}
        self.probe: AriProbe | None = None  # the first socket; REST goes through it
        self.sockets: dict[int, AriProbe] = {}  # every socket by the transcript's ``ws``
        self.excluded: list[tuple[int, int]] = []
        self.hangup_at = self.remote_hangups()

    def remote_hangups(self) -> dict[int, str]:
        """Event ordinal -> channel, where a caller's own hang-up starts showing.

        A far-end hang-up shows first as the ``RTPAUDIOQOS*`` variables, then the
        causeless ``ChannelHangupRequest``: the caller must hang up before the first.
        """
        events = [e["event"] for e in self.entries if e["dir"] == "ari-ws"]
        triggers: dict[int, str] = {}
        for index, event in enumerate(events):
            if event["type"] != "ChannelHangupRequest" or "cause" in event:
                continue
            channel = event["channel"]["id"]
            start = index
            for back in range(index - 1, -1, -1):
                other = events[back]
                if other.get("channel", {}).get("id") != channel:
                    continue
                if other["type"] == "ChannelVarset" and other["variable"].startswith("RTPAUDIOQOS"):
                    start = back
                    continue
                break
            triggers[start] = channel
        return triggers

    def map_text(self, value: str) -> str:
        for theirs, ours in self.transcript_ids.items():
            value = value.replace(theirs, ours)
        return value

    async def wait_events(self, count: int) -> None:
        def enough() -> bool:
            return self.compared_count() >= count

        types = [e["type"] for e in self.received()]
        await self.wait_sockets(enough, f"{self.name}: {count} events ({types})")

    async def wait_sockets(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait, re-checking whenever any socket receives an event, until ``predicate()``."""
        try:
            async with asyncio.timeout(self.timeout):
                while not predicate():
                    waits = [
                        asyncio.ensure_future(socket._changed.wait())
                        for socket in self.sockets.values()
                    ]
                    try:
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for wait in waits:
                            wait.cancel()
        except TimeoutError:
            raise AssertionError(f"not reached within {self.timeout} s: {what}") from None

    def compared_count(self) -> int:
        total = sum(len(p.events) for p in self.sockets.values())
        return total - sum(end - start for start, end in self.excluded)

    def received(self) -> list[dict[str, Any]]:
        """Every event of every socket, socket by socket in the order they opened."""
        return [e for number in sorted(self.sockets) for e in self.sockets[number].events]

    async def run(self) -> ReplayResult:
        seen_events = 0
        requests = 0
        gap_start: int | None = None
        try:
            if not any(e["dir"] == "ari-ws-open" for e in self.entries):
                await self.open()
            for entry in self.entries:
                kind = entry["dir"]
                if kind == "note":
                    await self.note(entry["text"])
                elif kind == "ari-ws-open":
                    await self.open()
                elif kind == "ari-ws-closed":
                    assert self.probe is not None
                    await self.drain()
                    if gap_start is not None:
                        self.excluded.append((gap_start, len(self.probe.events)))
                        gap_start = None
                    await self.probe.disconnect()
                elif kind == "ari-ws":
                    event = entry["event"]
                    self.result.expected_events.append(event)
                    await self.peer_action(event, seen_events)
                    seen_events += 1
                    self.seen = seen_events
                elif kind == "ari-req":
                    await self.wait_events(seen_events)
                    await self.pace(entry["t"])
                    await self.request(entry)
                    if requests == self.gap_after_request:
                        assert self.probe is not None
                        gap_start = len(self.probe.events)
                    requests += 1
                elif kind == "ari-resp":
                    self.result.expected_statuses.append(
                        (entry["method"], entry["path"], entry["status"])
                    )
            await self.wait_events(seen_events)
            await self.drain()
        finally:
            for socket in self.sockets.values():
                await socket.__aexit__(None, None, None)
        received = self.received()
        kept = [e for i, e in enumerate(received) if not any(a <= i < b for a, b in self.excluded)]
        self.result.events = kept
        for event in received:
            self.result.contract_problems += validate_model("Message", event)
        self.result.ids = {ours: theirs for theirs, ours in self.transcript_ids.items()}
        return self.result

    async def drain(self) -> None:
        """Wait until the sockets hold every event pbxsim delivered to the application
        (``ApplicationReplaced`` is the socket's own, not the application's)."""
        assert self.probe is not None
        app = self.probe.app

        if not isinstance(self.sim, PbxSim):
            return  # a real Asterisk: what the transcript expects was awaited already

        def delivered() -> int:
            assert isinstance(self.sim, PbxSim)
            return sum(1 for r in self.sim.world.events if r.app == app and r.delivered)

        def caught_up() -> bool:
            events = self.received()
            own = sum(1 for e in events if e["type"] == "ApplicationReplaced")
            return len(events) - own >= delivered() - self._delivered_before

        await self.wait_sockets(caught_up, f"{self.name}: caught up")

    async def open(self) -> None:
        if self.probe is None:
            if isinstance(self.sim, PbxSim):
                self._delivered_before = sum(1 for r in self.sim.world.events if r.delivered)
            self.probe = AriProbe(self.sim)  # type: ignore[arg-type]
            await self.probe.__aenter__()
            self.sockets[1] = self.probe
        else:
            await self.probe.connect()
        await self.connected()

    async def pace(self, recorded_at: float) -> None:
        """Against a real Asterisk, send a request no earlier than the recording did:
        its dialplan runs on its own threads, and the recording waited for it."""
        if isinstance(self.sim, PbxSim):
            return
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time() - recorded_at
        delay = self._started + recorded_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the recording's own pace, not a wait for an outcome

    _started: float | None = None
    seen = 0  # events of the transcript so far

    async def connected(self) -> None:
        if isinstance(self.sim, PbxSim):
            sim = self.sim
            await sim.wait_for(lambda: "hotline" in sim.connected_apps, self.timeout)

    async def note(self, text: str) -> None:
        """The recorder's own words where it opened or closed a WebSocket."""
        closed = re.fullmatch(r"websocket (\d+) closed", text)
        if closed and int(closed.group(1)) in self.sockets:
            socket = self.sockets[int(closed.group(1))]
            if socket.ws is not None:
                await self.wait_events(self.seen)  # what it received before it closed
                await self.drain()
                await socket.disconnect()
        elif "WebSocket registers the same application" in text or "WebSocket reconnects" in text:
            await self.wait_events(self.seen)
            await self.drain()
            if "first WebSocket reconnects" in text and self.sockets[1].ws is not None:
                await self.sockets[1].disconnect()  # the recorder closed it, then reconnected
            socket = AriProbe(self.sim)  # type: ignore[arg-type]
            await socket.__aenter__()
            self.sockets[max(self.sockets) + 1] = socket
            await self.connected()

    async def peer_action(self, event: dict[str, Any], seen: int) -> None:
        kind = event["type"]
        channel = event.get("channel", {})
        local = channel.get("name", "").startswith("Local/")
        if not isinstance(self.sim, PbxSim):
            return  # a real Asterisk: only transcripts of Local channels, nobody to drive
        if kind == "StasisStart" and event["args"][:1] == ["inbound"] and not local:
            await self.wait_events(seen)
            script = CallerScript(
                number=channel["caller"]["number"],
                name=channel["caller"]["name"],
                dialled=event["args"][1],
            )
            handle = self.sim.place_call(script)
            self.calls[channel["id"]] = handle
            await self.sim.wait_for(lambda: handle.channel_id, self.timeout)
            assert handle.channel_id is not None
            self.transcript_ids[channel["id"]] = handle.channel_id
        elif kind == "ChannelDtmfReceived" and channel.get("id") in self.calls:
            await self.wait_events(seen)
            self.sim.send_dtmf(self.calls[channel["id"]], event["digit"], event["duration_ms"])
        elif seen in self.hangup_at and self.hangup_at[seen] in self.calls:
            await self.wait_events(seen)
            self.sim.hangup_call(self.calls[self.hangup_at[seen]])

    async def request(self, entry: dict[str, Any]) -> None:
        assert self.probe is not None
        params = {k: self.map_text(str(v)) for k, v in entry["params"].items()}
        exchange = await self.probe.request(entry["method"], self.map_text(entry["path"]), **params)
        self.result.statuses.append((entry["method"], entry["path"], exchange.status))
        model = response_model(entry["method"], entry["path"])
        if exchange.status < 300 and model not in (None, "void", "binary"):
            self.result.contract_problems += validate_model(model, exchange.body)

    _delivered_before = 0


RECORDED_STASIS = "Stasis(hotline,inbound,${EXTEN})"
"""How the shipped dialplan entered the application when the transcripts of
2026-11 were recorded: without the redirecting number, which it passes now."""
_recorded: list[Path] = []


def recorded_dialplan() -> Path:
    """The shipped ``extensions.conf`` (and the files it includes) as it was when the
    transcripts were recorded, for pbxsim to run while they are replayed."""
    if not _recorded:
        shipped = Path(__file__).resolve().parents[2] / "asterisk-conf"
        target = Path(tempfile.mkdtemp(prefix="hotline-recorded-dialplan-"))
        atexit.register(shutil.rmtree, target, True)
        for conf in shipped.glob("*.conf"):
            shutil.copy(conf, target / conf.name)
        plan = target / "extensions.conf"
        text = plan.read_text(encoding="utf-8")
        now = "Stasis(hotline,inbound,${EXTEN},${REDIRECTING(from-num)})"
        assert now in text, "the shipped dialplan's inbound Stasis() changed"
        plan.write_text(text.replace(now, RECORDED_STASIS), encoding="utf-8")
        _recorded.append(plan)
    return _recorded[0]
