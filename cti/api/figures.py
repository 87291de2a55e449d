"""The wallboard's figures: per queue and in total, today, the last hour, the alarms.

Calls waiting, offering and the longest current wait come from the ACD's
views.  Today's figures (offered / answered / abandoned, 接通率, 15-second
answer rate, average wait and handle time, satisfaction) and the last hour's
chart come from a :class:`figures.Day` fed with every call record and agent
state change as the engine writes them (formulas in :mod:`figures.calls`; a
caller still waiting counts as offered and in no rate until answered or
gone).  On start the day is rebuilt from the stored records
(:func:`rebuild`), so a restart changes no figure.  Agents by state are
counted per queue over the agents whose skills meet the queue's requirements
once fully relaxed.  The callback list length comes from the ``callbacks``
table (refreshed by the live publisher), or the engine's own count while the
database is away.

The thresholds of ``engine.yaml`` (``wallboard``) set each figure's level;
every computation feeds the :class:`~cti.api.alarms.AlarmBook`, and agents
paused longer than their reason's ``max_minutes`` raise an alarm too.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import structlog
from aiohttp import web

import acd
import figures
from cti.api import schemas as s
from cti.api.agents import ENGINE
from cti.api.alarms import AMBER, OK, RED, AlarmBook, AlarmRecord, Reading, level_of
from cti.api.auth import Role
from cti.api.spec import Operation, register, reply
from cti.api.tracker import TRACKER, Tracker
from cti.appkeys import DATABASE
from cti.config import Config
from cti.config.coverage import days_covered
from cti.engine.acdmap import acd_config
from cti.errors import StoreError
from cti.executor import Engine
from cti.reports.queries import agent_changes_since, call_rows_since

log = structlog.get_logger(__name__)

READERS = (Role.WALLBOARD, Role.SUPERVISOR, Role.ADMIN, Role.QUALITY_INSPECTOR)
TOTAL = "total"
CALENDAR_DAYS = "calendar_days"
NODE = "node"  # an Asterisk node, of several: red when down, amber while drained
"""The alarm raised when calendar.yaml's holidays run out soon (see cti.config.coverage)."""
SHOWN_ALARMS = 20


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _figures(f: figures.Tally) -> s.Figures:
    return s.Figures(
        offered=f.offered,
        in_queue=f.in_queue,
        answered=f.answered,
        answered_within_sl=f.answered_within_sl,
        abandoned=f.abandoned,
        short_abandoned=f.short_abandoned,
        overflowed=f.overflowed,
        connection_rate=_r(f.connection_rate),
        answer_rate_sl=_r(f.answer_rate_sl),
        avg_wait_s=_r(f.asa_s),
        longest_wait_s=round(f.wait_max_s, 1),
        avg_handle_s=_r(f.avg_handle_s),
    )


def rules_of(engine: Engine) -> figures.RulesOf:
    """Each queue's service level and short-abandon threshold, as configured now."""

    def rules(queue: str | None) -> figures.Rules:
        cfg = engine.config.queues.queues.get(queue) if queue is not None else None
        if cfg is None:
            return figures.Rules()
        return figures.Rules(float(cfg.service_level), float(cfg.short_abandon))

    return rules


def new_day(engine: Engine) -> figures.Day:
    """An empty :class:`figures.Day` shaped like the engine's ACD chart."""
    shape = acd_config(engine.config)
    return figures.Day(engine.config.local_date, rules_of(engine), shape.bucket_s, shape.buckets)


def _count(views: list[acd.AgentView]) -> s.AgentCounts:
    n = dict.fromkeys(("ready", "ringing", "on_call", "wrapup", "paused"), 0)
    n |= dict.fromkeys(("unreachable", "busy_outside", "offline"), 0)
    by_reason: dict[str, int] = {}
    for v in views:
        state = v.state.value
        if state in ("ringing", "on_call", "wrapup"):
            n[state] += 1
        elif v.status is acd.AgentStatus.PAUSED and state == "idle":
            n["paused"] += 1
            by_reason[v.reason] = by_reason.get(v.reason, 0) + 1
        elif state == "idle":
            n["ready"] += 1
        else:
            n[state] += 1
    return s.AgentCounts(total=len(views), paused_by_reason=by_reason, **n)


def eligible_agents(engine: Engine) -> dict[str, frozenset[str]]:
    """Per queue, the agents whose skills meet its requirements once fully relaxed."""
    return _eligible(engine.config)


@functools.lru_cache(maxsize=4)
def _eligible(config: Config) -> dict[str, frozenset[str]]:
    # A Config is immutable and hashed by identity: computed once per version.
    out: dict[str, frozenset[str]] = {}
    for queue_id, queue in config.queues.queues.items():
        needs = [
            (req.skill, min([req.min_level, *(step.min_level for step in req.relax)]))
            for req in queue.skills
        ]
        out[queue_id] = frozenset(
            agent.number
            for agent in config.agents.agents
            if all(agent.skills.get(skill, 0) >= level for skill, level in needs)
        )
    return out


class WallboardState:
    """Computes the wallboard and keeps its alarms; ``callbacks`` is set by the publisher."""

    def __init__(self, engine: Engine, tracker: Tracker) -> None:
        self.engine = engine
        self.tracker = tracker
        self.alarms = AlarmBook()
        self.callbacks: dict[str, int] | None = None
        self.callback_figures: s.CallbackBoard | None = None
        self.day = new_day(engine)

    def on_call(self, call: Any) -> None:
        """A call's record changed (``Engine.call_listeners`` / ``ended_listeners``)."""
        self.day.on_call(call.record())

    def on_agent(self, change: acd.AgentStateChanged) -> None:
        """An agent's state changed (``Engine.agent_listeners``), at the time stored with it."""
        at = self.engine.agent_change_at or self.engine.now_dt()
        self.day.on_agent(str(change.agent), change.status.value, change.state.value, at)

    def today(self, queue: str | None = None) -> figures.Tally:
        """Today's tally of ``queue`` (``None``: every queue), rolled to today first."""
        self.day.roll(self.engine.now_dt())
        return self.day.total if queue is None else self.day.queue(queue)

    def __repr__(self) -> str:
        return f"<WallboardState {self.alarms!r}>"

    def _levels(self, scope: str, board: dict[str, Any]) -> tuple[dict[str, str], list[Reading]]:
        t = self.engine.config.engine.wallboard
        today = board["today"]
        judged = today.offered - today.in_queue >= t.connection_rate_min_offered
        checks = {
            "connection_rate": level_of(
                today.connection_rate if judged else None,
                t.connection_rate.amber,
                t.connection_rate.red,
                lower_is_worse=True,
            ),
            "waiting": level_of(
                board["waiting"], t.waiting_callers.amber, t.waiting_callers.red,
                lower_is_worse=False,
            ),
            "longest_wait_s": level_of(
                board["longest_wait_s"], t.longest_wait.amber, t.longest_wait.red,
                lower_is_worse=False,
            ),
        }  # fmt: skip
        readings = [
            Reading(name, scope, r.value, r.level, r.threshold) for name, r in checks.items()
        ]
        return {name: r.level for name, r in checks.items()}, readings

    def _board(
        self,
        scope: str,
        name: str,
        queues: list[acd.QueueView],
        views: list[acd.AgentView],
        today: figures.Tally,
        now: float,
    ) -> tuple[s.Board, list[Reading]]:
        if self.callbacks is None:
            callbacks = self.engine.callbacks_open if scope == TOTAL else 0
        elif scope == TOTAL:
            callbacks = sum(self.callbacks.values())
        else:
            callbacks = self.callbacks.get(scope, 0)
        fields: dict[str, Any] = {
            "id": scope,
            "name": name,
            "waiting": sum(q.waiting for q in queues),
            "offering": sum(q.offering for q in queues),
            "longest_wait_s": round(max((q.longest_wait_s for q in queues), default=0.0), 1),
            "agents": _count(views),
            "today": _figures(today),
            "satisfaction_rate": _r(today.satisfaction_rate),
            "rated": today.rated,
            "callbacks_open": callbacks,
        }
        levels, readings = self._levels(scope, fields)
        return s.Board(**fields, levels={k: s.Level(v) for k, v in levels.items()}), readings

    def _pause_readings(self, now: float) -> list[Reading]:
        reasons = self.engine.config.agents.pause_reasons
        out = []
        for agent, (reason, since) in self.tracker.paused_since.items():
            limit = reasons[reason].max_minutes if reason in reasons else None
            if limit is None:
                continue
            minutes = (now - since) / 60.0
            level = "amber" if minutes > limit else OK
            out.append(Reading("pause_minutes", agent, round(minutes, 1), level, float(limit)))
        return out

    def _calendar_readings(self, now: float) -> list[Reading]:
        """The holiday calendar's days ahead, red below ``calendar_alarm_days``."""
        config = self.engine.config
        days = days_covered(config, datetime.fromtimestamp(now, UTC))
        if days is None:
            return []
        limit = config.engine.wallboard.calendar_alarm_days
        level = RED if days < limit else OK
        return [Reading(CALENDAR_DAYS, TOTAL, float(days), level, float(limit))]

    def _node_readings(self) -> list[Reading]:
        """Each Asterisk node's state, when there are several: 1 up, 0.5 drained, 0 down."""
        nodes = self.engine.nodes
        if nodes is None:
            return []
        value = {"up": (1.0, OK), "draining": (0.5, AMBER), "down": (0.0, RED)}
        return [Reading(NODE, v["name"], *value[v["state"]]) for v in nodes.view()]

    def compute(self) -> s.Wallboard:
        """Everything the wallboard shows, now; the alarm book is updated on the way."""
        engine = self.engine
        now = engine.now()
        core = engine.acd
        config = engine.config
        views = core.agent_views()
        by_agent = {str(v.agent): v for v in views}
        eligible = eligible_agents(engine)
        readings: list[Reading] = []
        boards: list[s.Board] = []
        queue_views: list[acd.QueueView] = []
        for queue_id, queue in config.queues.queues.items():
            view = core.queue_view(acd.QueueId(queue_id), now)
            qviews = [view] if view is not None else []
            queue_views += qviews
            members = [by_agent[a] for a in sorted(eligible[queue_id]) if a in by_agent]
            today = self.today(queue_id)
            board, found = self._board(queue_id, queue.name, qviews, members, today, now)
            boards.append(board)
            readings += found
        total, found = self._board(
            TOTAL, config.platform.name, queue_views, views, self.today(), now
        )
        readings += found + self._pause_readings(now) + self._calendar_readings(now)
        readings += self._node_readings()
        self.alarms.update(readings, now)
        t = config.engine.wallboard
        return s.Wallboard(
            at=_utc(now),
            total=total,
            queues=boards,
            chart=[_point(start, f) for start, f in self.day.chart(now, count=12)],
            alarms=self._alarm_list(),
            thresholds={
                "connection_rate": {"amber": t.connection_rate.amber, "red": t.connection_rate.red},
                "waiting": {"amber": t.waiting_callers.amber, "red": t.waiting_callers.red},
                "longest_wait_s": {"amber": t.longest_wait.amber, "red": t.longest_wait.red},
            },
            pause_labels={code: r.label for code, r in config.agents.pause_reasons.items()},
            callbacks=self.callback_figures,
        )

    def _alarm_list(self) -> list[s.Alarm]:
        items: list[s.Alarm] = [_alarm(r) for r in self.alarms.records]
        for i, fault in enumerate(self.tracker.faults):
            items.append(
                s.Alarm(
                    id=-(i + 1),
                    figure=fault.kind,
                    scope=fault.call_id,
                    level=s.Level(RED),
                    value=None,
                    threshold=None,
                    raised_at=_utc(fault.at),
                    cleared_at=_utc(fault.at),
                    message=fault.message,
                )
            )
        items.sort(key=lambda a: (a.cleared_at is None, a.raised_at), reverse=True)
        return items[:SHOWN_ALARMS]


def _point(start: float, f: figures.Tally) -> s.ChartPoint:
    rate = _r(f.connection_rate)
    return s.ChartPoint(
        start=_utc(start),
        offered=f.offered,
        answered=f.answered,
        abandoned=f.abandoned,
        connection_rate=rate,
    )


def _alarm(record: AlarmRecord) -> s.Alarm:
    if record.figure == CALENDAR_DAYS:
        message = (
            f"the holiday calendar covers {record.value:.0f} more days"
            f" (alarm below {record.threshold:.0f}): add the next notice to calendar.yaml"
        )
    elif record.figure == NODE:
        state = "drained for maintenance" if record.level == AMBER else "down"
        message = f"Asterisk node {record.scope} {state}: calls go to the other nodes"
    elif record.threshold is None:
        message = f"{record.figure} {record.level}"
    else:
        message = f"{record.figure} = {record.value} (threshold {record.threshold})"
    return s.Alarm(
        id=record.id,
        figure=record.figure,
        scope=record.scope,
        level=s.Level(record.level),
        value=record.value,
        threshold=record.threshold,
        raised_at=_utc(record.raised_at),
        cleared_at=_utc(record.cleared_at) if record.cleared_at is not None else None,
        message=message,
        acked_by=record.acked_by,
        acked_at=_utc(record.acked_at) if record.acked_at is not None else None,
    )


WALLBOARD = web.AppKey("wallboard_state", WallboardState)


async def wallboard_figures(request: web.Request) -> web.Response:
    from cti.api.http import principal

    principal(request, *READERS)
    return reply(request.app[WALLBOARD].compute())


async def rebuild(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: today's figures rebuilt from the store before calls are adopted.

    Reads the calls queued since local midnight (or since the chart's first
    bucket, if earlier) and today's agent state changes, in the order they
    happened; a database that does not answer leaves the figures to start
    from what the engine sees (logged).
    """

    board = app.get(WALLBOARD)
    db = app.get(DATABASE)
    if board is not None and db is not None:
        engine = board.engine
        now = engine.now_dt()
        zone = engine.config.timezone
        midnight = datetime.combine(engine.config.local_date(now), time(0), tzinfo=zone)
        chart_from = now - timedelta(seconds=board.day.bucket_s * board.day.keep)
        try:
            rows = await call_rows_since(db, min(midnight, chart_from))
            changes = await agent_changes_since(db, midnight)
        except StoreError as exc:
            log.error("figures_not_rebuilt", error=str(exc))
        else:
            day = new_day(engine)
            day.roll(now)
            for row in rows:
                day.on_call(row)
            for change in changes:
                day.on_agent(change["agent_id"], change["status"], change["state"], change["at"])
            board.day = day
            log.info("figures_rebuilt", calls=len(rows), agent_changes=len(changes))
    yield


def add_routes(app: web.Application) -> None:
    board = app[WALLBOARD] = WallboardState(app[ENGINE], app[TRACKER])
    engine = app[ENGINE]
    engine.call_listeners.append(board.on_call)
    engine.ended_listeners.append(board.on_call)
    engine.agent_listeners.append(board.on_agent)
    register(
        app,
        Operation(
            "GET",
            "/api/wallboard",
            wallboard_figures,
            "wallboard_figures",
            "The wallboard: per queue and in total, the last hour, the alarms",
            "figures",
            READERS,
            response=s.Wallboard,
        ),
    )
