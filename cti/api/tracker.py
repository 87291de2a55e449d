"""What the faces remember between events, that the engine does not keep.

The :class:`Tracker` listens to the engine (``agent_listeners``,
``ended_listeners``) and to the recording service's alarms, and keeps:

- since when each agent is in their current status/state (the toolbar's
  timer, the wallboard's pause-overrun alarm);
- for ``/metrics``: calls by outcome, the wait-time and handle-time
  histograms, recording failures by kind.

Today's figures (satisfaction among them) are kept by the wallboard's
:class:`figures.Day`, which survives a restart.  Wait time is from joining a
queue to the answer (or to leaving unanswered); handle time is from the
moment an agent's state becomes ``on_call`` until it is neither ``on_call``
nor ``wrapup`` (talk plus after-call work).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import Histogram

import acd

WAIT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0)
HANDLE_BUCKETS = (15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0)
_WORKING = frozenset({acd.AgentState.ON_CALL, acd.AgentState.WRAPUP})


@dataclass(frozen=True)
class Fault:
    """A reported fault (a recording that failed) for the wallboard's alarm list."""

    at: float
    kind: str
    call_id: str
    message: str


class Tracker:
    """See the module docstring."""

    def __init__(self) -> None:
        self.since: dict[str, float] = {}
        self.paused_since: dict[str, tuple[str, float]] = {}
        self._last: dict[str, tuple[str, str, str]] = {}
        self._handle_start: dict[str, float] = {}
        self.outcomes: Counter[str] = Counter()
        # Not registered anywhere: /metrics collects them with the rest of a scrape.
        self.wait = Histogram(
            "hotline_call_wait_seconds",
            "Seconds from joining a queue to the answer, or to leaving unanswered.",
            buckets=WAIT_BUCKETS,
            registry=None,
        )
        self.handle = Histogram(
            "hotline_call_handle_seconds",
            "Seconds an agent spent on one call: talk plus wrap-up.",
            buckets=HANDLE_BUCKETS,
            registry=None,
        )
        self.recording_failures: Counter[str] = Counter()
        self.faults: list[Fault] = []

    def __repr__(self) -> str:
        return f"<Tracker agents={len(self.since)}>"

    def on_agent(self, change: acd.AgentStateChanged, now: float) -> None:
        """An agent's status/state changed (``Engine.agent_listeners``)."""
        key = (change.status.value, change.state.value, change.reason)
        agent = str(change.agent)
        if self._last.get(agent) != key:
            self._last[agent] = key
            self.since[agent] = now
        if change.status is acd.AgentStatus.PAUSED:
            paused = self.paused_since.get(agent)
            if paused is None or paused[0] != change.reason:
                self.paused_since[agent] = (change.reason, now)
        else:
            self.paused_since.pop(agent, None)
        started = self._handle_start.get(agent)
        if change.state is acd.AgentState.ON_CALL and started is None:
            self._handle_start[agent] = now
        elif change.state not in _WORKING and started is not None:
            del self._handle_start[agent]
            self.handle.observe(max(0.0, now - started))

    def on_ended(self, call: Any, now: float) -> None:
        """A call ended (``Engine.ended_listeners``)."""
        self.outcomes[call.outcome or "ended"] += 1
        queued = call.stamps.get("queued_at")
        if queued is not None:
            until = call.stamps.get("answered_at") or call.stamps.get("ended_at")
            if until is not None:
                self.wait.observe(max(0.0, (until - queued).total_seconds()))

    def on_recording_alarm(self, alarm: Any) -> None:
        """A recording failed or was lost (``RecordingService.on_alarm``)."""
        self.recording_failures[alarm.kind] += 1
        self.faults.append(Fault(alarm.at.timestamp(), alarm.kind, alarm.call_id, alarm.message))
        del self.faults[:-50]


TRACKER = web.AppKey("faces_tracker", Tracker)
