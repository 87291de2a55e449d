"""The wallboard's figures as JSON: per queue and in total, today and the last hour.

Every figure comes from the ACD's own event stream (``acd.Acd`` views); the
thresholds of ``engine.yaml`` (``wallboard``) colour each one ``ok``,
``amber`` or ``red``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

import acd
from cti.api.agents import ENGINE
from cti.api.auth import Role
from cti.api.http import principal
from cti.engine.core import Engine

READERS = (Role.WALLBOARD, Role.SUPERVISOR, Role.ADMIN, Role.QUALITY_INSPECTOR)


def _level(value: float | None, amber: float, red: float, *, lower_is_worse: bool) -> str:
    if value is None:
        return "ok"
    if lower_is_worse:
        return "red" if value < red else "amber" if value < amber else "ok"
    return "red" if value > red else "amber" if value > amber else "ok"


def _figures(f: acd.Figures) -> dict[str, Any]:
    data = asdict(f)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in data.items()}


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything the wallboard shows, computed now."""
    now = engine.now()
    core = engine.acd
    thresholds = engine.config.engine.wallboard
    agents = core.agent_views()
    by_state: dict[str, int] = {}
    paused: dict[str, int] = {}
    for view in agents:
        by_state[view.state.value] = by_state.get(view.state.value, 0) + 1
        if view.status.value == "paused":
            paused[view.reason] = paused.get(view.reason, 0) + 1
    queues = []
    for queue_id, queue in engine.config.queues.queues.items():
        view = core.queue_view(acd.QueueId(queue_id), now)
        today = core.queue_figures(acd.QueueId(queue_id), now)
        queues.append(
            {
                "queue": queue_id,
                "name": queue.name,
                "waiting": view.waiting if view else 0,
                "offering": view.offering if view else 0,
                "longest_wait_s": round(view.longest_wait_s, 1) if view else 0.0,
                "staffed": view.staffed if view else 0,
                "today": _figures(today),
            }
        )
    total_today = core.centre_figures(now)
    waiting = sum(q["waiting"] for q in queues)
    longest = max((q["longest_wait_s"] for q in queues), default=0.0)
    rated = engine.ratings_today
    satisfied = sum(n for level, n in rated.items() if level is not None and level <= 2)
    answered_rated = sum(n for level, n in rated.items() if level is not None)
    satisfaction = satisfied / answered_rated if answered_rated else None
    levels = {
        "connection_rate": _level(
            total_today.connection_rate,
            thresholds.connection_rate.amber,
            thresholds.connection_rate.red,
            lower_is_worse=True,
        ),
        "waiting": _level(
            waiting,
            thresholds.waiting_callers.amber,
            thresholds.waiting_callers.red,
            lower_is_worse=False,
        ),
        "longest_wait_s": _level(
            longest,
            thresholds.longest_wait.amber,
            thresholds.longest_wait.red,
            lower_is_worse=False,
        ),
    }
    return {
        "at": engine.now_dt().isoformat(),
        "waiting": waiting,
        "longest_wait_s": longest,
        "agents": {"total": len(agents), "by_state": by_state, "paused_by_reason": paused},
        "today": _figures(total_today),
        "last_hour": _figures(core.centre_figures(now, 3600.0)),
        "satisfaction_rate": round(satisfaction, 4) if satisfaction is not None else None,
        "rated": answered_rated,
        "callback_list": engine.callbacks_open,
        "levels": levels,
        "queues": queues,
        "chart": [{"start": start, **_figures(f)} for start, f in core.chart(None, now, count=12)],
    }


async def wallboard_figures(request: web.Request) -> web.Response:
    principal(request, *READERS)
    return web.json_response(snapshot(request.app[ENGINE]))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/wallboard", wallboard_figures)
