"""``GET /metrics``: the engine's figures in the Prometheus text format.

Families (all prefixed ``hotline_``):

===================================  =========  ==========================================
name                                 type       what
===================================  =========  ==========================================
calls_total{outcome}                 counter    calls ended, by outcome, since start
calls_active{state}                  gauge      calls in the engine, by public state
call_wait_seconds                    histogram  queue join to answer (or leaving unanswered)
call_handle_seconds                  histogram  an agent's talk plus wrap-up
agents{state}                        gauge      agents by wallboard state
agents_paused{reason}                gauge      paused agents by reason
queue_waiting{queue}                 gauge      callers waiting
queue_offering{queue}                gauge      callers being offered to an agent
queue_longest_wait_seconds{queue}    gauge      the longest current wait
queue_connection_rate_today{queue}   gauge      接通率 today (absent before any call)
link_up{link}                        gauge      1 when the ARI / AMI link is connected
link_reconnects_total{link}          counter    successful reconnections
link_losses_total{link}              counter    connections lost
database_up                          gauge      1 when the database answered this scrape
writer_pending                       gauge      durable writes not yet in the database
outbox_pending                       gauge      tickets not yet accepted by the backend
outbox_rejected                      gauge      tickets parked after a 4xx
outbox_oldest_pending_age_seconds    gauge      age of the oldest pending ticket (0: none)
tickets_sent_total{result}           counter    delivered / retried / rejected sends
recording_failures_total{kind}       counter    recordings failed or lost
engine_errors_total                  counter    internal errors the engine caught
ari_requests{state}                  gauge      ARI requests under way / waiting for a slot
arrivals_waiting                     gauge      new calls read but not yet taken up
alarms_open{level}                   gauge      wallboard threshold alarms now open
calendar_days_covered                gauge      days ahead the holiday calendar covers
callbacks_pending                    gauge      open entries of the callback list (漏接回拨)
callbacks_overdue                    gauge      open entries past their deadline
callbacks_done_today                 gauge      entries called back today (reached, refused, wrong number)
callbacks_in_time_ratio              gauge      share of today's missed numbers called back in time
node_up{node}                        gauge      1 while the Asterisk node takes calls (several nodes)
node_draining{node}                  gauge      1 while the node is drained for maintenance
node_calls{node}                     gauge      calls in progress on the node
node_lost_total{node}                counter    times the node was marked down
node_refused_total{node}             counter    callers refused while drained or down
===================================  =========  ==========================================

The exposition is written by ``prometheus_client`` from one collector that
reads the engine's state when scraped: nothing is counted twice, and the
families always appear in the order above.

Readers: the wallboard, supervisor, admin and quality-inspector tokens
(Prometheus sends one with ``authorization: {credentials_file: ...}``).
The outbox and callback figures need the database; when it does not answer
within two seconds they are left out and ``database_up`` is 0.
``callbacks_in_time_ratio`` is absent until a missed number of the day is done
or past its deadline.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cti.api.agents import ENGINE
from cti.api.figures import READERS, WALLBOARD, _count
from cti.api.http import principal
from cti.api.spec import Operation, register
from cti.api.tracker import TRACKER
from cti.appkeys import AMI, ARI, DATABASE, NODES, OUTBOX, TICKETS, WRITER
from cti.config.coverage import days_covered
from cti.errors import StoreError
from cti.store.callbacks import day_figures as callback_figures

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = ("answered", "abandoned", "callback", "voicemail", "overflowed", "transferred")
AGENT_STATES = (
    "ready", "ringing", "on_call", "wrapup", "paused", "unreachable", "busy_outside", "offline",
)  # fmt: skip
CALL_STATES = ("ivr", "waiting", "talking", "rating", "voicemail", "ending")

Samples = list[tuple[dict[str, str], float]]


def _family(kind: str, name: str, help_text: str, samples: Samples) -> Metric:
    """A counter (``name`` ends in ``_total``) or gauge family with its samples."""
    labels = sorted({k for labels, _ in samples for k in labels})
    family: GaugeMetricFamily | CounterMetricFamily
    if kind == "counter":
        family = CounterMetricFamily(name, help_text, labels=labels)
    else:
        family = GaugeMetricFamily(name, help_text, labels=labels)
    for sample_labels, value in samples:
        family.add_metric([sample_labels[k] for k in labels], value)
    return family


def _without_created(metric: Metric) -> Metric:
    # A Histogram also reports when it was created; the exposition keeps only
    # its buckets, sum and count, as Prometheus's text format 0.0.4 has them.
    metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
    return metric


class _Scrape(Collector):
    """The engine's figures as of one scrape (``stats``: the outbox, read beforehand)."""

    def __init__(self, app: web.Application, stats: Any) -> None:
        self.app = app
        self.stats = stats

    def collect(self) -> Iterator[Metric]:

        app = self.app
        engine = app[ENGINE]
        tracker = app[TRACKER]
        now = engine.now()
        outcomes = Counter(tracker.outcomes)
        for name in OUTCOMES:
            outcomes.setdefault(name, 0)
        yield _family(
            "counter",
            "hotline_calls_total",
            "Calls ended since the engine started, by outcome.",
            [({"outcome": k}, v) for k, v in sorted(outcomes.items())],
        )
        states = Counter(dict.fromkeys(CALL_STATES, 0))
        for call in engine.calls.values():
            states[call.public_state] += 1
        yield _family(
            "gauge",
            "hotline_calls_active",
            "Calls in the engine now, by state.",
            [({"state": k}, v) for k, v in sorted(states.items())],
        )
        for histogram in (tracker.wait, tracker.handle):
            yield from (_without_created(m) for m in histogram.collect())
        counts = _count(engine.acd.agent_views())
        yield _family(
            "gauge",
            "hotline_agents",
            "Agents by state.",
            [({"state": k}, getattr(counts, k)) for k in AGENT_STATES],
        )
        yield _family(
            "gauge",
            "hotline_agents_paused",
            "Paused agents by pause reason.",
            [({"reason": k}, v) for k, v in sorted(counts.paused_by_reason.items())],
        )
        yield from _queues(engine, app.get(WALLBOARD), now)
        yield from _links(app.get(ARI), app.get(AMI))
        yield from _nodes(app.get(NODES))
        stats = self.stats
        writer = app.get(WRITER)
        up = stats is not None and (writer is None or writer.database_up)
        yield _family("gauge", "hotline_database_up", "1 when the database answers.",
                      [({}, int(up))])  # fmt: skip
        pending = writer.pending if writer is not None else 0
        yield _family("gauge", "hotline_writer_pending", "Durable writes not yet stored.",
                      [({}, pending)])  # fmt: skip
        if stats is not None:
            yield _family("gauge", "hotline_outbox_pending", "Tickets not yet accepted.",
                          [({}, stats.pending)])  # fmt: skip
            yield _family("gauge", "hotline_outbox_rejected", "Tickets parked after a 4xx.",
                          [({}, stats.rejected)])  # fmt: skip
            yield _family(
                "gauge",
                "hotline_outbox_oldest_pending_age_seconds",
                "Age of the oldest pending ticket; 0 when none is pending.",
                [({}, round(stats.oldest_pending_age_s or 0.0, 3))],
            )
        sender = app.get(TICKETS)
        if sender is not None:
            c = sender.counters
            yield _family(
                "counter",
                "hotline_tickets_sent_total",
                "Ticket sends by result since start.",
                [({"result": "delivered"}, c.delivered), ({"result": "retried"}, c.retried),
                 ({"result": "rejected"}, c.rejected)],
            )  # fmt: skip
        failures = Counter(tracker.recording_failures)
        for kind in ("recording_failed", "recording_lost"):
            failures.setdefault(kind, 0)
        yield _family(
            "counter",
            "hotline_recording_failures_total",
            "Recordings that failed or were lost, since start.",
            [({"kind": k}, v) for k, v in sorted(failures.items())],
        )
        yield _family("counter", "hotline_engine_errors_total", "Internal errors caught by the engine.",
                      [({}, engine.errors)])  # fmt: skip
        yield _family(
            "gauge",
            "hotline_ari_requests",
            "ARI requests under way, and waiting for one of ari.requests_in_flight slots.",
            [
                ({"state": "in_flight"}, engine.gate.busy),
                ({"state": "waiting"}, engine.gate.waiting),
            ],
        )
        yield _family("gauge", "hotline_arrivals_waiting", "New calls read but not yet taken up.",
                      [({}, len(engine.arrivals))])  # fmt: skip
        board = app.get(WALLBOARD)
        levels = Counter({"amber": 0, "red": 0})
        if board is not None:
            for alarm in board.alarms.open:
                levels[alarm.level] += 1
        yield _family(
            "gauge",
            "hotline_alarms_open",
            "Wallboard threshold alarms open now, by level.",
            [({"level": k}, levels[k]) for k in ("amber", "red")],
        )
        days = days_covered(engine.config)
        if days is not None:
            yield _family(
                "gauge",
                "hotline_calendar_days_covered",
                "Days ahead that calendar.yaml's holiday list covers (negative once past).",
                [({}, days)],
            )


async def _outbox_stats(app: web.Application) -> Any:

    outbox = app.get(OUTBOX)
    if outbox is None:
        return None
    try:
        async with asyncio.timeout(2.0):
            return await outbox.stats()
    except (StoreError, TimeoutError):
        return None


class _Callbacks(Collector):
    """The callback list's figures, read before the scrape (None: the database did not answer)."""

    def __init__(self, found: Any) -> None:
        self.found = found

    def collect(self) -> Iterator[Metric]:
        found = self.found
        if found is None:
            return
        yield _family("gauge", "hotline_callbacks_pending", "Open entries of the callback list.",
                      [({}, found.pending)])  # fmt: skip
        yield _family("gauge", "hotline_callbacks_overdue", "Open entries past their deadline.",
                      [({}, found.overdue)])  # fmt: skip
        yield _family("gauge", "hotline_callbacks_done_today", "Entries called back today.",
                      [({}, found.done_today)])  # fmt: skip
        if found.in_time_share is not None:
            yield _family(
                "gauge",
                "hotline_callbacks_in_time_ratio",
                "Share of today's missed numbers called back within the deadline.",
                [({}, round(found.in_time_share, 4))],
            )


async def _callback_figures(app: web.Application) -> Any:
    db, engine = app.get(DATABASE), app.get(ENGINE)
    if db is None or engine is None:
        return None
    try:
        async with asyncio.timeout(2.0):
            return await callback_figures(db, engine.config, engine.now_dt())
    except (StoreError, TimeoutError):
        return None


async def render(app: web.Application) -> str:
    """The whole exposition, as of now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(app, await _outbox_stats(app)))
    registry.register(_Callbacks(await _callback_figures(app)))
    return generate_latest(registry).decode()


def _queues(engine: Any, board: Any, now: float) -> Iterator[Metric]:
    import acd
    import figures

    views = []
    for queue_id in engine.config.queues.queues:
        view = engine.acd.queue_view(acd.QueueId(queue_id), now)
        if view is not None:
            today = board.today(queue_id) if board is not None else figures.Tally()
            views.append((queue_id, view, today))
    yield _family("gauge", "hotline_queue_waiting", "Callers waiting in the queue.",
                  [({"queue": q}, v.waiting) for q, v, _ in views])  # fmt: skip
    yield _family("gauge", "hotline_queue_offering", "Callers being offered to an agent.",
                  [({"queue": q}, v.offering) for q, v, _ in views])  # fmt: skip
    yield _family(
        "gauge",
        "hotline_queue_longest_wait_seconds",
        "The longest current wait in the queue.",
        [({"queue": q}, round(v.longest_wait_s, 3)) for q, v, _ in views],
    )
    yield _family(
        "gauge",
        "hotline_queue_connection_rate_today",
        "Connection rate today (answered / offered calls answered or gone).",
        [({"queue": q}, f.connection_rate) for q, _, f in views if f.connection_rate is not None],
    )


def _links(ari: Any, ami: Any) -> Iterator[Metric]:
    links = [(name, c.link) for name, c in (("ari", ari), ("ami", ami)) if c is not None]
    yield _family("gauge", "hotline_link_up", "1 when the link to Asterisk is connected.",
                  [({"link": n}, int(link.connected)) for n, link in links])  # fmt: skip
    yield _family("counter", "hotline_link_reconnects_total", "Successful reconnections.",
                  [({"link": n}, link.reconnects) for n, link in links])  # fmt: skip
    yield _family("counter", "hotline_link_losses_total", "Connections lost.",
                  [({"link": n}, link.losses) for n, link in links])  # fmt: skip


def _nodes(nodes: Any) -> Iterator[Metric]:
    """Several Asterisk nodes: each one's state (none with one node)."""
    views = nodes.view() if nodes is not None else []
    yield _family("gauge", "hotline_node_up", "1 when the Asterisk node takes calls (up, not drained or down).",
                  [({"node": v["name"]}, int(v["state"] == "up")) for v in views])  # fmt: skip
    yield _family("gauge", "hotline_node_draining", "1 when the node is drained for maintenance.",
                  [({"node": v["name"]}, int(v["state"] == "draining")) for v in views])  # fmt: skip
    yield _family("gauge", "hotline_node_calls", "Calls in progress on the node.",
                  [({"node": v["name"]}, v["calls"]) for v in views])  # fmt: skip
    yield _family("counter", "hotline_node_lost_total", "Times the node was marked down.",
                  [({"node": v["name"]}, v["lost"]) for v in views])  # fmt: skip
    yield _family("counter", "hotline_node_refused_total",
                  "Callers refused while the node was drained or down.",
                  [({"node": v["name"]}, v["refused"]) for v in views])  # fmt: skip


async def metrics(request: web.Request) -> web.Response:
    principal(request, *READERS)
    text = await render(request.app)
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    register(
        app,
        Operation(
            "GET",
            "/metrics",
            metrics,
            "metrics",
            "Prometheus text exposition (version 0.0.4)",
            "figures",
            READERS,
            produces="text/plain",
            response_schema={"type": "string"},
        ),
    )
