"""The request gate (oldest call first) and the arrivals that wait their turn."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from cti.engine.arrivals import Arrivals
from cti.engine.gate import PriorityGate

pytestmark = pytest.mark.resilience

DEADLINE = 5.0


async def _settle() -> None:
    """Let every task that can run, run (a few loop turns; nothing here sleeps)."""
    for _ in range(10):
        await asyncio.sleep(0)


class Holders:
    """Tasks that take a gate slot, note the order they got it, and hold it until told."""

    def __init__(self, gate: PriorityGate) -> None:
        self.gate = gate
        self.order: list[str] = []
        self.release: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, rank: float) -> None:
        self.release[name] = asyncio.Event()

        async def hold() -> None:
            async with self.gate.slot(rank):
                self.order.append(name)
                await self.release[name].wait()

        self.tasks[name] = asyncio.get_running_loop().create_task(hold())

    async def finish(self, name: str) -> None:
        self.release[name].set()
        async with asyncio.timeout(DEADLINE):
            await self.tasks[name]
        await _settle()


async def test_at_most_the_slots_hold_at_once_and_the_oldest_call_goes_next() -> None:
    gate = PriorityGate(2)
    h = Holders(gate)
    h.start("a", 10.0)
    h.start("b", 11.0)
    await _settle()
    h.start("burst-1", 50.0)
    h.start("burst-2", 51.0)
    h.start("old", 5.0)  # a call in progress, older than the burst, asks last
    h.start("old-too", 5.0)  # same rank: first come, first served
    await _settle()
    assert h.order == ["a", "b"]
    assert (gate.busy, gate.waiting) == (2, 4)
    assert not gate.free()

    await h.finish("a")
    assert h.order[-1] == "old"
    await h.finish("b")
    assert h.order[-1] == "old-too"
    await h.finish("old")
    await h.finish("old-too")
    assert h.order[-2:] == ["burst-1", "burst-2"]
    await h.finish("burst-1")
    await h.finish("burst-2")
    assert (gate.busy, gate.waiting) == (0, 0)
    assert gate.free()


async def test_a_cancelled_waiter_gives_up_its_place_and_never_leaks_a_slot() -> None:
    gate = PriorityGate(1)
    h = Holders(gate)
    h.start("holder", 1.0)
    h.start("leaves", 2.0)
    h.start("stays", 3.0)
    await _settle()
    h.tasks["leaves"].cancel()
    await _settle()
    assert gate.waiting == 1
    await h.finish("holder")
    assert h.order == ["holder", "stays"]
    await h.finish("stays")
    assert (gate.busy, gate.waiting) == (0, 0)


async def test_a_waiter_cancelled_as_the_slot_reaches_it_passes_the_slot_on() -> None:
    gate = PriorityGate(1)
    h = Holders(gate)
    h.start("holder", 1.0)
    h.start("next", 2.0)
    h.start("after", 3.0)
    await _settle()
    h.release["holder"].set()
    await asyncio.sleep(0)  # the holder leaves and hands the slot to "next" ...
    h.tasks["next"].cancel()  # ... which is cancelled before it runs
    await _settle()
    assert h.order == ["holder", "after"]
    await h.finish("after")
    assert (gate.busy, gate.waiting) == (0, 0)


async def test_growing_the_gate_starts_waiters_at_once_and_until_free_waits_for_a_slot() -> None:
    gate = PriorityGate(1)
    h = Holders(gate)
    h.start("a", 1.0)
    h.start("b", 2.0)
    h.start("c", 3.0)
    await _settle()
    free = asyncio.get_running_loop().create_task(gate.until_free())
    await _settle()
    assert not free.done()
    gate.resize(3)
    await _settle()
    assert h.order == ["a", "b", "c"]
    assert not free.done()  # three slots, three holders
    await h.finish("b")
    async with asyncio.timeout(DEADLINE):
        await free
    for name in ("a", "c"):
        await h.finish(name)
    with pytest.raises(ValueError, match="at least one slot"):
        gate.resize(0)


# -- arrivals ------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    id: str


@dataclass(frozen=True)
class Event:
    type: str
    channel: Channel
    n: int = 0


@dataclass
class Decisions:
    """What the engine would decide, in order: (type, channel)."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    more: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: Any) -> None:
        self.seen.append((event.type, event.channel.id))
        self.more.set()

    async def count(self, n: int) -> None:
        async with asyncio.timeout(DEADLINE):
            while len(self.seen) < n:
                self.more.clear()
                await self.more.wait()


async def test_arrivals_are_decided_in_order_with_their_held_events_right_behind() -> None:
    gate = PriorityGate(4)
    decided = Decisions()
    arrivals = Arrivals(decided, gate)
    for n in range(3):
        arrivals.arrive(Event("StasisStart", Channel(f"new-{n}")))
    assert arrivals.hold(Event("ChannelDtmfReceived", Channel("new-1")))
    assert arrivals.hold(Event("StasisEnd", Channel("new-1")))
    assert not arrivals.hold(Event("StasisEnd", Channel("in-progress")))
    stray = Event("BridgeCreated", {"id": "new-1"})  # type: ignore[arg-type]
    assert not arrivals.hold(stray)  # a stray "channel" field is not a channel
    assert arrivals.channels() == {"new-0", "new-1", "new-2"}
    assert decided.seen == []  # nothing decided while the reader reads

    await decided.count(5)
    assert len(arrivals) == 0
    assert decided.seen == [
        ("StasisStart", "new-0"),
        ("StasisStart", "new-1"),
        ("ChannelDtmfReceived", "new-1"),
        ("StasisEnd", "new-1"),
        ("StasisStart", "new-2"),
    ]
    assert arrivals.channels() == frozenset()


async def test_arrivals_wait_while_every_slot_is_taken_and_admit_all_decides_at_once() -> None:
    gate = PriorityGate(1)
    h = Holders(gate)
    h.start("in-progress", 1.0)
    await _settle()
    decided = Decisions()
    arrivals = Arrivals(decided, gate)
    arrivals.arrive(Event("StasisStart", Channel("a")))
    arrivals.arrive(Event("StasisStart", Channel("b")))
    await _settle()
    assert decided.seen == []  # the gate is full: deciding them would only add waiting work
    await h.finish("in-progress")
    await decided.count(2)
    assert decided.seen == [("StasisStart", "a"), ("StasisStart", "b")]

    h.start("again", 1.0)
    await _settle()
    arrivals.arrive(Event("StasisStart", Channel("c")))
    assert arrivals.hold(Event("StasisEnd", Channel("c")))
    arrivals.admit_all()  # e.g. before reconciling after a reconnect
    assert decided.seen[-2:] == [("StasisStart", "c"), ("StasisEnd", "c")]
    await h.finish("again")
    arrivals.cancel()
