"""Agent time from the agent's published state changes (``agent_state_changes`` rows).

Theory of operation.  An :class:`AgentClock` is fed the changes of one agent
in time order (``status``, ``state``, ``at`` in epoch seconds) and splits the
time between them:

- **busy**: ``on_call`` and ``wrapup`` (talk and after-call work);
- **available**: ``ready`` and ``idle`` (the seat can take a call), or ``ringing``;
- **paused** (``paused`` status, any state other than on a call) and **logged
  in** (any status but ``logged_out``) are kept for utilisation;
- everything else (logged out, unreachable, busy outside) is in none.

A **handled call** is one episode from entering ``on_call`` until the state
is neither ``on_call`` nor ``wrapup``; its handle time is the episode's
length, its wrap-up time the part spent in ``wrapup``.  Each closed episode
is reported once through :meth:`AgentClock.change`'s return value, with the
time the agent went ``on_call`` (the caller attributes it to the call
answered by the agent then).

Figures:

- occupancy = busy / (busy + available);
- utilisation = busy / logged-in time.
"""

from __future__ import annotations

from dataclasses import dataclass

_BUSY = frozenset({"on_call", "wrapup"})
_AVAILABLE = frozenset({"idle", "ringing"})


@dataclass(frozen=True)
class Episode:
    """One call handled: from ``start`` (on_call) for ``handle_s`` seconds, ``wrapup_s`` of them."""

    agent: str
    start: float
    handle_s: float
    wrapup_s: float


@dataclass
class AgentTime:
    busy_s: float = 0.0
    available_s: float = 0.0
    paused_s: float = 0.0
    logged_in_s: float = 0.0

    def merge(self, other: AgentTime) -> None:
        self.busy_s += other.busy_s
        self.available_s += other.available_s
        self.paused_s += other.paused_s
        self.logged_in_s += other.logged_in_s

    @property
    def occupancy(self) -> float | None:
        """Occupancy = busy / (busy + available)."""
        den = self.busy_s + self.available_s
        return self.busy_s / den if den > 0 else None

    @property
    def utilisation(self) -> float | None:
        """Utilisation = busy / logged-in time."""
        return self.busy_s / self.logged_in_s if self.logged_in_s > 0 else None


class AgentClock:
    """One agent's time and handled calls, fed its state changes in order."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.time = AgentTime()
        self._status = "logged_out"
        self._state = "offline"
        self._since: float | None = None
        self._episode: float | None = None
        self._wrapup = 0.0

    def __repr__(self) -> str:
        return f"<AgentClock {self.agent} {self._status}/{self._state}>"

    def _account(self, until: float) -> None:
        if self._since is None or until <= self._since:
            return
        span = until - self._since
        t = self.time
        if self._state in _BUSY:
            t.busy_s += span
            if self._state == "wrapup" and self._episode is not None:
                self._wrapup += span
        elif self._status == "paused":
            t.paused_s += span
        elif self._status == "ready" and self._state in _AVAILABLE:
            t.available_s += span
        if self._status != "logged_out":
            t.logged_in_s += span

    def change(self, status: str, state: str, at: float) -> Episode | None:
        """The agent's status/state from ``at`` on; returns the episode this change closed."""
        self._account(at)
        self._since = at if self._since is None else max(self._since, at)
        self._status, self._state = status, state
        closed = None
        if state == "on_call" and self._episode is None:
            self._episode, self._wrapup = at, 0.0
        elif state not in _BUSY and self._episode is not None:
            closed = Episode(self.agent, self._episode, max(0.0, at - self._episode), self._wrapup)
            self._episode = None
        return closed

    def until(self, at: float) -> AgentTime:
        """The time accounted so far plus the current state's time up to ``at`` (a copy)."""
        out = AgentTime()
        out.merge(self.time)
        if self._since is not None and at > self._since:
            pending = AgentClock(self.agent)
            pending._status, pending._state, pending._since = self._status, self._state, self._since
            pending._account(at)
            out.merge(pending.time)
        return out
