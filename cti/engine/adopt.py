"""Taking calls back after an engine restart.

Theory of operation
-------------------
Asterisk keeps the application's channels and bridges when the engine goes
away (``engine_ws_drop_and_return.jsonl``), so Asterisk is the truth about
the calls in progress.  While a call runs, the engine keeps a compact picture
of it on the caller's channel, in the variable ``HOTLINE_STATE`` (JSON: phase,
queue, agent, legs, times, the IVR snapshot), next to ``HOTLINE_CALL_ID``;
agent legs carry ``HOTLINE_CALL_ID`` and ``HOTLINE_AGENT`` from their
originate.

When the engine connects and reconciliation lists channels it does not know,
:func:`adopt` reads those variables and rebuilds each call:

* **connected**: the call, its agent leg and bridge are adopted as they are,
  and the ACD is told with ``CallAdopted``; the conversation goes on and ends
  normally;
* **queued** (ringing an agent or not): a ringing agent leg is cancelled and
  the caller re-enters the queue with the waiting time carried over, so it
  keeps its place;
* **in a menu**: the IVR session is restored from its snapshot and resumes at
  its node;
* **announcing / arrived**: the route is taken again from its start;
* **in the survey**: the survey starts again;
* anything else (closing, voicemail) is hung up, and agent legs of calls that
  cannot be adopted are hung up so no phone is left on a dead line.

Agents' statuses come back first (:func:`restore_agents`), from the open
sessions and the last state changes in PostgreSQL, so adopted conversations
find their agents logged in at their seats.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

import acd
import ivr
from cti.engine.call import Call, CallPhase, Offer
from cti.errors import CtiError
from cti.ids import BridgeId, CallId, ChannelId

if TYPE_CHECKING:
    from cti.engine.core import Engine
    from cti.store import Database

log = structlog.get_logger("cti.engine.adopt")

STATE_VAR = "HOTLINE_STATE"
P = CallPhase


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def state_of(call: Call, session: ivr.IvrSession | None) -> str:
    """The compact picture of ``call`` kept on its caller channel."""
    state: dict[str, Any] = {
        "id": call.call_id,
        "p": call.phase.value,
        "d": call.dialled,
        "n": call.caller_number,
        "nm": call.caller_name,
        "o": call.original_number,
        "dep": call.department,
        "ln": call.line_name,
        "rt": call.route,
        "q": call.queue,
        "pr": call.priority,
        "lg": call.language,
        "a": call.agent,
        "ac": call.agent_channel,
        "fa": call.first_agent,
        "b": call.bridge_id,
        "r": call.recording_name,
        "at": _epoch(call.arrived_at),
        "st": {k: _epoch(v) for k, v in call.stamps.items()},
        "cv": call.config_version,
        "tags": call.tags,
    }
    if session is not None:
        state["ivr"] = session.snapshot()
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))


@dataclass
class AdoptionReport:
    """What :func:`adopt` did, for the log and the tests."""

    adopted: dict[str, list[str]] = field(default_factory=dict)
    hung_up: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, phase: str, call_id: str) -> None:
        self.adopted.setdefault(phase, []).append(call_id)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.adopted.values())


async def restore_agents(engine: Engine, db: Database) -> int:
    """Log agents back in at their seats with their last status; return how many."""
    try:
        rows = await db.fetch(
            "SELECT s.agent_id, s.seat,"
            " (SELECT c.status FROM agent_state_changes c WHERE c.agent_id = s.agent_id"
            "  ORDER BY c.at DESC, c.id DESC LIMIT 1) AS status,"
            " (SELECT c.reason FROM agent_state_changes c WHERE c.agent_id = s.agent_id"
            "  ORDER BY c.at DESC, c.id DESC LIMIT 1) AS reason"
            " FROM agent_sessions s WHERE s.logout_at IS NULL ORDER BY s.login_at"
        )
    except CtiError as exc:
        log.warning("agents_not_restored", error=str(exc))
        return 0
    restored = 0
    for row in rows:
        agent, seat = acd.AgentId(row["agent_id"]), acd.SeatId(row["seat"])
        if seat not in engine.seats or engine.config.agent(agent) is None:
            continue
        engine.restore_agent(agent, seat, row["status"] or "ready", row["reason"] or "")
        restored += 1
    log.info("agents_restored", count=restored)
    return restored


async def adopt(engine: Engine, channels: list[Any], unknown: frozenset[str]) -> AdoptionReport:
    """Rebuild the calls whose channels reconciliation found and the engine does not know."""
    started = time.monotonic()
    report = AdoptionReport()
    by_id = {c.id: c for c in channels}
    callers: list[tuple[Any, dict[str, Any]]] = []
    legs: dict[str, list[tuple[Any, str]]] = {}
    for channel_id in sorted(unknown):
        channel = by_id.get(channel_id)
        if channel is None:
            continue
        raw = await engine.pbx.get_var(ChannelId(channel_id), STATE_VAR)
        if raw:
            try:
                callers.append((channel, json.loads(raw)))
            except ValueError:
                log.warning("call_state_unreadable", channel=channel_id)
            continue
        call_id = await engine.pbx.get_var(ChannelId(channel_id), "HOTLINE_CALL_ID")
        agent = await engine.pbx.get_var(ChannelId(channel_id), "HOTLINE_AGENT")
        if call_id and agent:
            legs.setdefault(call_id, []).append((channel, agent))
    # Agent legs that are ringing are not in the application: find them too.
    for channel in channels:
        if channel.id in unknown or channel.id in engine.by_channel:
            continue
        if channel.state in ("Down", "Ring", "Ringing"):
            call_id = await engine.pbx.get_var(ChannelId(channel.id), "HOTLINE_CALL_ID")
            agent = await engine.pbx.get_var(ChannelId(channel.id), "HOTLINE_AGENT")
            if call_id and agent and call_id not in engine.calls:
                legs.setdefault(call_id, []).append((channel, agent))
    for channel, state in callers:
        phase = adopt_one(engine, channel, state, legs.pop(state.get("id", ""), []))
        report.add(phase, state.get("id", ""))
    for call_legs in legs.values():
        for channel, _ in call_legs:
            report.hung_up.append(channel.id)
            await engine.pbx.hangup(ChannelId(channel.id), "normal")
    report.seconds = time.monotonic() - started
    log.info(
        "calls_adopted",
        count=report.count,
        by_phase={k: len(v) for k, v in report.adopted.items()},
        legs_hung_up=len(report.hung_up),
        seconds=round(report.seconds, 3),
    )
    return report


def rebuild(state: dict[str, Any], channel: Any, now: datetime) -> Call:
    """The :class:`Call` described by a ``HOTLINE_STATE`` picture."""
    stamps = {k: _dt(v) for k, v in (state.get("st") or {}).items() if v is not None}
    call = Call(
        call_id=CallId(state["id"]),
        caller_channel=ChannelId(channel.id),
        caller_number=state.get("n") or "",
        caller_name=state.get("nm") or "",
        dialled=state.get("d") or "",
        arrived_at=_dt(state.get("at")) or now,
        config_version=state.get("cv") or "",
    )
    call.original_number = state.get("o")
    call.department = state.get("dep")
    call.line_name = state.get("ln")
    call.route = state.get("rt")
    call.queue = state.get("q")
    call.priority = int(state.get("pr") or 0)
    call.language = state.get("lg") or "zh"
    call.first_agent = state.get("fa")
    call.recording_name = state.get("r")
    call.tags = dict(state.get("tags") or {})
    call.stamps = {k: v for k, v in stamps.items() if v is not None}
    return call


def agent_leg(state: dict[str, Any], legs: list[tuple[Any, str]]) -> tuple[Any, str] | None:
    """The answered agent leg of a connected call, among the legs found."""
    wanted = state.get("ac")
    for channel, agent in legs:
        if channel.id == wanted or (channel.state == "Up" and agent == state.get("a")):
            return channel, agent
    return None


def offer_for(leg: Any, agent: str, seat: str, at: datetime) -> Offer:
    return Offer(agent=agent, seat=seat, channel=ChannelId(leg.id), at=at, outcome="answered")


def bridge_of(state: dict[str, Any]) -> BridgeId | None:
    value = state.get("b")
    return BridgeId(value) if value else None


def adopt_one(
    engine: Engine, channel: Any, state: dict[str, Any], legs: list[tuple[Any, str]]
) -> str:
    """Rebuild one call from its picture; return the phase it was adopted in."""
    now = engine.now_dt()
    call = rebuild(state, channel, now)
    if call.call_id in engine.calls:
        return "known"
    engine.calls[call.call_id] = call
    engine.call_configs[call.call_id] = engine.config
    engine.by_channel[call.caller_channel] = call.call_id
    phase = state.get("p", "")
    queue = call.queue or ""
    answered = call.stamps.get("answered_at")
    queued = call.stamps.get("queued_at") or call.arrived_at
    if phase == P.CONNECTED.value:
        found = agent_leg(state, legs)
        seat = engine.agent_seat.get(found[1]) if found else None
        if found is not None and seat is not None:
            leg, agent = found
            call.phase = P.CONNECTED
            call.agent = agent
            call.agent_channel = ChannelId(leg.id)
            call.bridge_id = bridge_of(state)
            call.offers.append(offer_for(leg, agent, seat, answered or now))
            engine.by_channel[call.agent_channel] = call.call_id
            engine.leg_agent[call.agent_channel] = agent
            legs.remove(found)
            talked = (now - answered).total_seconds() if answered else 0.0
            waited = (answered - queued).total_seconds() if answered else 0.0
            engine.adopt_acd(
                acd.CallAdopted(
                    acd.CallId(call.call_id),
                    acd.QueueId(queue),
                    acd.AgentId(agent),
                    call.caller_number,
                    waited,
                    talked,
                )
            )
            engine.timeline(call, "adopted", phase=phase)
            _hang_up_legs(engine, call, legs)
            return phase
        # The agent's leg is gone: the conversation is over; rate it.
        call.phase = P.CONNECTED
        _hang_up_legs(engine, call, legs)
        engine.timeline(call, "adopted", phase=phase)
        engine.start_survey(call)
        return "survey"
    _hang_up_legs(engine, call, legs)
    engine.timeline(call, "adopted", phase=phase)
    if phase == P.QUEUED.value and queue:
        call.phase = P.QUEUED
        waited = (now - queued).total_seconds()
        engine.requeue(call, queue, waited)
    elif phase == P.MENU.value and state.get("ivr"):
        config = engine.call_configs[call.call_id]
        session = ivr.IvrSession.restore(config.menus, config.calendar, state["ivr"])
        engine.ivr[call.call_id] = session
        call.phase = P.MENU
        engine.resume_menu(call, session.resume(now))
    elif phase in (P.ARRIVED.value, P.ANNOUNCING.value):
        call.phase = P.ARRIVED
        engine.reroute(call)
    elif phase == P.SURVEY.value:
        call.phase = P.CONNECTED
        engine.start_survey(call)
    else:
        call.phase = P.CLOSING
        engine.hang_up_caller(call)
    return phase


def _hang_up_legs(engine: Engine, call: Call, legs: list[tuple[Any, str]]) -> None:
    for channel, _ in legs:
        leg = ChannelId(channel.id)
        engine.io(call.call_id, lambda leg=leg: engine.pbx.hangup(leg))
    legs.clear()
