"""A report: the figures of a period, grouped one way, read from the store.

:func:`build` runs the queries of :mod:`cti.reports.queries` and turns each
group's counts into a :class:`figures.Tally`, so every rate is computed by
the one implementation in :mod:`figures.calls`.  Agent time (handle time,
wrap-up, occupancy, utilisation) is an agent's figure: it fills the rows of a
report by agent and the total row; rows of other groupings leave it empty.

:data:`COLUMNS` is the one list of what a report shows, in order, with the
Chinese title the exports use; JSON, CSV, XLSX and the web page all read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import figures
from cti.config import Config
from cti.reports import queries
from cti.reports.periods import Period
from cti.store.db import Database

GROUPINGS = tuple(queries.KEYS)


@dataclass
class Row:
    key: str
    label: str
    calls: figures.Tally
    time: figures.AgentTime | None = None
    callbacks_requested: int = 0
    callbacks_done: int = 0
    callbacks_in_time: int = 0
    return_visits_done: int = 0

    def merge(self, other: Row) -> None:
        self.calls.merge(other.calls)
        if other.time is not None:
            if self.time is None:
                self.time = figures.AgentTime()
            self.time.merge(other.time)
        self.callbacks_requested += other.callbacks_requested
        self.callbacks_done += other.callbacks_done
        self.callbacks_in_time += other.callbacks_in_time
        self.return_visits_done += other.return_visits_done


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    kind: str  # count | rate | seconds | text
    get: Callable[[Row], Any]


def _t(name: str) -> Callable[[Row], Any]:
    return lambda row: getattr(row.calls, name)


def _time(name: str) -> Callable[[Row], Any]:
    return lambda row: None if row.time is None else getattr(row.time, name)


def _handled(row: Row) -> Any:
    return row.calls.handled if row.time is not None else None


def _aht(row: Row) -> Any:
    return row.calls.avg_handle_s if row.time is not None else None


def _wrap(row: Row) -> Any:
    return row.calls.avg_wrapup_s if row.time is not None else None


def _level(n: int) -> Callable[[Row], Any]:
    return lambda row: row.calls.levels.get(n, 0)


COLUMNS: tuple[Column, ...] = (
    Column("key", "分组", "text", lambda row: row.key),
    Column("label", "名称", "text", lambda row: row.label),
    Column("offered", "人工服务请求量", "count", _t("offered")),
    Column("in_queue", "排队中", "count", _t("in_queue")),
    Column("answered", "人工接通量", "count", _t("answered")),
    Column("answered_within_sl", "及时应答量", "count", _t("answered_within_sl")),
    Column("abandoned", "放弃量", "count", _t("abandoned")),
    Column("short_abandoned", "短时放弃量", "count", _t("short_abandoned")),
    Column("overflowed", "溢出量", "count", _t("overflowed")),
    Column("unanswered_other", "留言/回拨登记", "count", _t("unanswered_other")),
    Column("connection_rate", "接通率", "rate", _t("connection_rate")),
    Column("answer_rate_sl", "人工应答及时率", "rate", _t("answer_rate_sl")),
    Column("abandon_rate", "放弃率", "rate", _t("abandon_rate")),
    Column("asa_s", "平均应答速度(秒)", "seconds", _t("asa_s")),
    Column("avg_wait_s", "平均等待(秒)", "seconds", _t("avg_wait_s")),
    Column("longest_wait_s", "最长等待(秒)", "seconds", _t("wait_max_s")),
    Column("handled", "处理量", "count", _handled),
    Column("avg_handle_s", "平均处理时长(秒)", "seconds", _aht),
    Column("avg_wrapup_s", "平均话后处理(秒)", "seconds", _wrap),
    Column("occupancy", "占用率", "rate", _time("occupancy")),
    Column("utilisation", "利用率", "rate", _time("utilisation")),
    Column("rated", "评价量", "count", _t("rated")),
    Column("satisfied", "满意量", "count", _t("satisfied")),
    Column("satisfaction_rate", "满意率", "rate", _t("satisfaction_rate")),
    Column("level_1", "非常满意", "count", _level(1)),
    Column("level_2", "满意", "count", _level(2)),
    Column("level_3", "基本满意", "count", _level(3)),
    Column("level_4", "不满意", "count", _level(4)),
    Column("level_5", "非常不满意", "count", _level(5)),
    Column("callbacks_requested", "漏接回拨登记", "count", lambda r: r.callbacks_requested),
    Column("callbacks_done", "回拨完成", "count", lambda r: r.callbacks_done),
    Column("callbacks_in_time", "按时回拨", "count", lambda r: r.callbacks_in_time),
    Column("return_visits_done", "回访完成", "count", lambda r: r.return_visits_done),
)


@dataclass
class Report:
    period: Period
    by: str
    rows: list[Row]
    total: Row
    handoffs: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Every row then the total, as ``{column name: value}``."""
        return [{c.name: c.get(row) for c in COLUMNS} for row in [*self.rows, self.total]]


def rules(config: Config) -> dict[str, tuple[float, float]]:
    """Per queue: (service level seconds, short-abandon seconds)."""
    return {
        q: (float(cfg.service_level), float(cfg.short_abandon))
        for q, cfg in config.queues.queues.items()
    }


def _tally(counts: dict[str, Any]) -> figures.Tally:
    return figures.Tally(
        offered=counts["offered"],
        in_queue=counts["in_queue"],
        answered=counts["answered"],
        answered_within_sl=counts["answered_within_sl"],
        abandoned=counts["abandoned"],
        short_abandoned=counts["short_abandoned"],
        overflowed=counts["overflowed"],
        unanswered_other=counts["unanswered_other"],
        rated=counts["rated"],
        satisfied=counts["satisfied"],
        wait_answered_s=float(counts["wait_answered_s"]),
        wait_all_s=float(counts["wait_all_s"]),
        wait_max_s=float(counts["wait_max_s"]),
        levels={n: counts[f"level_{n}"] for n in range(1, 6) if counts[f"level_{n}"]},
    )


def _labeller(config: Config, by: str) -> Callable[[str], str]:
    if by in ("queue", "skill"):
        names = {q: cfg.name for q, cfg in config.queues.queues.items()}
        return lambda key: names.get(key, key or "(无队列)")
    if by == "agent":
        agents = {a.number: a.name for a in config.agents.agents}
        return lambda key: agents.get(key, key or "(未接通)")
    if by == "department":
        return lambda key: key or "12345"
    return lambda key: key


def _skill_of(config: Config) -> Callable[[str], str]:
    first = {
        q: (cfg.skills[0].skill if cfg.skills else q) for q, cfg in config.queues.queues.items()
    }
    return lambda queue: first.get(queue, queue)


async def build(db: Database, config: Config, period: Period, by: str) -> Report:
    """The report of ``period`` grouped ``by`` (one of :data:`GROUPINGS`)."""
    if by not in queries.KEYS:
        raise ValueError(f"--by: {by!r} is not one of {', '.join(GROUPINGS)}")
    start, end = period.start, period.end
    zone = config.calendar.timezone
    found = await queries.call_figures(db, start, end, by, zone, rules(config))
    label = _labeller(config, by)
    rows: dict[str, Row] = {}
    skill_of = _skill_of(config)
    for counts in found:
        key = str(counts["key"])
        if by == "skill":
            key = skill_of(key)
        row = Row(key, label(key), _tally(counts))
        if key in rows:
            rows[key].merge(row)
        else:
            rows[key] = row
    total = Row("total", "合计", figures.Tally())
    for row in rows.values():
        total.calls.merge(row.calls)
    agents = [a.number for a in config.agents.agents]
    times = await queries.agent_time(db, start, end, agents)
    total.time = figures.AgentTime()
    for t in times:
        time = figures.AgentTime(t["busy_s"], t["available_s"], t["paused_s"], t["logged_in_s"])
        handled = figures.Tally(
            handled=t["handled"], handle_s=float(t["busy_s"]), wrapup_s=float(t["wrapup_s"])
        )
        total.time.merge(time)
        total.calls.merge(handled)
        if by == "agent":
            key = str(t["agent_id"])
            row = rows.setdefault(key, Row(key, label(key), figures.Tally()))
            row.time = time
            row.calls.merge(handled)
    deadline = config.engine.assessment.callback_deadline_hours
    for cb in await queries.callbacks(db, start, end, deadline):
        key = str(cb["queue"])
        target = rows.get(key) if by == "queue" else None
        for r in (total, target) if target is not None else (total,):
            r.callbacks_requested += cb["requested"]
            r.callbacks_done += cb["done"]
            r.callbacks_in_time += cb["done_in_time"]
    hand = [dict(h) for h in await queries.handoffs(db, start, end)]
    return Report(period, by, [rows[k] for k in sorted(rows)], total, hand)
