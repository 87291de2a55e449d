"""One engine, two Asterisk nodes (two pbxsim instances): calls on both reach agents, every
request about a call goes to its node, a node that dies ends its calls as ``node_lost``
while the other node's calls go on, and a drained node takes no new call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, PbxSim, PhoneScript
from tests.support.nodes import NodesStack, running_nodes

pytestmark = pytest.mark.availability

SUPERVISOR = "nodes-supervisor"
AGENTS = [("1001", "s01"), ("1002", "s02"), ("1003", "s03"), ("1004", "s04")]
PHONES = tuple(PhoneScript(f"800{n}", answer_after=0.2) for n in range(1, 5))


@pytest.fixture(autouse=True)
def _supervisor_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOTLINE_SUPERVISOR_TOKEN", SUPERVISOR)
    yield


def _patches() -> dict[str, Any]:
    def queues(data: Any) -> None:
        general = data["queues"]["general"]
        general["wrapup"] = 0
        general["ring_timeout"] = 60
        general["max_wait"] = 600
        del general["announce"]

    def survey(data: Any) -> None:
        data["timeout"] = 1
        data["max_attempts"] = 1

    return {"queues.yaml": queues, "survey.yaml": survey}


async def _until(predicate: Any, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


def _talking(nodes: NodesStack) -> dict[str, str]:
    """The engine's calls being talked, by call id: the node of each caller's channel."""
    return {
        call.call_id: nodes.node_of(call.inbound.facts.caller_channel)
        for call in nodes.stack.engine.calls.values()
        if call.public_state == "talking"
    }


def _requests_about(sim: PbxSim, ids: set[str]) -> list[str]:
    """The ARI requests ``sim`` received whose path names one of ``ids``."""
    return [f"{r.method} {r.path}" for r in sim.requests if any(i in r.path for i in ids)]


def _bridges(sim: PbxSim) -> set[str]:
    """The bridges ``sim``'s channels were put in."""
    return {bridge for log in sim.world.logs.values() for bridge in log.bridges}


def _hang_up_caller(sim: PbxSim, channel: str) -> None:
    handle = next(h for h in sim.world.calls.values() if h.channel_id == channel)
    assert sim.hangup_call(handle)


async def _health(nodes: NodesStack) -> dict[str, Any]:
    async with nodes.stack.http.get(f"{nodes.stack.url}/healthz") as reply:
        body: dict[str, Any] = await reply.json()
        return body


async def _metrics(nodes: NodesStack) -> str:
    headers = {"Authorization": f"Bearer {SUPERVISOR}"}
    async with nodes.stack.http.get(f"{nodes.stack.url}/metrics", headers=headers) as reply:
        assert reply.status == 200
        return await reply.text()


async def test_calls_on_two_nodes_and_one_node_lost(tmp_path: Path, empty_dsn: str) -> None:
    async with running_nodes(
        tmp_path, empty_dsn, patches=_patches(), phones=PHONES, lost_after=1.0
    ) as nodes:
        stack, a, b = nodes.stack, nodes.sims["ast-a"], nodes.sims["ast-b"]
        health = await _health(nodes)
        assert [(n["name"], n["state"], n["ari"]) for n in health["nodes"]] == [
            ("ast-a", "up", "connected"),
            ("ast-b", "up", "connected"),
        ]
        for agent, seat in AGENTS:
            await stack.login(agent, seat)
        for n in range(2):
            a.place_call(CallerScript(number=f"1380000000{n}"))
            b.place_call(CallerScript(number=f"1390000000{n}"))
        await _until(lambda: len(_talking(nodes)) == 4, 30, "four calls talking")
        talking = _talking(nodes)
        on_a = {call for call, node in talking.items() if node == "ast-a"}
        on_b = {call for call, node in talking.items() if node == "ast-b"}
        assert len(on_a) == len(on_b) == 2

        # Every leg, bridge and request of a call went to the caller's node, none to the other.
        engine = stack.engine
        ids = {node: set() for node in ("ast-a", "ast-b")}
        for call_id, node in talking.items():
            facts = engine.calls[call_id].inbound.facts
            ids[node] |= {facts.caller_channel, str(facts.agent_leg), call_id}
        for node, sim in (("ast-a", a), ("ast-b", b)):
            other = nodes.sims["ast-b" if node == "ast-a" else "ast-a"]
            assert _requests_about(sim, ids[node]), f"no request about {node}'s calls reached it"
            assert not _requests_about(other, ids[node]), f"{node}'s calls asked of the other node"
            await _until(lambda sim=sim: len(_bridges(sim)) == 2, 10, f"two bridges on {node}")

        agents_on_a = {str(engine.calls[c].agent) for c in on_a}
        await a.stop()  # node a dies with its two calls
        await stack.wait_ended(2, timeout=20)
        ended = {call.call_id for call in stack.ended}
        assert ended == on_a
        for call_id in on_a:
            row = await stack.call_row(call_id)
            assert row["end_reason"] == "node_lost", dict(row)
            assert row["ended_at"] is not None and row["outcome"] is not None
        health = await _health(nodes)
        assert [(n["name"], n["state"]) for n in health["nodes"]] == [
            ("ast-a", "down"),
            ("ast-b", "up"),
        ]
        metrics = await _metrics(nodes)
        assert 'hotline_node_up{node="ast-a"} 0.0' in metrics
        assert 'hotline_node_up{node="ast-b"} 1.0' in metrics
        headers = {"Authorization": f"Bearer {SUPERVISOR}"}
        async with stack.http.get(f"{stack.url}/api/wallboard", headers=headers) as reply:
            alarms = (await reply.json())["alarms"]
        lost = [a for a in alarms if a["figure"] == "node"]
        assert [(a["scope"], a["level"], a["cleared_at"]) for a in lost] == [("ast-a", "red", None)]

        # The other node's calls go on; the freed agents take a new call on node b.
        assert set(_talking(nodes)) == on_b
        await _until(
            lambda: all(engine.current_call_of(agent) is None for agent in agents_on_a),
            10,
            "the agents of node a's calls freed",
        )
        b.place_call(CallerScript(number="13700000001"))
        await _until(lambda: len(_talking(nodes)) == 3, 30, "a new call on node b talking")
        new = set(_talking(nodes)) - on_b
        assert {str(engine.calls[c].agent) for c in new} <= agents_on_a

        for call_id in sorted(on_b | new):
            _hang_up_caller(b, engine.calls[call_id].inbound.facts.caller_channel)
        await stack.wait_ended(5, timeout=20)
        for call_id in sorted(on_b | new):
            row = await stack.call_row(call_id)
            assert row["outcome"] == "answered", dict(row)
            assert row["end_reason"] != "node_lost"
            assert row["answered_at"] is not None and row["ended_at"] is not None


async def test_a_drained_node_takes_no_new_call_and_finishes_its_own(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with running_nodes(tmp_path, empty_dsn, patches=_patches(), phones=PHONES) as nodes:
        stack, a, b = nodes.stack, nodes.sims["ast-a"], nodes.sims["ast-b"]
        for agent, seat in AGENTS[:3]:
            await stack.login(agent, seat)
        b.place_call(CallerScript(number="13900000001"))
        await _until(lambda: len(_talking(nodes)) == 1, 30, "a call talking on node b")
        (in_progress,) = _talking(nodes)

        headers = {"Authorization": f"Bearer {SUPERVISOR}"}
        drain = f"{stack.url}/api/nodes/ast-b/drain"
        async with stack.http.post(drain, json={"drain": True}) as refused:
            assert refused.status == 401
        async with stack.http.post(drain, json={"drain": "yes"}, headers=headers) as bad:
            assert bad.status == 400
        async with stack.http.post(
            f"{stack.url}/api/nodes/ast-z/drain", json={"drain": True}, headers=headers
        ) as missing:
            assert missing.status == 404
        async with stack.http.post(drain, json={"drain": True}, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
            body = await reply.json()
        assert body["state"] == "draining" and body["calls"] == 1

        # A caller arriving on the drained node is refused with congestion (SIP 503).
        refused_call = b.place_call(CallerScript(number="13900000002"))

        def refused() -> bool:
            log = b.call_log(refused_call)
            return log is not None and log.destroyed

        await _until(refused, 10, "the new caller on node b refused")
        log = b.call_log(refused_call)
        assert log is not None and log.hangup_cause == 34, log  # congestion: SIP 503
        assert len(stack.engine.calls) == 1
        # Node a still takes calls; node b's call in progress goes on to its end.
        a.place_call(CallerScript(number="13800000001"))
        await _until(lambda: len(_talking(nodes)) == 2, 30, "a call talking on node a")
        assert in_progress in _talking(nodes)
        _hang_up_caller(b, stack.engine.calls[in_progress].inbound.facts.caller_channel)
        (ended,) = await stack.wait_ended(1, timeout=20)
        assert ended.call_id == in_progress
        row = await stack.call_row(in_progress)
        assert row["outcome"] == "answered" and row["end_reason"] != "node_lost"

        async with stack.http.get(f"{stack.url}/api/nodes", headers=headers) as listed:
            states = {n["name"]: n["state"] for n in await listed.json()}
        assert states == {"ast-a": "up", "ast-b": "draining"}
        async with stack.http.post(drain, json={"drain": False}, headers=headers) as back:
            assert (await back.json())["state"] == "up"
        await stack.flushed()
        audit = await stack.db.fetch("SELECT action, target, allowed FROM audit_log ORDER BY id")
        done = [(r["action"], r["target"]) for r in audit if r["allowed"]]
        assert done == [("node_drain", "node:ast-b"), ("node_undrain", "node:ast-b")]
        refused = [r["target"] for r in audit if not r["allowed"]]
        assert len(refused) == 3, refused  # no token, a bad body, no such node


async def test_a_node_down_at_start_joins_when_it_answers(tmp_path: Path, empty_dsn: str) -> None:
    async with running_nodes(
        tmp_path, empty_dsn, patches=_patches(), phones=PHONES, late=("ast-b",)
    ) as nodes:
        stack, a, b = nodes.stack, nodes.sims["ast-a"], nodes.sims["ast-b"]
        health = await _health(nodes)
        assert [(n["name"], n["state"]) for n in health["nodes"]] == [
            ("ast-a", "up"),
            ("ast-b", "down"),
        ]
        for agent, seat in AGENTS[:2]:
            await stack.login(agent, seat)
        a.place_call(CallerScript(number="13800000001"))
        await _until(lambda: len(_talking(nodes)) == 1, 30, "a call talking on node a")

        await b.start()  # node b's Asterisk comes up: the engine connects and takes its calls

        async def b_up() -> bool:
            states = {n["name"]: n["state"] for n in (await _health(nodes))["nodes"]}
            return states == {"ast-a": "up", "ast-b": "up"}

        async with asyncio.timeout(30):
            while not await b_up():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        b.place_call(CallerScript(number="13900000001"))
        await _until(lambda: len(_talking(nodes)) == 2, 30, "a call talking on node b too")
        assert sorted(_talking(nodes).values()) == ["ast-a", "ast-b"]
