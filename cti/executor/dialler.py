"""The return-visit dialler: due automatic visits handed to the switchboard, within pacing.

Theory of operation
-------------------
Every ``dial_every_seconds`` (``outbound.yaml`` ``return_visits``) one pass
(:meth:`VisitDialler.tick`):

1. decides how many calls may start now, without awaiting: none in quiet
   hours, none while automatic visits are off, else
   :func:`callbacks.dialler_slots` over the engine's :func:`load` (at most
   ``max_lines`` outbound lines at once, never more than the trunk has free,
   one at a time while callers wait, none from ``slow_down_waiting`` waiting
   callers on: inbound calls come first);
2. claims that many due visits in PostgreSQL (:func:`cti.store.visits.claim_due`:
   ``SKIP LOCKED``, window, quiet hours and spacing decided by
   :mod:`callbacks`), each moving to ``calling``;
3. hands each to the switchboard as :class:`switchboard.VisitDue`; the
   switchboard places the call (:mod:`switchboard.revisit`).

The result of every call comes back as ``RecordVisitResult``; the executor
writes it through the writer (kind ``visit_result``), whose handler
(:func:`result_writer`) records it and puts it in the ticket outbox in one
transaction, so the backend hears of it exactly once, even across a
database outage.  A visit left ``calling`` by an engine that stopped is
due again at the next start (:func:`cti.store.visits.release_stale`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

import acd
import callbacks as cb
from cti.config import Config
from cti.errors import StoreError
from cti.logs import mask_number
from cti.periodic import Periodic
from cti.store import Database, visits
from switchboard import RecordVisitResult, Switchboard, VisitDue

log = structlog.get_logger("cti.executor.dialler")


def load(board: Switchboard, trunk_channels: int | None) -> cb.Load:
    """What pacing needs to know of the switchboard now.

    Every call in progress holds a trunk channel, and so does every
    automatic visit still dialling or talking to the survey (one handed to
    a person is an inbound call by then).  The outbound lines are the
    visits' and the agents' calls out.
    """
    distributor = board.distributor
    idle = sum(
        1
        for view in distributor.agent_views()
        if view.status is acd.AgentStatus.READY and view.state is acd.AgentState.IDLE
    )
    visits_live = len(board.revisits.calls())
    # Agents' calls out (switchboard.outbound, tagged direction: outbound) hold lines too.
    calls_out = sum(1 for call in board.calls() if call.facts.tags.get("direction") == "outbound")
    trunk_free = None
    if trunk_channels is not None:
        trunk_free = max(0, trunk_channels - len(board.calls()) - visits_live)
    return cb.Load(
        idle_agents=idle,
        inbound_waiting=distributor.totals().waiting,
        outbound_active=board.revisits.lines + calls_out,
        trunk_free=trunk_free,
    )


def slots(config: Config, board: Switchboard, now: dt.datetime) -> int:
    """How many automatic visits may start at ``now`` (pure: no await)."""
    spec = config.outbound.return_visits
    if not spec.automatic or config.callback_policy().is_quiet(now):
        return 0
    return cb.dialler_slots(load(board, spec.trunk_channels), config.visit_policy())


class VisitDialler:
    """The periodic dialler of one engine (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        engine: Any,
        *,
        active: Callable[[], bool] = lambda: True,
        every_s: Callable[[], float] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._db = db
        self._engine = engine
        self._active = active
        self._clock: Callable[[], dt.datetime] = clock or engine.now_dt
        self._every_s = every_s or (
            lambda: float(engine.config.outbound.return_visits.dial_every_seconds)
        )
        self._loop = Periodic(
            "visit-dialler", self.tick, self._every_s, expected=(StoreError,),
            event="return_visit_dial",
        )  # fmt: skip
        self._released = False
        self.started = 0

    def __repr__(self) -> str:
        return f"<VisitDialler started={self.started}>"

    async def tick(self) -> list[str]:
        """One pass; the tickets whose visit call started now."""
        engine = self._engine
        if not self._active():
            return []
        now = self._clock()
        if not self._released:
            async with self._db.connection() as conn:
                released = await visits.release_stale(conn, now)
            self._released = True
            for ticket in released:
                log.info("return_visit_released", ticket_id=ticket)
        config: Config = engine.config
        wanted = slots(config, engine.board, now)
        if wanted <= 0:
            return []
        async with self._db.connection() as conn:
            claimed = await visits.claim_due(
                conn, now, wanted, config.visit_policy(), config.callback_policy()
            )
        started: list[str] = []
        for visit in claimed:
            req = visit.request
            due = VisitDue(
                engine.executor.new_call_id(),
                req.ticket_id,
                req.number,
                req.survey,
                req.summary,
                attempt=len(visit.results) + 1,
            )
            log.info(
                "return_visit_dialled",
                ticket_id=req.ticket_id,
                call_id=due.call_id,
                caller=mask_number(req.number),
                attempt=due.attempt,
            )
            engine.feed(due)
            started.append(req.ticket_id)
        self.started += len(started)
        return started

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


def result_payload(command: RecordVisitResult) -> dict[str, Any]:
    """The writer's payload of a ``RecordVisitResult`` (JSON-safe)."""
    return {
        "call_id": command.call_id,
        "ticket_id": command.ticket_id,
        "outcome": command.outcome,
        "at": dt.datetime.fromtimestamp(command.at, dt.UTC),
        "answers": [list(pair) for pair in command.answers],
        "agent": command.agent,
        "recording": command.recording,
        "note": command.note,
        "fallback": command.fallback,
        "attempts": command.attempts,
    }


def result_writer() -> Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[None]]:
    """The writer's handler of kind ``visit_result``: the store and the outbox, once."""

    async def write(conn: asyncpg.Connection, payload: dict[str, Any]) -> None:
        if not payload["outcome"]:  # an agent's call that never rang the citizen
            if await visits.release_call(conn, payload["ticket_id"], payload.get("agent") or ""):
                log.info("return_visit_call_released", ticket_id=payload["ticket_id"])
            return
        result = cb.VisitResult(
            cb.Outcome(payload["outcome"]),
            payload["at"],
            payload.get("agent"),
            tuple((str(q), str(a)) for q, a in payload.get("answers") or ()),
            payload.get("recording"),
            payload.get("note"),
        )
        changed = await visits.automatic_result(
            conn,
            payload["ticket_id"],
            result,
            attempts=int(payload["attempts"]),
            fallback=payload.get("fallback"),
            call_id=payload["call_id"],
        )
        if changed is None:
            log.warning("return_visit_result_stale", ticket_id=payload["ticket_id"])
        else:
            log.info(
                "return_visit_result",
                ticket_id=payload["ticket_id"],
                outcome=payload["outcome"],
                status=changed.status.value,
                fallback=payload.get("fallback"),
            )

    return write
