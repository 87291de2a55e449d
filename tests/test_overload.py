"""Overload: arrivals beyond a queue's maximum length get its treatment at once, and the
calls already in progress are served as promptly as before.

The general queue holds at most two callers.  Two calls are talking to the two
agents, two callers wait (the queue is full).  Then a burst of callers
arrives all at once, and at the same moment an agent hangs up a call in
progress.  Every caller of the burst must get the queue's overflow treatment
(the callback list, or a prompt and a hang-up) in the same decision that
found the queue full; the two waiting callers keep their places; the call
in progress goes on to its satisfaction survey as fast as an identical one
did before the burst (the engine's reaction, measured on pbxsim's clock:
the agent leg's ``StasisEnd`` to the survey's play request).

The first test holds that reaction to a bound that catches a call in progress
starved for the length of the burst; the second states the issue's stronger
"does not degrade" (within twice the reaction before the burst), which the
engine does not meet yet: it is marked as an expected failure, strictly, so
that the fix shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cti.engine.call import Call, CallPhase
from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.resilience

BURST = 100
PHONES = [PhoneScript(e, answer_after=0.5, hangup_after=None) for e in ("8001", "8002")]
SURVEY = "survey-question"
RATING = (DigitPress(at=0.3, digits="2", on_media=f"sound:hotline/zh/{SURVEY}"),)
# The reaction to an agent's hang-up under the burst may be this many times the
# reaction before it (or this many seconds, on a slow machine) and no more.
SLOWER_AT_MOST = 5.0
SECONDS_AT_MOST = 0.5
# "Keeps its latency": within twice the reaction before the burst, or 30 ms.
KEPT_FACTOR = 2.0
KEPT_FLOOR_S = 0.03


def _patches(overflow: dict[str, Any]) -> dict[str, Callable[[Any], None]]:
    def queues(data: Any) -> None:
        general = data["queues"]["general"]
        general["max_length"] = 2
        general["overflow"] = overflow

    def routing(data: Any) -> None:
        data["routes"]["main"].pop("notice", None)  # straight to the queue

    return {"queues.yaml": queues, "routing.yaml": routing}


async def _until(stack: Stack, what: str, predicate: Callable[[], bool]) -> None:
    await stack.sim.wait_for(predicate, timeout=15.0, what=what)


def _in(stack: Stack, phase: CallPhase) -> list[Call]:
    return [c for c in stack.engine.calls.values() if c.phase is phase]


def _reaction(stack: Stack, call: Call, leg: str) -> float:
    """Seconds from the agent leg's StasisEnd to the survey's play request for ``call``."""
    (left,) = [
        r.at
        for r in stack.sim.world.events
        if r.event["type"] == "StasisEnd" and r.event["channel"]["id"] == leg
    ]
    plays = [
        r.at
        for r in stack.sim.requests
        if r.method == "POST"
        and r.path.startswith(f"/channels/{call.caller_channel}/play")
        and SURVEY in str(r.params.get("media", ""))
    ]
    assert plays, f"no survey played to {call}"
    return plays[0] - left


def _reaction_known(stack: Stack, call: Call) -> bool:
    return any(
        r.path.startswith(f"/channels/{call.caller_channel}/play") for r in stack.sim.requests
    )


async def _hang_up_agent(stack: Stack, call: Call, endpoint: str) -> float:
    leg = call.agent_channel
    assert leg is not None
    assert stack.sim.hangup_phone(endpoint) == 1
    await _until(stack, "the survey", lambda: call.phase is CallPhase.SURVEY)
    await _until(stack, "the survey prompt", lambda: _reaction_known(stack, call))
    return _reaction(stack, call, leg)


@dataclass
class Overloaded:
    """What the scenario of the module docstring left behind."""

    stack: Stack
    talking: dict[str, Call]  # by agent
    waiting: list[Call]  # in order of arrival
    treated: list[Call]  # the burst
    before: float  # reaction to an agent's hang-up, before the burst (seconds)
    during: float  # the same, during the burst


async def _overload(stack: Stack, burst_size: int) -> Overloaded:
    await stack.login("1001", "s01")
    await stack.login("1002", "s02")
    for n in (1, 2):
        stack.sim.place_call(CallerScript(number=f"1390000000{n}", digits=RATING))
    await _until(stack, "two calls talking", lambda: len(_in(stack, CallPhase.CONNECTED)) == 2)
    talking = {str(c.agent): c for c in _in(stack, CallPhase.CONNECTED)}
    for n in (1, 2):
        stack.sim.place_call(CallerScript(number=f"1370000000{n}"))
    await _until(stack, "two callers waiting", lambda: len(_in(stack, CallPhase.QUEUED)) == 2)
    waiting = sorted(_in(stack, CallPhase.QUEUED), key=lambda c: c.arrived_at)

    before = await _hang_up_agent(stack, talking["1002"], "8002")
    burst = [
        stack.sim.place_call(CallerScript(number=f"1360000{i:04d}")) for i in range(burst_size)
    ]
    during = await _hang_up_agent(stack, talking["1001"], "8001")

    def burst_over() -> bool:
        numbers = {c.caller_number for c in stack.ended}
        return all(h.script.number in numbers for h in burst)

    await _until(stack, "every caller of the burst treated", burst_over)
    treated = [c for c in stack.ended if c.caller_number.startswith("136")]
    return Overloaded(stack, talking, waiting, treated, before, during)


async def _finish(o: Overloaded) -> None:
    """The rated calls end; the waiting callers hang up, so that the stack stops clean."""
    stack = o.stack
    await _until(stack, "both rated calls over", lambda: all(c.ended for c in o.talking.values()))
    handles = {h.channel_id: h for h in stack.sim.world.calls.values()}
    for call in o.waiting:
        stack.sim.hangup_call(handles[call.caller_channel])
    await _until(stack, "the waiting callers gone", lambda: all(c.ended for c in o.waiting))


@pytest.mark.parametrize(
    ("overflow", "outcome", "heard"),
    [
        ({"action": "callback", "prompt": "callback_confirm"}, "callback", "callback-confirm"),
        ({"action": "prompt_hangup", "prompt": "goodbye"}, "overflowed", "goodbye"),
    ],
    ids=["callback", "prompt_hangup"],
)
async def test_arrivals_beyond_the_maximum_get_the_treatment_at_once(
    tmp_path: Path, empty_dsn: str, overflow: dict[str, Any], outcome: str, heard: str
) -> None:
    async with running_stack(
        tmp_path, empty_dsn, patches=_patches(overflow), phones=PHONES
    ) as stack:
        o = await _overload(stack, BURST)
        # The call in progress was not held up for the length of the burst.
        assert o.during <= max(SLOWER_AT_MOST * o.before, SECONDS_AT_MOST), (o.before, o.during)

        # Each caller of the burst: the overflow decided with the queueing, the treatment heard.
        assert len(o.treated) == BURST
        assert {c.outcome for c in o.treated} == {outcome}
        await stack.flushed()
        rows = await stack.db.fetch(
            "SELECT call_id, kind, at, detail FROM call_events"
            " WHERE call_id = ANY($1::text[]) ORDER BY at, id",
            [c.call_id for c in o.treated],
        )
        for call in o.treated:
            mine = [r for r in rows if r["call_id"] == call.call_id]
            kinds = [r["kind"] for r in mine]
            assert kinds.index("queued") < kinds.index("overflow"), kinds
            queued = next(r for r in mine if r["kind"] == "queued")
            over = next(r for r in mine if r["kind"] == "overflow")
            assert over["detail"]["reason"] == "full"
            assert (over["at"] - queued["at"]).total_seconds() < 0.05
            played = stack.sim.channel_log(call.caller_channel).media_played
            assert any(heard in m for m in played), played
        listed = await stack.db.fetch("SELECT call_id FROM callbacks")
        expected = {c.call_id for c in o.treated} if outcome == "callback" else set()
        assert {r["call_id"] for r in listed} == expected

        # The waiting callers kept their places; nobody of the burst got in.
        assert [c.phase for c in o.waiting] == [CallPhase.QUEUED, CallPhase.QUEUED]
        view = stack.engine.acd.queue_view("general", stack.engine.now())
        assert view is not None and view.waiting == 2

        # The calls in progress end as they would have: answered and rated.
        await _finish(o)
        for call in o.talking.values():
            row = await stack.call_row(call.call_id)
            assert (row["outcome"], row["rating"]) == ("answered", 2)


@pytest.mark.xfail(
    strict=True,
    reason="nothing gives calls in progress precedence over new arrivals: under a burst of "
    "100, about 300 ARI requests of the burst reach pbxsim before the first one of the call "
    "in progress (about 15 ms before the burst, 230 ms during it)",
)
async def test_calls_in_progress_keep_their_latency_through_a_burst(
    tmp_path: Path, empty_dsn: str
) -> None:
    overflow = {"action": "callback", "prompt": "callback_confirm"}
    async with running_stack(
        tmp_path, empty_dsn, patches=_patches(overflow), phones=PHONES
    ) as stack:
        o = await _overload(stack, BURST)
        await _finish(o)
        assert o.during <= max(KEPT_FACTOR * o.before, KEPT_FLOOR_S), (o.before, o.during)
