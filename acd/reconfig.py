"""Live configuration changes, day rollover and priority classes.

A new configuration is applied without losing anyone:

1. agents dropped from the configuration are logged out first, with the old
   structures (a ringing offer goes back to its caller; a conversation goes
   on and keeps the seat until it ends);
2. queues are reconfigured in place; a dropped queue that still has callers
   is *retired*: it keeps its old rules for them, accepts no arrivals, and
   disappears when empty; agents are updated in place (skills, order);
3. every caller's stage is recomputed from its waiting time under the new
   rules, the selector is rebuilt, waiting callers are matched again in
   service order (a caller already past a shortened maximum wait overflows
   at once), and caller timers are re-armed.

Offers in flight and conversations are untouched.  ``DayRolled`` closes the
agents' time ledgers into the old day, restarts "today" and the per-day
agent counters, and rebuilds the selector (those counters are index keys).
"""

from __future__ import annotations

from acd.commands import Command
from acd.config import AcdConfig, PriorityRules
from acd.core import Out
from acd.events import CallerArrived
from acd.matching import Matching
from acd.model import AgentStatus, OverflowReason
from acd.records import stage_due
from acd.selection import Selector
from acd.states import Phase

_IN_QUEUE = frozenset({Phase.WAITING, Phase.OFFERED, Phase.CONNECTING})


class Lifecycle(Matching):
    """Configuration, days and priorities on top of :class:`Matching`."""

    def _apply_config(self, cfg: AcdConfig, now: float, out: Out) -> None:
        wanted = {a.id for a in cfg.agents}
        for agent in list(self._agents.values()):
            dropped = agent.in_config and agent.id not in wanted
            if dropped and agent.status is not AgentStatus.LOGGED_OUT:
                self._log_out(agent, now, out)
        self._cfg = cfg
        self._pause_codes = frozenset(r.code for r in cfg.pause_reasons)
        self._seen_window = max((q.priority.repeat_window_s for q in cfg.queues), default=0.0)
        self._stats.reshape(cfg.bucket_s, cfg.buckets)

        kept = {q.id for q in cfg.queues}
        for qcfg in cfg.queues:
            queue = self._queues.get(qcfg.id)
            if queue is None:
                self._new_queue(qcfg)
            else:
                queue.reconfigure(qcfg)
        for qid, queue in list(self._queues.items()):
            if qid not in kept:
                if any(c.queue is queue for c in self._calls.values()):
                    queue.retired = True
                else:
                    del self._queues[qid]

        for order, acfg in enumerate(cfg.agents):
            known = self._agents.get(acfg.id)
            if known is None:
                self._new_agent(acfg, order)
            else:
                known.cfg = acfg
                known.skills = acfg.skills
                known.order = order
                known.in_config = True
        extra = len(cfg.agents)
        for agent in self._agents.values():
            if agent.id not in wanted:
                agent.in_config = False
                agent.order = extra
                extra += 1

        for caller in self._calls.values():
            caller.stage = stage_due(caller.queue.stages, caller.since, now)
            if caller.phase in _IN_QUEUE:
                interval = caller.queue.cfg.announce_interval_s
                if interval is None:
                    caller.next_announce = None
                elif caller.next_announce is None:
                    caller.next_announce = now + interval
        self._reindex(now, out)
        for caller in list(self._calls.values()):
            if caller.phase in _IN_QUEUE:
                self._arm_caller(caller, now, out)

    def rebuild_selector(self, now: float, selector: Selector | None = None) -> list[Command]:
        """Rebuild the selector's indices from the records, optionally with another selector.

        The records hold everything the indices are made of, so this changes
        nothing a caller or agent sees; if the state was consistent no match
        is made and no command returned (tests and the benchmark use it to
        move a running ACD onto another selector).
        """
        if selector is not None:
            self._selector = selector
        out: Out = []
        self._reindex(now, out)
        return out

    def _roll_day(self, now: float, out: Out) -> None:
        for agent in self._agents.values():
            self._close_ledger(agent, now)
            agent.calls_today = 0
            agent.talk_today = 0.0
        self._stats.day_rolled()
        self._reindex(now, out)

    def _reindex(self, now: float, out: Out) -> None:
        """Rebuild the selector from the records and match everyone again."""
        agents = sorted(self._agents.values(), key=lambda a: a.order)
        selector = self._selector
        selector.rebuild(list(self._queues.values()), agents)
        for agent in agents:
            agent.available = False
        for agent in agents:
            if agent.should_be_available():
                agent.available = True
                agent.version += 1
                selector.agent_available(agent)
        waiting = [c for c in self._calls.values() if c.phase is Phase.WAITING]
        waiting.sort(key=lambda c: c.key)
        for caller in waiting:
            max_wait = caller.queue.cfg.max_wait_s
            if max_wait is not None and caller.queued_at + max_wait <= now:
                self._overflow(caller, OverflowReason.MAX_WAIT, now, out)
            else:
                self._place_caller(caller, now, out)
        for agent in agents:
            self._refresh(agent, now, out)

    def _priority(self, ev: CallerArrived, rules: PriorityRules, now: float) -> int:
        """The caller's priority class under ``rules`` (see :class:`PriorityRules`)."""
        number = ev.caller_number
        level = 0
        if rules.repeat:
            if "repeat" in ev.tags:
                level = rules.repeat
            elif number:
                last = self._seen.get(number)
                if last is not None and now - last <= rules.repeat_window_s:
                    level = rules.repeat
        for tag in ev.tags:
            tagged = rules.tags.get(tag, 0)
            if tagged > level:
                level = tagged
        if number:
            configured = rules.numbers.get(number, 0)
            if configured > level:
                level = configured
            self._remember(number, now)
        return level

    def _remember(self, number: str, now: float) -> None:
        """Note the number's arrival; forget numbers older than the longest window now and then."""
        self._seen[number] = now
        if now >= self._seen_sweep_at:
            horizon = now - self._seen_window
            self._seen = {n: t for n, t in self._seen.items() if t >= horizon}
            self._seen_sweep_at = now + max(self._seen_window / 4, 1.0)
