"""Today's figures, kept from call records and agent state changes as they happen.

Theory of operation.  A :class:`Day` is fed every new version of a call's
record (:meth:`Day.on_call`) and every agent state change
(:meth:`Day.on_agent`).  It keeps each call's contribution
(:func:`figures.calls.contribution`), replaces it when the record changes,
and keeps the sums per queue, per agent (the agent who answered) and in total
for the local day of ``queued_at``, and per chart bucket (``bucket_s``
seconds, the last ``keep`` of them, across midnight).

Because the state is a function of the records alone, feeding a new
:class:`Day` the stored rows of today (and of the chart's window) and today's
stored agent state changes gives the figures the running engine had: that is
how the engine rebuilds them on start.

Handled calls (talk plus wrap-up, :mod:`figures.agents`) count on the day the
agent went ``on_call``, for the queue of the call that agent answered last at
or before that moment (within ``ATTRIBUTION_S``), or in total and for the
agent alone when no such call is known (a call out, a call of yesterday).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from figures.agents import AgentClock, Episode
from figures.calls import RulesOf, Tally, contribution, handle

ATTRIBUTION_S = 1.0


@dataclass
class _Entry:
    queue: str | None
    agent: str | None
    idx: int
    today: bool
    tally: Tally


class Day:
    """See the module docstring.  ``local_date`` maps an aware datetime to the local day."""

    def __init__(
        self,
        local_date: Callable[[datetime], date],
        rules_of: RulesOf,
        bucket_s: float = 300.0,
        keep: int = 12,
    ) -> None:
        self._local_date = local_date
        self._rules_of = rules_of
        self.bucket_s = bucket_s
        self.keep = keep
        self.date: date | None = None
        self.total = Tally()
        self.queues: dict[str, Tally] = {}
        self.agents: dict[str, Tally] = {}
        self.buckets: dict[int, Tally] = {}
        self._calls: dict[str, _Entry] = {}
        self._answers: dict[str, list[tuple[float, str]]] = {}
        self._clocks: dict[str, AgentClock] = {}

    def __repr__(self) -> str:
        return f"<Day {self.date} calls={len(self._calls)} offered={self.total.offered}>"

    # ------------------------------------------------------------------ feeding

    def roll(self, when: datetime) -> None:
        """Move on to the local day of ``when`` if it is later than the current one."""
        day = self._local_date(when)
        if self.date is not None and day <= self.date:
            return
        self.date = day
        self.total = Tally()
        self.queues = {}
        self.agents = {}
        floor = int(when.timestamp() // self.bucket_s) - self.keep
        for call_id, entry in list(self._calls.items()):
            if entry.idx <= floor:
                del self._calls[call_id]
            else:
                entry.today = False
        for idx in [i for i in self.buckets if i <= floor]:
            del self.buckets[idx]
        self._answers = {}

    def on_call(self, row: Mapping[str, Any]) -> None:
        """A new version of the call's record (a ``calls`` row, or ``Call.record()``)."""
        queued = row.get("queued_at")
        if queued is None:
            return
        self.roll(queued)
        call_id = str(row["call_id"])
        old = self._calls.pop(call_id, None)
        if old is not None:
            self._apply(old, -1)
        queue = row.get("queue")
        tally = contribution(row, self._rules_of(queue))
        if tally is None:
            return
        idx = int(queued.timestamp() // self.bucket_s)
        today = self._local_date(queued) == self.date
        if not today and old is None and idx <= self._floor():
            return
        agent = row.get("first_agent") if tally.answered else None
        entry = _Entry(queue, agent, idx, today, tally)
        self._calls[call_id] = entry
        self._apply(entry, 1)
        answered = row.get("answered_at")
        if today and agent and answered is not None and (old is None or not old.tally.answered):
            bisect.insort(self._answers.setdefault(agent, []), (answered.timestamp(), call_id))

    def on_agent(self, agent: str, status: str, state: str, at: datetime) -> Episode | None:
        """An agent's published status and state from ``at`` on."""
        clock = self._clocks.get(agent)
        if clock is None:
            clock = self._clocks[agent] = AgentClock(agent)
        episode = clock.change(status, state, at.timestamp())
        if episode is None or self.date is None:
            return episode
        started = datetime.fromtimestamp(episode.start, at.tzinfo)
        if self._local_date(started) != self.date:
            return episode
        tally = handle(episode.handle_s, episode.wrapup_s)
        self.total.merge(tally)
        self.agents.setdefault(agent, Tally()).merge(tally)
        queue = self._queue_of(agent, episode.start)
        if queue is not None:
            self.queues.setdefault(queue, Tally()).merge(tally)
        return episode

    def _queue_of(self, agent: str, start: float) -> str | None:
        answers = self._answers.get(agent, [])
        i = bisect.bisect_right(answers, (start + ATTRIBUTION_S, "\uffff"))
        if i == 0:
            return None
        entry = self._calls.get(answers[i - 1][1])
        return None if entry is None else entry.queue

    def _floor(self) -> int:
        return max(self.buckets, default=0) - self.keep

    def _apply(self, entry: _Entry, sign: int) -> None:
        targets = [self.buckets.setdefault(entry.idx, Tally())]
        if entry.today:
            targets.append(self.total)
            if entry.queue is not None:
                targets.append(self.queues.setdefault(entry.queue, Tally()))
            if entry.agent is not None:
                targets.append(self.agents.setdefault(entry.agent, Tally()))
        for target in targets:
            if sign > 0:
                target.merge(entry.tally)
            else:
                target.subtract(entry.tally)

    # ------------------------------------------------------------------ reading

    def queue(self, queue: str) -> Tally:
        return self.queues.get(queue) or Tally()

    def agent(self, agent: str) -> Tally:
        return self.agents.get(agent) or Tally()

    def chart(self, now: float, count: int) -> list[tuple[float, Tally]]:
        """The last ``count`` buckets up to ``now``, oldest first, as ``(start, tally)``."""
        last = int(now // self.bucket_s)
        return [
            (idx * self.bucket_s, self.buckets.get(idx) or Tally())
            for idx in range(last - count + 1, last + 1)
        ]
