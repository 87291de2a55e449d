"""Helpers for the transfer tests: plan builders, a world that follows the commands,
and, for the end-to-end tests, a connected call to transfer.

:class:`World` plays the softswitch for a pure :class:`transfer.TransferPlan`:
it applies each command to a model of the parties (who is bridged, who holds,
whether the consultee leg is up, whether the agent was released) so tests can
assert invariants after any sequence of events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import transfer as tr

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LEG = tr.LegId("c-1-k1")

TARGETS = {
    "number": tr.Target(tr.TargetKind.NUMBER, "85595599", "PJSIP/85595599@carrier", "water"),
    "line": tr.Target(tr.TargetKind.LINE, "12319", "PJSIP/12319@hotline-12319", "数字城管"),
    "emergency": tr.Target(tr.TargetKind.EMERGENCY, "110", "PJSIP/110@carrier", "报警电话"),
    "agent": tr.Target(tr.TargetKind.AGENT, "1004", "PJSIP/8002", "刘洋"),
    "queue": tr.Target(tr.TargetKind.QUEUE, "senior"),
}

# The events a test can name, as the shell would deliver them.
EVENTS: dict[str, tr.Event] = {
    "answer": tr.ConsulteeAnswered(),
    "busy": tr.ConsulteeFailed(tr.FailReason.BUSY),
    "no_answer": tr.ConsulteeFailed(tr.FailReason.NO_ANSWER),
    "failed": tr.ConsulteeFailed(tr.FailReason.FAILED),
    "timeout": tr.RingTimeout(),
    "consultee_hangup": tr.ConsulteeGone(),
    "caller_hangup": tr.CallerGone(),
    "agent_hangup": tr.AgentGone(),
    "queue_answer": tr.QueueAnswered(),
    "join": tr.Join(),
    "complete": tr.Complete(),
    "cancel": tr.Cancel(),
}


def plan_for(mode: str, target: str = "line", *, held: bool = False) -> tr.TransferPlan:
    return tr.TransferPlan(
        LEG, tr.Mode(mode), TARGETS[target], "1003", ring_timeout_s=30.0, caller_held=held
    )


@dataclass
class World:
    """The parties as the commands leave them (see the module docstring)."""

    plan: tr.TransferPlan
    held: bool = False
    now: dt.datetime = T0
    caller_bridged: bool = True
    caller_held: bool = False
    caller_up: bool = True
    agent_bridged: bool = True
    agent_up: bool = True
    consultee: str = "none"  # none | ringing | up | gone
    consultee_bridged: bool = False
    releases: int = 0
    timer: bool = False
    legs: list[tr.LegRecord] = field(default_factory=list)
    commands: list[tr.Command] = field(default_factory=list)
    requeued: bool = False
    taken_over: bool = False
    handed_over: bool = False
    survey: bool = False
    notices: list[tr.Notify] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.held:
            self.caller_bridged, self.caller_held = False, True

    def start(self) -> list[tr.Command]:
        return self._apply(self.plan.start(self.now))

    def feed(self, name: str, *, seconds: float = 1.0) -> list[tr.Command]:
        """Deliver the event ``name`` ``seconds`` later; what the softswitch says happened
        happens in the world too (an answer brings the leg up, a hang-up takes it down)."""
        self.now += dt.timedelta(seconds=seconds)
        event = EVENTS[name]
        if name == "answer":
            if self.consultee != "none":  # only a leg that was dialled can answer
                self.consultee = "up"
        elif name in ("busy", "no_answer", "failed"):
            if self.consultee == "ringing":  # a Dial verdict comes only before an answer
                self.consultee = "gone"
        elif name == "consultee_hangup":
            if self.consultee != "none":
                self.consultee, self.consultee_bridged = "gone", False
        elif name == "caller_hangup":
            self.caller_up, self.caller_bridged, self.caller_held = False, False, False
        elif name == "agent_hangup":
            self.agent_up, self.agent_bridged = False, False
        elif name == "timeout":
            self.timer = False
        return self._apply(self.plan.handle(event, self.now))

    def _apply(self, commands: list[tr.Command]) -> list[tr.Command]:
        self.commands += commands
        for command in commands:
            match command:
                case tr.Originate():
                    assert self.consultee == "none", "one consultee leg per plan"
                    self.consultee = "ringing"
                case tr.StartTimer():
                    self.timer = True
                case tr.CancelTimer():
                    self.timer = False
                case tr.Bridge():
                    for party in command.parties:
                        self._bridge(party, True)
                case tr.Unbridge():
                    self._bridge(command.party, False)
                case tr.Hold():
                    assert command.party is tr.Party.CALLER
                    self.caller_held = True
                case tr.Unhold():
                    self.caller_held = False
                case tr.Hangup():
                    assert command.party is tr.Party.CONSULTEE
                    self.consultee, self.consultee_bridged = "gone", False
                case tr.ReleaseAgent():
                    self.releases += 1
                    self.agent_up, self.agent_bridged = False, False
                case tr.SendToQueue():
                    self.releases += 1
                    self.agent_up, self.agent_bridged = False, False
                    self.requeued = True
                case tr.Requeue():
                    self.requeued = True
                case tr.HandOver():
                    self.handed_over = True
                case tr.TakeOver():
                    self.taken_over = True
                case tr.AfterHandOver():
                    self.survey = True
                case tr.Notify():
                    self.notices.append(command)
                case tr.LegEnded():
                    self.legs.append(command.leg)
        return commands

    def _bridge(self, party: tr.Party, inside: bool) -> None:
        if party is tr.Party.CALLER:
            assert self.caller_up or not inside, "a caller who left cannot be bridged"
            self.caller_bridged = inside
        elif party is tr.Party.CONSULTEE:
            assert self.consultee == "up" or not inside, "only an answered consultee is bridged"
            self.consultee_bridged = inside
        else:
            self.agent_bridged = inside

    def check(self) -> None:
        """The invariants every state of every plan keeps."""
        plan = self.plan
        assert self.releases <= 1, "the agent is released at most once"
        assert len(self.legs) == (1 if plan.done else 0), "one leg record, when done"
        if plan.done:
            (leg,) = self.legs
            assert leg.outcome is plan.outcome
            assert leg.started_by == "1003" and leg.started_at == T0
            assert leg.duration_s == (self.plan.ended_at - T0).total_seconds()  # type: ignore[operator]
            assert not self.timer, "no deadline outlives the plan"
            if not self.taken_over:
                assert self.consultee in ("none", "gone"), "no consultee left up"
            if self.caller_up and not self.requeued and not self.survey:
                assert not self.caller_held, "the caller is not left on hold"
                assert self.caller_bridged, "the caller is back in the bridge"
        if self.caller_held:
            assert not self.caller_bridged, "on hold means out of the bridge"
        if plan.state is tr.State.CONFERENCE:
            assert self.caller_bridged and self.consultee_bridged
        if plan.state is tr.State.CONSULTING:
            assert self.caller_held and self.consultee_bridged
        if plan.state is tr.State.HANDED_OVER:
            assert self.releases == 1 and self.handed_over
            assert self.caller_bridged and self.consultee_bridged and not self.caller_held


def kinds(commands: list[Any]) -> list[str]:
    return [type(c).__name__ for c in commands]


# ---------------------------------------------------------------- end to end

CALLER = "13800138000"
NAME = "张三市民"
SURVEY = "sound:hotline/zh/survey-question"


def quick_config(data: Any) -> None:
    """queues.yaml: no wrap-up, so an agent's handled call is counted the moment they leave."""
    for queue in data["queues"].values():
        queue["wrapup"] = 0


def short_ring(data: Any) -> None:
    """engine.yaml: consultee legs ring 5 s (0.5 s at the tests' time scale)."""
    data["outbound"]["originate_timeout"] = 5


PATCHES = {"queues.yaml": quick_config, "engine.yaml": short_ring}


async def connected_call(
    stack: Any, agent: str, seat: str, caller: Any | None
) -> tuple[Any, Any, str]:
    """Log ``agent`` in at ``seat`` and place ``caller``'s call (None: a call already
    waits); (call, handle, token) once the agent is bridged with the caller."""
    from switchboard import CallPhase

    token = await stack.login(agent, seat)
    handle = stack.sim.place_call(caller) if caller is not None else None

    def bridged() -> Any:
        call = stack.engine.current_call_of(agent)
        if call is not None and call.phase is CallPhase.CONNECTED and call.bridge_id:
            return call
        return None

    call = await stack.sim.wait_for(bridged, timeout=10, what="a connected call")
    await stack.engine.drain()
    return call, handle, token


async def members(stack: Any, bridge_id: str) -> set[str]:
    """The channels in a bridge, as Asterisk (pbxsim) reports them over ARI."""
    bridge = await stack.engine.pbx.ari.bridges.get(bridge_id)
    return set(bridge.channels)


async def rows(stack: Any, call_id: str) -> list[dict[str, Any]]:
    """The call's timeline with times, in order."""
    await stack.flushed()
    found = await stack.db.fetch(
        "SELECT at, kind, agent, detail FROM call_events WHERE call_id = $1 ORDER BY at, id",
        call_id,
    )
    return [dict(r) for r in found]


def first(timeline: list[dict[str, Any]], kind: str, **detail: Any) -> dict[str, Any]:
    for row in timeline:
        if row["kind"] == kind and all(row["detail"].get(k) == v for k, v in detail.items()):
            return row
    raise AssertionError(f"no {kind} {detail} in {[r['kind'] for r in timeline]}")


def handled(stack: Any, agent: str) -> Any:
    import acd

    return stack.engine.acd.agent_figures(acd.AgentId(agent), stack.engine.now())


def assert_handle_time(stack: Any, agent: str, start: dict[str, Any], end: dict[str, Any]) -> None:
    """The agent handled exactly one call, from ``start``'s row to ``end``'s (no wrap-up)."""
    figures = handled(stack, agent)
    expected = (end["at"] - start["at"]).total_seconds()
    assert figures.handled == 1, figures
    assert figures.avg_handle_s is not None
    assert abs(figures.avg_handle_s - expected) < 0.15, (figures.avg_handle_s, expected)
