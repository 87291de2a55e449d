"""The ACD: ``handle(event, now) -> commands``.

Theory of operation
-------------------
``Acd`` is a pure state machine.  The shell (``cti``) translates ARI, AMI
and toolbar requests into :mod:`acd.events`, calls :meth:`Acd.handle` with
the current time, and carries out the returned :mod:`acd.commands` in
order.  The ACD never awaits, never reads a clock and never touches a
socket; it is deterministic given its configuration and its event stream.

**Time.** ``now`` is seconds on any clock that advances with real time
(the shell's monotonic clock, or epoch seconds: then the statistics buckets
align with wall-clock five-minute marks).  The ACD never polls: for every
deadline it emits ``StartTimer(key, at)`` and expects ``TimerFired(key,
at)`` once the clock reaches ``at``.  Three kinds of timers exist: an
offer's ring time (ring-no-answer), an agent's wrap-up, and one per caller
who has had to wait, for its next relaxation step, maximum wait or
announcement.  A ``StartTimer`` for a running key re-arms it; a firing whose
``at`` is no longer the armed one is ignored.

**Days.** "Today" is what happened since the last ``DayRolled`` event,
which the shell sends at local midnight; it also restarts the per-day agent
counters behind ``fewest_calls`` and ``least_talk_time``.

**Matching.** Whenever an agent becomes available it takes the best
waiting caller it can serve; whenever a caller starts waiting (arrival,
relaxation step, failed offers) it takes the best available agent.  The
selector (:mod:`acd.selection`) defines "best".  Ring-all offers a caller
to every candidate at once; the first ``OfferAnswered`` wins and gets
``ConnectCall``; the other legs ring on until the winner's
``CallConnected``, and are cancelled then.  If the winner's leg fails
before that, the call stays with the legs still ringing.

**Exclusions.** An agent who rejected a call, let it ring out, failed to
bridge it, or transferred it to a queue is never offered that call again.

**Agents.** ``AgentLogin`` binds the agent to a seat and makes it ready.
Pausing, logging out or losing the phone while ringing takes the offer
back without excluding the agent.  Logging out during a conversation keeps
the seat until the conversation ends (then no wrap-up).  The phone's AMI
device state counts only outside the ACD's own calls: a phone still in use
just after an ACD call shows ``busy_outside`` until AMI reports it free.
Agent requests that cannot be granted are answered with ``RequestRefused``.

**Stale events.** Events about calls, offers or timers that are already
over change nothing (see :mod:`acd.events`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd.commands import CallerLeft, CancelOffer, Command, ConnectCall, RequestRefused
from acd.config import AcdConfig
from acd.core import CONNECTING, LOGGED_OUT, PAUSED, READY, TALKING, WRAPUP, Out
from acd.events import (
    AgentEndWrapup,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    CallAdopted,
    CallConnected,
    CallEnded,
    CallerArrived,
    CallerHungUp,
    CallTransferredToQueue,
    ConfigChanged,
    DayRolled,
    Event,
    OfferAnswered,
    OfferRejected,
    OfferTimedOut,
    SeatDeviceState,
    SeatReachability,
    TimerFired,
)
from acd.index import IndexedSelector
from acd.matching import P_CONNECTING, WAITING
from acd.model import AgentId, CallId, DeviceState, LeaveReason, TimerKind
from acd.records import Agent, Caller
from acd.selection import Selector
from acd.states import Activity, Phase
from acd.views import Views

_CALLER_TIMER = TimerKind.CALLER
P_CONNECTED = Phase.CONNECTED
P_OFFERED = Phase.OFFERED
_RING_TIMER = TimerKind.RING


class Acd(Views):
    """The automatic call distributor (see the module docstring)."""

    def __init__(self, config: AcdConfig, *, selector: Selector | None = None) -> None:
        super().__init__(config, IndexedSelector() if selector is None else selector)
        self._handlers: dict[type, Callable[[Any, float, Out], None]] = {
            CallerArrived: self._on_arrived,
            CallAdopted: self._on_adopted,
            CallerHungUp: self._on_hung_up,
            CallTransferredToQueue: self._on_transferred,
            AgentLogin: self._on_login,
            AgentLogout: self._on_logout,
            AgentReady: self._on_ready,
            AgentPause: self._on_pause,
            AgentEndWrapup: self._on_end_wrapup,
            OfferAnswered: self._on_answered,
            CallConnected: self._on_connected,
            OfferRejected: self._on_rejected,
            OfferTimedOut: self._on_timed_out,
            CallEnded: self._on_call_ended,
            SeatDeviceState: self._on_device,
            SeatReachability: self._on_reachability,
            TimerFired: self._on_timer,
            ConfigChanged: self._on_config,
            DayRolled: self._on_day_rolled,
        }
        self._apply_config(config, 0.0, [])

    def handle(self, event: Event, now: float) -> list[Command]:
        """Apply ``event`` at time ``now``; return the commands, in execution order."""
        out: Out = []
        self._handlers[type(event)](event, now, out)
        return out

    # ----------------------------------------------------------- callers

    def _on_arrived(self, ev: CallerArrived, now: float, out: Out) -> None:
        if ev.call_id in self._calls:
            return
        queue = self._queues.get(ev.queue)
        if queue is None or queue.retired:
            out.append(CallerLeft(ev.call_id, ev.queue, LeaveReason.REFUSED))
            return
        priority = (
            self._priority(ev, queue.cfg.priority, now) if ev.priority is None else ev.priority
        )
        self._seq += 1
        since = now - ev.waited_so_far_s if ev.waited_so_far_s > 0 else now
        caller = Caller(
            ev.call_id, queue, ev.caller_number, ev.tags, priority, since, now, self._seq
        )
        self._calls[ev.call_id] = caller
        self._enter(caller, queue, now, out)

    def _on_adopted(self, ev: CallAdopted, now: float, out: Out) -> None:
        if ev.call_id in self._calls:
            return
        queue = self._queues.get(ev.queue)
        agent = self._agents.get(ev.agent)
        if (
            queue is None
            or queue.retired
            or agent is None
            or agent.seat is None
            or agent.activity is not Activity.IDLE
        ):
            out.append(CallerLeft(ev.call_id, ev.queue, LeaveReason.REFUSED))
            return
        started = now - max(0.0, ev.talked_s)
        arrived = started - max(0.0, ev.waited_s)
        self._seq += 1
        caller = Caller(
            ev.call_id, queue, ev.caller_number, frozenset(), 0, arrived, arrived, self._seq
        )
        self._calls[ev.call_id] = caller
        if agent.available:
            agent.available = False
            self._selector.agent_unavailable(agent)
        for phase in (P_OFFERED, P_CONNECTING, P_CONNECTED):
            caller.move(phase)
        for activity in (Activity.OFFERED, CONNECTING, TALKING):
            agent.move(activity)
        caller.agent = agent
        caller.answered_at = caller.connected_at = started
        agent.call = caller
        agent.talk_started = started
        agent.handle_queue = queue
        self._refresh(agent, now, out)

    def _on_hung_up(self, ev: CallerHungUp, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        if caller is None:
            return
        if caller.phase is P_CONNECTED:
            self._end_conversation(caller, now, out)
            return
        if caller.phase is WAITING:
            self._selector.caller_unwaiting(caller)
        ringing = list(caller.offers.values())
        agents = self._cancel_all_offers(caller, out)
        waited = now - caller.queued_at
        queue = caller.queue
        self._abandoned += 1
        short = waited < queue.cfg.short_abandon_s
        self._stats.abandoned(queue.series, now, waited, short, [a.series for a in ringing])
        self._finish(caller, LeaveReason.ABANDONED, out)
        for agent in agents:
            self._refresh(agent, now, out)

    def _on_call_ended(self, ev: CallEnded, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        if caller is None:
            return
        if caller.phase is P_CONNECTED:
            self._end_conversation(caller, now, out)
        else:
            self._on_hung_up(CallerHungUp(ev.call_id), now, out)

    def _end_conversation(self, caller: Caller, now: float, out: Out) -> None:
        agent = caller.agent
        assert agent is not None
        caller.agent = None
        self._finish(caller, LeaveReason.COMPLETED, out)
        self._call_over(agent, caller.queue.cfg, now, out)

    def _on_transferred(self, ev: CallTransferredToQueue, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        if caller is None or caller.phase is not P_CONNECTED:
            return
        agent = caller.agent
        assert agent is not None
        caller.agent = None
        caller.excluded.add(agent.id)
        if ev.priority is not None:
            caller.set_priority(ev.priority)
        self._call_over(agent, caller.queue.cfg, now, out)
        caller.move(WAITING)
        target = self._queues.get(ev.queue)
        if target is None or target.retired:
            self._finish(caller, LeaveReason.REFUSED, out)
            return
        self._enter(caller, target, now, out)

    # ----------------------------------------------------------- offers

    def _on_answered(self, ev: OfferAnswered, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        agent = self._agents.get(ev.agent)
        if agent is None:
            return
        if caller is None or caller.offers.get(agent.id) is not agent:
            # A late answer: hang that leg up, unless it is this call's own
            # answered or bridged leg (a duplicate event).
            seat = agent.seat
            own = caller is not None and agent in (caller.winner, caller.agent)
            if seat is not None and not own:
                out.append(CancelOffer(ev.call_id, agent.id, seat.id))
            return
        seat = agent.seat
        assert seat is not None
        if caller.winner is not None:
            # Someone answered first: this leg lost the race.
            out.append(CancelOffer(caller.id, agent.id, seat.id))
            self._drop_offer(caller, agent, False, now, out)
            self._refresh(agent, now, out)
            return
        del caller.offers[agent.id]
        self._disarm_ring(agent, out)
        caller.winner = agent
        caller.answered_at = now
        caller.move(P_CONNECTING)
        agent.move(CONNECTING)
        agent.misses = 0
        out.append(ConnectCall(caller.id, agent.id, seat.id))
        self._refresh(agent, now, out)

    def _on_connected(self, ev: CallConnected, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        agent = self._agents.get(ev.agent)
        if caller is None or agent is None or caller.winner is not agent:
            return
        caller.move(P_CONNECTED)
        agent.move(TALKING)
        caller.winner = None
        caller.agent = agent
        caller.connected_at = now
        queue = caller.queue
        queue.discard(caller)
        self._arm_caller_at(caller, None, out)
        self._answered += 1
        wait = caller.answered_at - caller.queued_at
        within = wait <= queue.cfg.service_level_s
        self._stats.answered(queue.series, agent.series, now, wait, within)
        agent.calls_today += 1
        agent.talk_started = now
        agent.handle_queue = queue
        others = self._cancel_all_offers(caller, out)
        self._refresh(agent, now, out)
        for other in others:
            self._refresh(other, now, out)

    def _on_rejected(self, ev: OfferRejected, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        agent = self._agents.get(ev.agent)
        if caller is None or agent is None:
            return
        if caller.offers.get(agent.id) is not agent and caller.winner is not agent:
            return
        self._stats.rejected(agent.series, now)
        self._drop_offer(caller, agent, True, now, out)
        self._refresh(agent, now, out)

    def _on_timed_out(self, ev: OfferTimedOut, now: float, out: Out) -> None:
        caller = self._calls.get(ev.call_id)
        agent = self._agents.get(ev.agent)
        if caller is None or agent is None or caller.offers.get(agent.id) is not agent:
            return
        self._ring_no_answer(caller, agent, now, out)

    def _ring_no_answer(self, caller: Caller, agent: Agent, now: float, out: Out) -> None:
        """RONA: the next agent is tried; after N misses in a row the agent is paused."""
        cfg = caller.queue.cfg
        self._stats.missed(agent.series, now)
        self._drop_offer(caller, agent, True, now, out)
        agent.misses += 1
        if cfg.rona_max_misses and agent.misses >= cfg.rona_max_misses:
            agent.misses = 0
            if agent.status is not LOGGED_OUT:
                self._set_status(agent, PAUSED, cfg.rona_pause_reason)
        self._refresh(agent, now, out)

    def _on_timer(self, ev: TimerFired, now: float, out: Out) -> None:
        key = ev.key
        kind = key.kind
        if kind is _CALLER_TIMER:
            caller = self._calls.get(CallId(key.subject))
            if caller is not None and caller.timer_at == ev.at:
                caller.timer_at = None
                self._caller_due(caller, now, out)
            return
        agent = self._agents.get(AgentId(key.subject))
        if agent is None:
            return
        if kind is _RING_TIMER:
            caller = agent.call
            if agent.ring_at == ev.at and caller is not None:
                agent.ring_at = None
                seat = agent.seat
                assert seat is not None
                out.append(CancelOffer(caller.id, agent.id, seat.id))
                self._ring_no_answer(caller, agent, now, out)
        elif agent.wrapup_at == ev.at:
            agent.wrapup_at = None
            self._end_wrapup(agent, now, out)

    # ----------------------------------------------------------- agents

    def _refuse(self, agent: AgentId, ev: Event, reason: str, out: Out) -> None:
        out.append(RequestRefused(agent, type(ev).__name__, reason))

    def _logged_in(self, agent_id: AgentId, ev: Event, out: Out) -> Agent | None:
        agent = self._agents.get(agent_id)
        if agent is None or agent.status is LOGGED_OUT:
            self._refuse(agent_id, ev, "not_logged_in", out)
            return None
        return agent

    def _on_login(self, ev: AgentLogin, now: float, out: Out) -> None:
        agent = self._agents.get(ev.agent)
        if agent is None or not agent.in_config:
            self._refuse(ev.agent, ev, "unknown_agent", out)
            return
        if agent.status is not LOGGED_OUT or agent.seat is not None:
            self._refuse(ev.agent, ev, "already_logged_in", out)
            return
        seat = self._seat(ev.seat)
        if seat.agent is not None:
            self._refuse(ev.agent, ev, "seat_taken", out)
            return
        seat.agent = agent
        agent.seat = seat
        agent.misses = 0
        agent.idle_since = now
        self._set_status(agent, READY, "")
        self._refresh(agent, now, out)

    def _on_logout(self, ev: AgentLogout, now: float, out: Out) -> None:
        agent = self._logged_in(ev.agent, ev, out)
        if agent is not None:
            self._log_out(agent, now, out)

    def _on_ready(self, ev: AgentReady, now: float, out: Out) -> None:
        agent = self._logged_in(ev.agent, ev, out)
        if agent is None:
            return
        if agent.status is PAUSED:
            agent.misses = 0
            self._set_status(agent, READY, "")
        self._refresh(agent, now, out)

    def _on_pause(self, ev: AgentPause, now: float, out: Out) -> None:
        agent = self._logged_in(ev.agent, ev, out)
        if agent is None:
            return
        if ev.reason not in self._pause_codes:
            self._refuse(ev.agent, ev, "unknown_reason", out)
            return
        self._set_status(agent, PAUSED, ev.reason)
        self._release_offer(agent, now, out)
        self._refresh(agent, now, out)

    def _on_end_wrapup(self, ev: AgentEndWrapup, now: float, out: Out) -> None:
        agent = self._agents.get(ev.agent)
        if agent is None or agent.activity is not WRAPUP:
            self._refuse(ev.agent, ev, "not_in_wrapup", out)
            return
        self._end_wrapup(agent, now, out)

    # ----------------------------------------------------------- seats

    def _on_device(self, ev: SeatDeviceState, now: float, out: Out) -> None:
        seat = self._seat(ev.seat)
        seat.device = ev.state
        agent = seat.agent
        if agent is not None:
            if ev.state is DeviceState.UNAVAILABLE:
                self._release_offer(agent, now, out)
            self._refresh(agent, now, out)

    def _on_reachability(self, ev: SeatReachability, now: float, out: Out) -> None:
        seat = self._seat(ev.seat)
        seat.reachable = ev.reachable
        agent = seat.agent
        if agent is not None:
            if not ev.reachable:
                self._release_offer(agent, now, out)
            self._refresh(agent, now, out)

    # ----------------------------------------------------------- configuration and days

    def _on_config(self, ev: ConfigChanged, now: float, out: Out) -> None:
        self._apply_config(ev.config, now, out)

    def _on_day_rolled(self, ev: DayRolled, now: float, out: Out) -> None:
        self._roll_day(now, out)
