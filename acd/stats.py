"""Statistics from the ACD's own event stream: plain counts and sums, no smoothing.

Every figure is kept per queue, per agent and for the whole centre, for
**today** (since the last ``DayRolled``) and in **buckets** of
``bucket_s`` seconds (default 300) aligned on multiples of ``bucket_s`` of
the ``now`` clock, of which the last ``keep`` are kept.  A window of ``w``
seconds is the current bucket plus the ``ceil(w / bucket_s) - 1`` before it,
so "the last 15 minutes" covers between 10 and 15 minutes of history.

An event is counted in the period in which it happens: a caller who
arrives at 10:04 and is answered at 10:06 is offered in the 10:00 bucket and
answered in the 10:05 bucket.

Each fact is written once, into the current bucket; when a series moves on
to a new bucket, the old one is folded into "today".  ``DayRolled`` notes
the part of the current bucket that belongs to the day before (``skip``) so
it is left out of the new day.  The longest wait of today is kept on its
own, since a maximum cannot be taken back out.

Counts (a queue counts callers; an agent counts the offers made to it):

- ``offered``: callers entering the queue (arrivals, overflows in, transfers
  in); for an agent, offers rung at its seat;
- ``answered``: callers connected to an agent; ``answered_within_sl`` those
  whose wait was at most the queue's ``service_level_s`` (15 s);
- ``abandoned``: callers who hung up before being connected;
  ``short_abandoned`` those of them who waited less than ``short_abandon_s``
  (counted in ``abandoned`` too); for an agent, callers who hung up while it
  rang;
- ``overflowed``: callers that left the queue by its overflow rule;
- ``missed`` / ``rejected`` (agents): offers that rang out / were refused;
- ``handled``: calls whose wrap-up is over.

Figures (``None`` when the denominator is 0):

- 接通率 connection rate = ``answered / offered`` (GB/T 33358: 人工接通量 /
  人工服务请求量; short abandons stay in the denominator);
- 人工应答及时率 15-second answer rate = ``answered_within_sl / offered``;
- average wait = ``wait_answered / answered`` (average speed of answer);
- longest wait = the longest wait of a caller answered, abandoned or
  overflowed in the period;
- average handle time = ``handle / handled``, handle = talk + wrap-up;
- occupancy = ``busy_s / (busy_s + available_s)``: busy is connecting,
  talking and wrap-up; available is ready and idle (seat usable) or ringing.
  Paused, logged out, unreachable and busy-outside time is in neither.
"""

from __future__ import annotations

import math

from acd.tally import Figures, Tally

__all__ = ["AVAILABLE", "BUSY", "Figures", "Series", "StatsBook", "Tally"]


_NEVER = -(2**62)


class Series:
    """One subject's recent buckets and today's totals.

    ``cur`` is the bucket being written (index ``cur_idx``, also in
    ``buckets``); ``closed`` holds today's earlier buckets; ``skip`` the part
    of ``cur`` that belongs to the previous day.
    """

    __slots__ = ("buckets", "closed", "cur", "cur_idx", "skip", "wait_max_today")

    def __init__(self) -> None:
        self.buckets: dict[int, Tally] = {}
        self.cur = Tally()
        self.cur_idx = _NEVER
        self.closed = Tally()
        self.skip: Tally | None = None
        self.wait_max_today = 0.0

    def today(self) -> Tally:
        """A copy of today's totals."""
        out = self.closed.copy()
        if self.cur_idx != _NEVER:
            out.merge(self.cur)
        if self.skip is not None:
            out.subtract(self.skip)
        out.wait_max = self.wait_max_today
        return out


BUSY = 1
AVAILABLE = 2


class StatsBook:
    """Per-queue, per-agent and centre-wide series, updated by the engine.

    Agent time (busy, available) is kept per agent only; the centre's is
    their sum, taken when asked (:meth:`time_in`).

    Time moves forward: every fact is recorded at a ``now`` no earlier than
    the one before.
    """

    def __init__(self, bucket_s: float, keep: int) -> None:
        self.bucket_s = bucket_s
        self.keep = keep
        self.queues: dict[str, Series] = {}
        self.agents: dict[str, Series] = {}
        self.centre = Series()

    def _all(self) -> list[Series]:
        return [self.centre, *self.queues.values(), *self.agents.values()]

    def reshape(self, bucket_s: float, keep: int) -> None:
        """Adopt a new bucket shape; buckets of another width are folded into today."""
        if bucket_s != self.bucket_s:
            for s in self._all():
                self._fold(s)
                s.buckets.clear()
                s.cur = Tally()
                s.cur_idx = _NEVER
        self.bucket_s = bucket_s
        self.keep = keep

    def queue(self, queue: str) -> Series:
        s = self.queues.get(queue)
        if s is None:
            s = self.queues[queue] = Series()
        return s

    def agent(self, agent: str) -> Series:
        s = self.agents.get(agent)
        if s is None:
            s = self.agents[agent] = Series()
        return s

    # ----------------------------------------------------------- recording
    #
    # One method per fact; each writes the current bucket only
    # (``s.cur`` when it is still current, else ``_roll``).

    def offered(self, queue: Series, now: float) -> None:
        """A caller entered ``queue``."""
        idx = int(now // self.bucket_s)
        (queue.cur if queue.cur_idx == idx else self._roll(queue, idx)).offered += 1
        c = self.centre
        (c.cur if c.cur_idx == idx else self._roll(c, idx)).offered += 1

    def rung(self, agent: Series, now: float) -> None:
        """An offer rang at the agent's seat."""
        idx = int(now // self.bucket_s)
        (agent.cur if agent.cur_idx == idx else self._roll(agent, idx)).offered += 1

    def answered(self, queue: Series, agent: Series, now: float, wait: float, within: bool) -> None:
        """A caller of ``queue`` was connected to the agent after waiting ``wait`` seconds."""
        idx = int(now // self.bucket_s)
        for s in (queue, self.centre, agent):
            t = s.cur if s.cur_idx == idx else self._roll(s, idx)
            t.answered += 1
            t.answered_within_sl += within
            t.wait_answered += wait
            if wait > t.wait_max:
                t.wait_max = wait
            if wait > s.wait_max_today:
                s.wait_max_today = wait

    def abandoned(
        self, queue: Series, now: float, waited: float, short: bool, ringing: list[Series]
    ) -> None:
        """A caller hung up before being connected, while ``ringing`` agents rang."""
        idx = int(now // self.bucket_s)
        for s in (queue, self.centre):
            t = s.cur if s.cur_idx == idx else self._roll(s, idx)
            t.abandoned += 1
            t.short_abandoned += short
            if waited > t.wait_max:
                t.wait_max = waited
            if waited > s.wait_max_today:
                s.wait_max_today = waited
        for s in ringing:
            (s.cur if s.cur_idx == idx else self._roll(s, idx)).abandoned += 1

    def overflowed(self, queue: Series, now: float, waited: float) -> None:
        """A caller left ``queue`` by its overflow rule after ``waited`` seconds."""
        idx = int(now // self.bucket_s)
        for s in (queue, self.centre):
            t = s.cur if s.cur_idx == idx else self._roll(s, idx)
            t.overflowed += 1
            if waited > t.wait_max:
                t.wait_max = waited
            if waited > s.wait_max_today:
                s.wait_max_today = waited

    def handled(self, queue: Series | None, agent: Series, now: float, handle: float) -> None:
        """The agent finished a call of ``queue`` (talk and wrap-up): ``handle`` seconds."""
        idx = int(now // self.bucket_s)
        for s in (self.centre, agent) if queue is None else (self.centre, agent, queue):
            t = s.cur if s.cur_idx == idx else self._roll(s, idx)
            t.handled += 1
            t.handle += handle

    def missed(self, agent: Series, now: float) -> None:
        """An offer rang out at the agent's seat."""
        idx = int(now // self.bucket_s)
        (agent.cur if agent.cur_idx == idx else self._roll(agent, idx)).missed += 1

    def rejected(self, agent: Series, now: float) -> None:
        """The agent refused an offer."""
        idx = int(now // self.bucket_s)
        (agent.cur if agent.cur_idx == idx else self._roll(agent, idx)).rejected += 1

    def add_time(self, series: Series, kind: int, start: float, end: float) -> None:
        """Add ``end - start`` seconds of ``kind`` (``BUSY`` / ``AVAILABLE``), split by bucket.

        ``end`` is now.  Pieces in buckets already folded into today go into
        ``closed`` as well.
        """
        span = end - start
        if span <= 0:
            return
        bs = self.bucket_s
        idx = int(start // bs)
        if idx == series.cur_idx and end <= (idx + 1) * bs:
            if kind == BUSY:
                series.cur.busy_s += span
            else:
                series.cur.available_s += span
            return
        t = start
        while t < end:
            idx = int(t // bs)
            piece = min(end, (idx + 1) * bs) - t
            if idx >= series.cur_idx:
                tallies = [series.cur if idx == series.cur_idx else self._roll(series, idx)]
            else:
                tallies = [series.closed]
                if idx > series.cur_idx - self.keep:
                    tallies.append(self._past(series, idx))
            for tally in tallies:
                if kind == BUSY:
                    tally.busy_s += piece
                else:
                    tally.available_s += piece
            t += piece

    def _roll(self, series: Series, idx: int) -> Tally:
        """Move ``series`` on to bucket ``idx`` (later than ``cur_idx``), folding ``cur``."""
        self._fold(series)
        tally = series.buckets[idx] = series.cur = Tally()
        series.cur_idx = idx
        buckets = series.buckets
        if len(buckets) > self.keep:
            floor = idx - self.keep
            for old in [k for k in buckets if k <= floor]:
                del buckets[old]
        return tally

    def _fold(self, series: Series) -> None:
        if series.cur_idx != _NEVER:
            series.closed.merge(series.cur)
            if series.skip is not None:
                series.closed.subtract(series.skip)
                series.skip = None

    def _past(self, series: Series, idx: int) -> Tally:
        tally = series.buckets.get(idx)
        if tally is None:
            tally = series.buckets[idx] = Tally()
        return tally

    # ----------------------------------------------------------- reading

    def window_start(self, now: float, window_s: float) -> float:
        """Where a window of ``window_s`` seconds ending at ``now`` starts."""
        n = max(1, math.ceil(window_s / self.bucket_s))
        return (int(now // self.bucket_s) - n + 1) * self.bucket_s

    def window(self, series: Series, now: float, window_s: float | None) -> Tally:
        """A copy of today's tally (``window_s`` ``None``) or of the window ending at ``now``."""
        if window_s is None:
            return series.today()
        out = Tally()
        first = int(self.window_start(now, window_s) // self.bucket_s)
        last = int(now // self.bucket_s)
        for idx, tally in series.buckets.items():
            if first <= idx <= last:
                out.merge(tally)
        return out

    def time_in(self, series: Series, now: float, window_s: float | None) -> tuple[float, float]:
        """Busy and available seconds recorded today or in the window ending at ``now``."""
        if window_s is None:
            busy, available = series.closed.busy_s, series.closed.available_s
            if series.cur_idx != _NEVER:
                busy += series.cur.busy_s
                available += series.cur.available_s
            if series.skip is not None:
                busy -= series.skip.busy_s
                available -= series.skip.available_s
            return busy, available
        first = int(self.window_start(now, window_s) // self.bucket_s)
        last = int(now // self.bucket_s)
        busy = available = 0.0
        for idx, tally in series.buckets.items():
            if first <= idx <= last:
                busy += tally.busy_s
                available += tally.available_s
        return busy, available

    def handled_in(self, series: Series, now: float, window_s: float) -> tuple[float, int]:
        """Handle time and calls handled in the window ending at ``now`` (no copies made)."""
        first = int(self.window_start(now, window_s) // self.bucket_s)
        last = int(now // self.bucket_s)
        handle, handled = 0.0, 0
        for idx, tally in series.buckets.items():
            if first <= idx <= last:
                handle += tally.handle
                handled += tally.handled
        return handle, handled

    def chart(self, series: Series, now: float, count: int) -> list[tuple[float, Tally]]:
        """The last ``count`` buckets up to ``now``, oldest first, as (start, tally)."""
        last = int(now // self.bucket_s)
        out: list[tuple[float, Tally]] = []
        for idx in range(last - count + 1, last + 1):
            found = series.buckets.get(idx)
            out.append((idx * self.bucket_s, Tally() if found is None else found.copy()))
        return out

    def day_rolled(self) -> None:
        """Today restarts: the current buckets' counts so far belong to yesterday."""
        for s in self._all():
            s.closed = Tally()
            s.skip = s.cur.copy() if s.cur_idx != _NEVER else None
            s.wait_max_today = 0.0
