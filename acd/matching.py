"""The moves of the ACD: offer, connect, requeue, overflow, finish, wrap up.

Every event handler is built from these.  Each appends the commands it
implies to ``out`` in the order the shell must carry them out, and restores
the matching invariant before returning:

    no available agent could take a waiting caller it is not excluded from
    (and so no waiting caller could take an available agent).

It holds because the two sides are only matched at the moment one of them
changes: an agent becoming available first looks for a caller
(``_refresh``), and a caller starting to wait first looks for an agent
(``_place_caller``).

A caller's timer runs only once the caller has had to wait: a caller
offered at once needs no relaxation, announcement or maximum wait, and if
its offers fail, ``_requeue`` checks the maximum wait against the clock.
"""

from __future__ import annotations

from acd.commands import AddToCallbackList, Announce, CallerLeft, CancelOffer, OfferCall, Overflow
from acd.config import QueueConfig
from acd.core import IDLE, LOGGED_OUT, OFFERED, WRAPUP, Core, Out
from acd.model import LeaveReason, OverflowAction, OverflowReason, QueueId, Strategy
from acd.records import Agent, Caller, QueueState, stage_due
from acd.states import HANDLING, Phase
from acd.stats import AVAILABLE, BUSY

WAITING = Phase.WAITING
P_OFFERED = Phase.OFFERED
P_CONNECTING = Phase.CONNECTING
ENDED = Phase.ENDED
RING_ALL = Strategy.RING_ALL
ROUND_ROBIN = Strategy.ROUND_ROBIN
_QUEUE = OverflowAction.QUEUE
_CALLBACK = OverflowAction.CALLBACK


class Matching(Core):
    """Matching and the call lifecycle on top of :class:`Core`."""

    # ----------------------------------------------------------- agents

    def _refresh(self, agent: Agent, now: float, out: Out) -> None:
        """Bring availability, the time ledger and the published state up to date.

        An agent becoming available is first matched with the best waiting
        caller it can serve; only if there is none does it enter the indices.
        A logged-out agent with nothing left to do gives up its seat.
        """
        if agent.status is LOGGED_OUT and agent.activity is IDLE and agent.seat is not None:
            agent.seat.agent = None
            agent.seat = None
        should = agent.should_be_available()
        if should != agent.available:
            selector = self._selector
            if should:
                caller = selector.find_caller(agent)
                if caller is not None:
                    selector.caller_unwaiting(caller)
                    self._offer(caller, agent, now, out)
                else:
                    agent.available = True
                    agent.version += 1
                    selector.agent_available(agent)
            else:
                agent.available = False
                selector.agent_unavailable(agent)
        activity = agent.activity
        if activity in HANDLING:
            kind = BUSY
        elif agent.available or activity is OFFERED:
            kind = AVAILABLE
        else:
            kind = 0
        if kind != agent.ledger_kind:
            self._close_ledger(agent, now)
            agent.ledger_kind = kind
        self._publish(agent, out)

    def _offer(self, caller: Caller, agent: Agent, now: float, out: Out) -> None:
        """Ring ``agent`` for ``caller`` (neither is in the selector any more)."""
        seat = agent.seat
        assert seat is not None
        agent.move(OFFERED)
        agent.call = caller
        if caller.phase is WAITING:
            caller.move(P_OFFERED)
        caller.offers[agent.id] = agent
        queue = caller.queue
        cfg = queue.cfg
        if cfg.strategy is ROUND_ROBIN:
            queue.rr_cursor = agent.order
        out.append(OfferCall(caller.id, agent.id, seat.id, queue.id, cfg.ring_timeout_s))
        self._arm_ring(agent, now + cfg.ring_timeout_s, out)
        self._stats.rung(agent.series, now)

    # ----------------------------------------------------------- callers

    def _place_caller(self, caller: Caller, now: float, out: Out) -> None:
        """Offer a caller who has just started waiting, or let it wait (timer running)."""
        selector = self._selector
        if caller.queue.cfg.strategy is RING_ALL:
            chosen = selector.find_all(caller)
        else:
            agent = selector.find_agent(caller, self._rng)
            chosen = [] if agent is None else [agent]
        if not chosen:
            selector.caller_waiting(caller)
            self._arm_caller(caller, now, out)
            return
        for agent in chosen:
            self._offer(caller, agent, now, out)
        for agent in chosen:
            self._refresh(agent, now, out)

    def _requeue(self, caller: Caller, now: float, out: Out) -> None:
        """A caller whose offers all failed waits again, or overflows if past its maximum wait."""
        caller.move(WAITING)
        queue = caller.queue
        max_wait = queue.cfg.max_wait_s
        if max_wait is not None and caller.queued_at + max_wait <= now:
            self._overflow(caller, OverflowReason.MAX_WAIT, now, out)
            return
        caller.stage = stage_due(queue.stages, caller.since, now)
        self._place_caller(caller, now, out)

    def _drop_offer(
        self, caller: Caller, agent: Agent, exclude: bool, now: float, out: Out
    ) -> None:
        """End ``agent``'s offer of ``caller`` (ringing, or the unbridged winner).

        The caller rings on with its other offers, or waits again.  The agent
        is left idle but not refreshed: the handler may pause it first.
        """
        caller.offers.pop(agent.id, None)
        self._disarm_ring(agent, out)
        if exclude:
            caller.excluded.add(agent.id)
        agent.move(IDLE)
        agent.call = None
        if caller.winner is agent:
            caller.winner = None
        if caller.winner is None:
            if caller.offers:
                if caller.phase is P_CONNECTING:
                    caller.move(P_OFFERED)
            else:
                self._requeue(caller, now, out)

    def _cancel_all_offers(self, caller: Caller, out: Out) -> list[Agent]:
        """Hang up every agent leg of ``caller`` (ringing and unbridged winner)."""
        agents = list(caller.offers.values())
        if caller.winner is not None:
            agents.append(caller.winner)
            caller.winner = None
        caller.offers.clear()
        for agent in agents:
            seat = agent.seat
            assert seat is not None
            out.append(CancelOffer(caller.id, agent.id, seat.id))
            self._disarm_ring(agent, out)
            agent.move(IDLE)
            agent.call = None
        return agents

    def _enter(self, caller: Caller, queue: QueueState, now: float, out: Out) -> None:
        """A waiting caller (not in the selector) enters ``queue``."""
        caller.queue = queue
        caller.queued_at = now
        # A caller who has not waited yet is in stage 0 (later stages start after 0 s).
        fresh = caller.since == now or len(queue.stages) == 1
        caller.stage = 0 if fresh else stage_due(queue.stages, caller.since, now)
        self._entered += 1
        self._stats.offered(queue.series, now)
        cfg = queue.cfg
        if cfg.max_length is not None and len(queue.live) >= cfg.max_length:
            self._overflow(caller, OverflowReason.FULL, now, out)
            return
        queue.add(caller)
        interval = cfg.announce_interval_s
        caller.next_announce = None if interval is None else now + interval
        if caller.timer_at is not None:
            self._arm_caller(caller, now, out)
        self._place_caller(caller, now, out)

    def _arm_caller(self, caller: Caller, now: float, out: Out) -> None:
        """Run the caller's timer to its next relaxation, maximum wait or announcement after ``now``."""
        queue = caller.queue
        due: float | None = None
        nxt = caller.stage + 1
        if nxt < len(queue.stages):
            due = caller.since + queue.stages[nxt].after_s
        max_wait = queue.cfg.max_wait_s
        if max_wait is not None:
            limit = caller.queued_at + max_wait
            if limit > now and (due is None or limit < due):
                due = limit
        announce = caller.next_announce
        if announce is not None and (due is None or announce < due):
            due = announce
        self._arm_caller_at(caller, due, out)

    def _caller_due(self, caller: Caller, now: float, out: Out) -> None:
        """The caller's timer fired: relax, overflow or announce, whichever is due."""
        queue = caller.queue
        cfg = queue.cfg
        stage = stage_due(queue.stages, caller.since, now)
        if stage > caller.stage:
            if caller.phase is WAITING:
                self._selector.caller_unwaiting(caller)
                caller.stage = stage
                self._place_caller(caller, now, out)
            else:
                caller.stage = stage
        max_wait = cfg.max_wait_s
        if max_wait is not None and caller.phase is WAITING and caller.queued_at + max_wait <= now:
            self._selector.caller_unwaiting(caller)
            self._overflow(caller, OverflowReason.MAX_WAIT, now, out)
            return
        nxt = caller.next_announce
        if nxt is not None and nxt <= now:
            if caller.phase is WAITING:
                position, expected = self._estimate(caller, now)
                out.append(Announce(caller.id, queue.id, position, expected))
            interval = cfg.announce_interval_s
            if interval is None:
                caller.next_announce = None
            else:
                nxt += interval
                caller.next_announce = nxt if nxt > now else now + interval
        self._arm_caller(caller, now, out)

    def _estimate(self, caller: Caller, now: float) -> tuple[int, float | None]:
        """Position (1 = next) and expected wait: ``position * AHT / staffed``.

        AHT is the queue's average handle time over the last hour, else
        today, else ``default_handle_s``; staffed is the number of ready agents
        who meet the caller's current levels.
        """
        queue = caller.queue
        position = queue.position(caller)
        staffed = self._selector.staffed(queue, caller.stage)
        if staffed <= 0:
            return position, None
        handle, handled = self._stats.handled_in(queue.series, now, 3600.0)
        if not handled:
            today = queue.series.today()
            handle, handled = today.handle, today.handled
        aht = handle / handled if handled else queue.cfg.default_handle_s
        return position, round(position * aht / staffed, 1)

    def _overflow(self, caller: Caller, reason: OverflowReason, now: float, out: Out) -> None:
        """Apply the queue's overflow rule to a waiting caller not in the selector."""
        queue = caller.queue
        queue.discard(caller)
        waited = now - caller.queued_at
        self._overflowed += 1
        self._stats.overflowed(queue.series, now, waited)
        rule = queue.cfg.overflow
        action, target = rule.action, rule.target
        target_queue = self._queues.get(QueueId(target)) if action is _QUEUE else None
        if action is _QUEUE and (target_queue is None or target_queue.retired):
            action, target, target_queue = _CALLBACK, "", None
        out.append(Overflow(caller.id, queue.id, action, target, reason))
        if target_queue is not None:
            self._enter(caller, target_queue, now, out)
            return
        if action is _CALLBACK:
            out.append(AddToCallbackList(caller.id, caller.number, queue.id, waited))
        self._finish(caller, LeaveReason.OVERFLOWED, out)

    def _finish(self, caller: Caller, reason: LeaveReason, out: Out) -> None:
        """The call leaves the ACD for good."""
        caller.move(ENDED)
        queue = caller.queue
        queue.discard(caller)
        del self._calls[caller.id]
        self._arm_caller_at(caller, None, out)
        out.append(CallerLeft(caller.id, queue.id, reason))
        if queue.retired:
            self._drop_retired(queue)

    def _drop_retired(self, queue: QueueState) -> None:
        if self._queues.get(queue.id) is queue and not any(
            c.queue is queue for c in self._calls.values()
        ):
            del self._queues[queue.id]

    # ----------------------------------------------------------- end of a conversation

    def _call_over(self, agent: Agent, queue_cfg: QueueConfig, now: float, out: Out) -> None:
        """``agent``'s conversation ended: wrap-up (per agent, else per queue) or idle."""
        agent.talk_s = now - agent.talk_started
        agent.talk_today += agent.talk_s
        agent.call = None
        agent.wrapup_started = now
        wrap = agent.cfg.wrapup_s if agent.cfg.wrapup_s is not None else queue_cfg.wrapup_s
        if wrap > 0 and agent.status is not LOGGED_OUT:
            agent.move(WRAPUP)
            self._arm_wrapup(agent, now + wrap, out)
        else:
            agent.move(IDLE)
            self._handled(agent, now)
        self._refresh(agent, now, out)

    def _end_wrapup(self, agent: Agent, now: float, out: Out) -> None:
        agent.move(IDLE)
        self._disarm_wrapup(agent, out)
        self._handled(agent, now)
        self._refresh(agent, now, out)

    def _handled(self, agent: Agent, now: float) -> None:
        """Count a finished call (talk + wrap-up) and restart the agent's idle clock."""
        agent.idle_since = now
        handle = agent.talk_s + (now - agent.wrapup_started)
        queue = agent.handle_queue
        self._stats.handled(None if queue is None else queue.series, agent.series, now, handle)

    # ----------------------------------------------------------- logging out

    def _log_out(self, agent: Agent, now: float, out: Out) -> None:
        """Log out; a conversation in progress keeps the seat until it ends."""
        self._set_status(agent, LOGGED_OUT, "")
        self._release_offer(agent, now, out)
        if agent.activity is WRAPUP:
            self._end_wrapup(agent, now, out)
        else:
            self._refresh(agent, now, out)

    def _release_offer(self, agent: Agent, now: float, out: Out) -> None:
        """Take back a ringing offer through no fault of the call (no exclusion)."""
        caller = agent.call
        if agent.activity is OFFERED and caller is not None:
            seat = agent.seat
            assert seat is not None
            out.append(CancelOffer(caller.id, agent.id, seat.id))
            self._drop_offer(caller, agent, False, now, out)
