"""A crowd of calls in progress, for the tests that kill, freeze or replace an engine.

Agents 1001.. on seats s01.. answer from phones 8001..: the first ``bridged`` of
them talk, the next ``ringing`` let their phone ring unanswered; ``queued``
callers wait behind them and ``menu`` callers walk the main menu (dialled as
12346, routed to it by :func:`fifty_patches`).  The test reads the crowd back
through the supervisor's live call list, as a wallboard would.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from pbxsim import CallerScript, PbxSim, PhoneScript

MENU_NUMBER = "12346"


@dataclass(frozen=True)
class Crowd:
    bridged: int
    ringing: int
    queued: int
    menu: int = 0

    @property
    def calls(self) -> int:
        return self.bridged + self.ringing + self.queued + self.menu

    @property
    def agents(self) -> list[str]:
        return [f"{1000 + n}" for n in range(1, self.bridged + self.ringing + 1)]

    @property
    def states(self) -> dict[str, int]:
        """The live call list's states once every call of the crowd is in place."""
        want = {"talking": self.bridged, "waiting": self.ringing + self.queued}
        return want | ({"ivr": self.menu} if self.menu else {})

    def phones(self) -> tuple[PhoneScript, ...]:
        talking = [PhoneScript(f"80{n:02d}", answer_after=0.2) for n in range(1, self.bridged + 1)]
        silent = [
            PhoneScript(f"80{n:02d}", answer_after=None)
            for n in range(self.bridged + 1, self.bridged + self.ringing + 1)
        ]
        return tuple(talking + silent)

    def ringing_now(self, sims: Sequence[PbxSim]) -> int:
        """Agent phones of the crowd ringing unanswered right now, on any node."""
        return sum(
            1
            for sim in sims
            for n in range(self.bridged + 1, self.bridged + self.ringing + 1)
            for log in sim.phone_logs(f"80{n:02d}")
            if not log.destroyed and not log.answered
        )


def fifty_patches() -> dict[str, Any]:
    """Config for 50 calls held at once: every agent skilled enough, no wrap-up, long
    rings and waits, a menu line."""

    def queues(data: Any) -> None:
        general = data["queues"]["general"]
        # Every agent of the crowd is offered at once: no agent waits out a relaxation.
        general["skills"] = [{"skill": "general", "min_level": 1}]
        general["wrapup"] = 0
        general["ring_timeout"] = 60
        general["max_wait"] = 600
        del general["announce"]

    def routing(data: Any) -> None:
        data["numbers"] = [{"number": MENU_NUMBER, "route": "menu_route"}]
        data["routes"]["menu_route"] = {"menu": "main"}

    def survey(data: Any) -> None:
        data["timeout"] = 1
        data["max_attempts"] = 1

    return {"queues.yaml": queues, "routing.yaml": routing, "survey.yaml": survey}


async def live_calls(http: aiohttp.ClientSession, url: str, token: str) -> list[dict[str, Any]]:
    """The supervisor's live call list; empty while the engine does not answer."""
    try:
        async with http.get(
            f"{url}/api/supervisor/calls", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            if r.status != 200:
                return []
            data: list[dict[str, Any]] = await r.json()
            return data
    except aiohttp.ClientError:
        return []


async def until_states(
    http: aiohttp.ClientSession, url: str, token: str, want: dict[str, int], timeout: float
) -> None:
    """Wait until the live call list holds at least ``want`` calls in each state."""
    async with asyncio.timeout(timeout):
        while True:
            states = Counter(c["state"] for c in await live_calls(http, url, token))
            if all(states.get(k, 0) >= n for k, n in want.items()):
                return
            await asyncio.sleep(0.2)


async def until_no_calls(http: aiohttp.ClientSession, url: str, token: str, timeout: float) -> None:
    """Wait until the engine at ``url`` answers with an empty live call list."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                async with http.get(
                    f"{url}/api/supervisor/calls", headers={"Authorization": f"Bearer {token}"}
                ) as r:
                    if r.status == 200 and await r.json() == []:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


def nodes_of(sim: PbxSim | Sequence[PbxSim]) -> list[PbxSim]:
    """One pbxsim, or several nodes, as a list."""
    return [sim] if isinstance(sim, PbxSim) else list(sim)


async def gather_crowd(
    sim: PbxSim | Sequence[PbxSim],
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    crowd: Crowd,
) -> dict[str, str]:
    """Log the agents in, place the crowd's calls (taking turns among the nodes when
    there are several) and wait until all are in place.

    Returns each agent's session token.
    """
    sims = nodes_of(sim)
    tokens: dict[str, str] = {}

    async def login(agent: str, seat: str) -> None:
        async with http.post(
            f"{url}/api/agents/login", json={"agent": agent, "pin": agent, "seat": seat}
        ) as r:
            assert r.status == 200, await r.text()
            tokens[agent] = (await r.json())["token"]

    seats = [f"s{n:02d}" for n in range(1, len(crowd.agents) + 1)]
    pairs = list(zip(crowd.agents, seats, strict=True))
    # The answering agents first: idle the longest, they are offered the first calls,
    # and none of those rings a silent phone.
    await asyncio.gather(*(login(a, s) for a, s in pairs[: crowd.bridged]))
    await asyncio.gather(*(login(a, s) for a, s in pairs[crowd.bridged :]))
    for n in range(crowd.bridged):
        sims[n % len(sims)].place_call(CallerScript(number=f"1380000{n:04d}"))
    await until_states(http, url, token, {"talking": crowd.bridged}, 60)
    for n in range(crowd.ringing + crowd.queued):
        sims[n % len(sims)].place_call(CallerScript(number=f"1390000{n:04d}"))
    for n in range(crowd.menu):
        caller = CallerScript(number=f"1370000{n:04d}", dialled=MENU_NUMBER)
        sims[n % len(sims)].place_call(caller)
    await until_states(http, url, token, crowd.states, 60)
    async with asyncio.timeout(30):
        while crowd.ringing_now(sims) < crowd.ringing:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return tokens


def end_the_crowd(sim: PbxSim | Sequence[PbxSim], crowd: Crowd) -> None:
    """Every agent answers at once from now on, so everyone finishes: the talking agents
    hang up, the silent ones turn down the rings they were letting run (a caller waits
    for a free agent, not for a ring timeout of the crowd's config), and the callers
    in the menu key their way to a person (1 for 普通话 at the language prompt, then 0
    at the main menu; in a queue a key is ignored) rather than wait out its timeouts."""
    for node in nodes_of(sim):
        for n in range(1, crowd.bridged + crowd.ringing + 1):
            node.set_phone(PhoneScript(f"80{n:02d}", answer_after=0.2, hangup_after=1.0))
            node.hangup_phone(f"80{n:02d}")
        for handle in list(node.world.calls.values()):
            if handle.script.dialled == MENU_NUMBER:
                node.send_dtmf(handle, "10")


async def assert_every_call_answered_and_complete(dsn: str, crowd: Crowd) -> None:
    """One complete call record per call of the crowd, every one answered."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT * FROM calls")
    finally:
        await conn.close()
    assert len(rows) == crowd.calls
    incomplete = [r["call_id"] for r in rows if r["ended_at"] is None or r["outcome"] is None]
    assert not incomplete, incomplete
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes["answered"] == len(rows), outcomes
    for row in rows:
        assert row["arrived_at"] <= row["answered_at"] <= row["ended_at"]
