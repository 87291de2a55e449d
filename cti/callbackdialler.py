"""Progressive callbacks: the engine rings a free agent, then the citizen, for queues set so.

``outbound.yaml`` ``queues: {senior: progressive}`` makes the callbacks of
that queue work the ACD hands out itself instead of entries an agent picks
(preview).  Every ``every_s`` seconds one pass of :meth:`ProgressiveDialler.dial_due`:

- inbound calls first: nothing starts while callers wait or no agent is
  free, and no more than :func:`callbacks.agent_slots` allows
  (``return_visits.max_lines`` calls out at once, ``slow_down_waiting``);
- each due pending entry of a progressive queue, nearest deadline first,
  goes to a ready, idle agent with the queue's skills who is not already
  being given one: the attempt is written (``dialling``), then the engine's
  click-to-dial rings the agent and, once they answer, the citizen;
- a call the engine refuses (the agent became busy meanwhile) drops its
  attempt again; the call's end writes the attempt's outcome
  (:func:`cti.store.callbacks.callback_call_ended`).

Only the engine that drives calls dials (``active`` says so).  A database
that is away is waited out; the next pass catches up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog

import acd
import callbacks as cb
from cti.api.figures import eligible_agents
from cti.config import Config
from cti.errors import CtiError
from cti.executor import TransferRefused
from cti.logs import mask_number
from cti.periodic import Periodic
from cti.store import Database
from cti.store import callbacks as entries

log = structlog.get_logger("cti.callbackdialler")


class ProgressiveDialler:
    """Starts the progressive callbacks that are due (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        engine: Any,
        *,
        every_s: float = 2.0,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self._db = db
        self._engine = engine
        self._every_s = every_s
        self._active = active
        self._loop = Periodic(
            "progressive-dialler", self.dial_due, lambda: self._every_s, expected=(CtiError,),
            event="progressive_pass",
        )  # fmt: skip
        self.started = 0

    def __repr__(self) -> str:
        return f"<ProgressiveDialler every={self._every_s}s started={self.started}>"

    def _free_agents(self) -> list[str]:
        views = self._engine.acd.agent_views()
        return [
            str(v.agent)
            for v in views
            if v.status is acd.AgentStatus.READY and v.state is acd.AgentState.IDLE
        ]

    def _waiting(self, config: Config) -> int:
        now = self._engine.now()
        waiting = 0
        for queue in config.queues.queues:
            view = self._engine.acd.queue_view(acd.QueueId(queue), now)
            waiting += view.waiting if view is not None else 0
        return waiting

    async def dial_due(self) -> list[str]:
        """One pass; the call ids started."""
        engine = self._engine
        config: Config = engine.config
        progressive = {
            queue for queue, style in config.outbound.queues.items() if style.value == "progressive"
        }
        if not progressive or not self._active():
            return []
        free = self._free_agents()
        if not free:
            return []
        now: dt.datetime = engine.now_dt()
        policy = config.callback_policy()
        async with self._db.connection() as conn:
            active = await conn.fetchval(
                "SELECT (SELECT count(*) FROM callback_entries WHERE status = 'dialling')"
                " + (SELECT count(*) FROM return_visits WHERE status = 'calling')"
            )
            load = cb.Load(
                idle_agents=len(free),
                inbound_waiting=self._waiting(config),
                outbound_active=int(active or 0),
            )
            slots = cb.agent_slots(load, config.visit_policy())
            if slots <= 0:
                return []
            where = entries.EntryFilter(status=["pending"], due_only=True, limit=200)
            found = await entries.listing(conn, where, now)
        eligible = eligible_agents(engine)
        started: list[str] = []
        for entry in found:
            if len(started) >= slots or not free:
                break
            queue = entry.misses[-1].queue
            if queue not in progressive or not entry.due(policy, now):
                continue
            agent = next((a for a in free if a in eligible.get(queue, frozenset())), None)
            if agent is None:
                continue
            call_id = await self._start(entry, agent, now, policy)
            if call_id is not None:
                free.remove(agent)
                started.append(call_id)
        self.started += len(started)
        return started

    async def _start(
        self, entry: cb.Entry, agent: str, now: dt.datetime, policy: cb.CallbackPolicy
    ) -> str | None:
        engine = self._engine
        call_id = engine.executor.new_call_id()
        key = entry.key
        try:
            async with self._db.connection() as conn:
                await entries.act(
                    conn, key, lambda e: cb.dial(e, agent, now, policy, call_id), policy
                )
        except cb.Refusal as exc:
            log.info("progressive_skipped", key=key.replace(entry.number, "*"), why=exc.code)
            return None
        last = entry.misses[-1]
        try:
            engine.dial(
                agent, entry.number, callback=key, missed_call_id=last.call_id,
                queue=last.queue, call_id=call_id,
            )  # fmt: skip
        except TransferRefused as exc:
            async with self._db.connection() as conn:
                await entries.act(conn, key, lambda e: cb.drop_attempt(e, call_id), policy)
            log.info("progressive_refused", agent=agent, why=exc.code)
            return None
        log.info("progressive_callback", agent=agent, caller=mask_number(entry.number),
                 call_id=call_id)  # fmt: skip
        return str(call_id)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
