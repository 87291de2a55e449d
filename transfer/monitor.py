"""A supervisor monitoring a live call: listen, whisper, barge (电子监察).

Theory of operation
-------------------
A supervisor asks to monitor a call from a seat.  The shell builds a
:class:`MonitorPlan`, calls :meth:`MonitorPlan.start` and feeds it the
softswitch facts and the supervisor's requests; each call returns commands.

The supervisor's own seat is rung first (``dialing``).  Once it answers, the
plan connects it as the mode asks (``supervisor_snoop.jsonl`` shows the
mechanism):

- **listen**: an ARI snoop channel on the agent's leg, spying both directions
  (what the agent says and hears), shares a private *monitor bridge* with the
  supervisor's leg; nothing the supervisor says reaches the call;
- **whisper**: the same, and the snoop also whispers into the ``out``
  direction of the agent's leg: only the agent hears the supervisor;
- **barge**: the supervisor's leg joins the call's own bridge; all hear all.

A snoop channel's directions are fixed when it is made, so a change between
listen and whisper makes a new snoop, bridges it, and only then hangs up the
old one (no gap in what the supervisor hears).  Barging moves the supervisor
into the call and drops the snoop; going back from barge makes a new snoop.

The plan ends when the supervisor stops or hangs up, when the supervisor's
seat never answers, or when the call (or the monitored agent leg, whose
snoop Asterisk then hangs up) goes away.  Every mode the supervisor asks for
is audited (:class:`Audit`), accepted or not yet connected.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from transfer.errors import IllegalTransition, RequestRefused
from transfer.model import SessionId


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class MonitorState(StrEnum):
    NEW = "new"
    DIALING = "dialing"  # the supervisor's seat rings
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    ENDED = "ended"


M = MonitorState
MONITOR_TRANSITIONS: dict[MonitorState, frozenset[MonitorState]] = {
    M.NEW: frozenset({M.DIALING}),
    M.DIALING: frozenset({M.LISTEN, M.WHISPER, M.BARGE, M.ENDED}),
    M.LISTEN: frozenset({M.WHISPER, M.BARGE, M.ENDED}),
    M.WHISPER: frozenset({M.LISTEN, M.BARGE, M.ENDED}),
    M.BARGE: frozenset({M.LISTEN, M.WHISPER, M.ENDED}),
    M.ENDED: frozenset(),
}

# ARI snoop directions (spy, whisper) on the agent's leg, by mode.
SNOOP_DIRECTIONS: dict[MonitorMode, tuple[str, str]] = {
    MonitorMode.LISTEN: ("both", "none"),
    MonitorMode.WHISPER: ("both", "out"),
}

# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class SupervisorAnswered:
    """The supervisor's seat answered (``StasisStart`` args ``supervisor,<call>,<session>``)."""


@dataclass(frozen=True, slots=True)
class SupervisorFailed:
    """The supervisor's seat never answered (busy, no answer, failed originate)."""

    reason: str


@dataclass(frozen=True, slots=True)
class SupervisorGone:
    """The supervisor hung up."""


@dataclass(frozen=True, slots=True)
class SnoopStarted:
    """A snoop channel the plan asked for entered the application (``StasisStart``)."""

    snoop: str


@dataclass(frozen=True, slots=True)
class SnoopGone:
    """A snoop channel hung up (its target leg went, or it was hung up)."""

    snoop: str


@dataclass(frozen=True, slots=True)
class ChangeMode:
    """The supervisor asks for another mode."""

    mode: MonitorMode


@dataclass(frozen=True, slots=True)
class Stop:
    """The supervisor stops monitoring."""


@dataclass(frozen=True, slots=True)
class CallGone:
    """The monitored call ended, or its agent left it."""


MonitorEvent = (
    SupervisorAnswered
    | SupervisorFailed
    | SupervisorGone
    | SnoopStarted
    | SnoopGone
    | ChangeMode
    | Stop
    | CallGone
)

# ---------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class DialSupervisor:
    """Ring the supervisor's seat; the leg is ``leg``."""

    leg: str


@dataclass(frozen=True, slots=True)
class CreateSnoop:
    """Snoop the agent's leg into the application as channel ``snoop``."""

    snoop: str
    spy: str
    whisper: str


@dataclass(frozen=True, slots=True)
class MonitorBridge:
    """Put ``channels`` into the session's monitor bridge (made on first use)."""

    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JoinCall:
    """Move the supervisor's leg ``leg`` into the call's bridge."""

    leg: str


@dataclass(frozen=True, slots=True)
class LeaveCall:
    """Take the supervisor's leg ``leg`` out of the call's bridge."""

    leg: str


@dataclass(frozen=True, slots=True)
class HangupChannel:
    """Hang up ``channel`` (a snoop or the supervisor's leg)."""

    channel: str


@dataclass(frozen=True, slots=True)
class DestroyMonitorBridge:
    """The session's monitor bridge is no longer needed."""


@dataclass(frozen=True, slots=True)
class Audit:
    """A row of the audit log: ``action`` by the supervisor, with ``detail``."""

    action: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MonitorTimeline:
    """A row of the monitored call's timeline."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


MonitorCommand = (
    DialSupervisor
    | CreateSnoop
    | MonitorBridge
    | JoinCall
    | LeaveCall
    | HangupChannel
    | DestroyMonitorBridge
    | Audit
    | MonitorTimeline
)

Out = list[MonitorCommand]


class MonitorPlan:
    """One supervisor monitoring one call (see the module docstring)."""

    def __init__(self, session: SessionId, supervisor: str, seat: str, mode: MonitorMode) -> None:
        self.session = session
        self.supervisor = supervisor
        self.seat = seat
        self.wanted = mode
        self.leg = f"{session}-sup"
        self.state = M.NEW
        self.snoop: str | None = None  # the snoop in the monitor bridge
        self.pending: str | None = None  # a snoop asked for, not yet in the application
        self.ended_reason = ""
        self._seq = itertools.count(1)
        self._handlers: dict[type, Callable[[Any, Out], None]] = {
            SupervisorAnswered: self._answered,
            SupervisorFailed: self._failed,
            SupervisorGone: self._supervisor_gone,
            SnoopStarted: self._snoop_started,
            SnoopGone: self._snoop_gone,
            ChangeMode: self._change,
            Stop: self._stop,
            CallGone: self._call_gone,
        }

    def __repr__(self) -> str:
        return f"<MonitorPlan {self.session} {self.supervisor} {self.state}>"

    @property
    def ended(self) -> bool:
        return self.state is M.ENDED

    def channels(self) -> list[str]:
        """Every channel of the session that may be up (to hang up on a surprise)."""
        return [ch for ch in (self.leg, self.snoop, self.pending) if ch is not None]

    def start(self, now: dt.datetime) -> list[MonitorCommand]:
        if self.state is not M.NEW:
            raise IllegalTransition("monitor", self.session, self.state, "start")
        out: Out = [self._audit(self.wanted)]
        out.append(MonitorTimeline("supervisor_requested", self._detail(self.wanted)))
        out.append(DialSupervisor(self.leg))
        self._move(M.DIALING)
        return out

    def handle(self, event: MonitorEvent, now: dt.datetime) -> list[MonitorCommand]:
        """Apply ``event``; a request after the end raises
        :class:`~transfer.errors.RequestRefused`, a stale fact returns nothing."""
        if self.state is M.NEW:
            raise IllegalTransition("monitor", self.session, self.state, type(event).__name__)
        out: Out = []
        if self.state is M.ENDED:
            if isinstance(event, ChangeMode | Stop):
                raise RequestRefused("finished", "this monitoring has ended", self.state)
            if isinstance(event, SupervisorAnswered):
                out.append(HangupChannel(self.leg))
            elif isinstance(event, SnoopStarted):
                out.append(HangupChannel(event.snoop))
            return out
        self._handlers[type(event)](event, out)
        return out

    # ------------------------------------------------------------------ handlers

    def _answered(self, event: SupervisorAnswered, out: Out) -> None:
        if self.state is not M.DIALING:
            return
        self._connect(self.wanted, out)

    def _failed(self, event: SupervisorFailed, out: Out) -> None:
        if self.state is not M.DIALING:
            return
        out.append(MonitorTimeline("supervisor_failed", {"reason": event.reason}))
        self._end(f"seat_{event.reason}", out)

    def _supervisor_gone(self, event: SupervisorGone, out: Out) -> None:
        self._end("supervisor_hangup", out, supervisor_gone=True)

    def _snoop_started(self, event: SnoopStarted, out: Out) -> None:
        if event.snoop != self.pending:
            out.append(HangupChannel(event.snoop))
            return
        self.pending = None
        out.append(MonitorBridge((event.snoop, self.leg)))
        old, self.snoop = self.snoop, event.snoop
        if old is not None:
            out.append(HangupChannel(old))
        out.append(MonitorTimeline("supervisor_" + self.state.value, self._detail()))

    def _snoop_gone(self, event: SnoopGone, out: Out) -> None:
        if event.snoop == self.snoop:
            self.snoop = None
        elif event.snoop == self.pending:
            self.pending = None
        else:
            return
        if self.state in (M.LISTEN, M.WHISPER) and self.snoop is None and self.pending is None:
            # The agent's leg went away (Asterisk hangs its snoops up with it).
            self._end("agent_left", out)

    def _change(self, event: ChangeMode, out: Out) -> None:
        mode = event.mode
        if self.state is M.DIALING:
            if mode is not self.wanted:
                self.wanted = mode
                out.append(self._audit(mode))
            return
        if mode.value == self.state.value:
            return
        out.append(self._audit(mode))
        self.wanted = mode
        if mode is MonitorMode.BARGE:
            for snoop in (self.pending, self.snoop):
                if snoop is not None:
                    out.append(HangupChannel(snoop))
            self.snoop = self.pending = None
            out.append(JoinCall(self.leg))
            self._move(M.BARGE)
            out.append(MonitorTimeline("supervisor_barge", self._detail()))
            return
        if self.state is M.BARGE:
            out.append(LeaveCall(self.leg))
        self._connect(mode, out)

    def _stop(self, event: Stop, out: Out) -> None:
        out.append(Audit("monitor_stop", {"seat": self.seat}))
        self._end("stopped", out)

    def _call_gone(self, event: CallGone, out: Out) -> None:
        self._end("call_ended", out)

    # ------------------------------------------------------------------ helpers

    def _connect(self, mode: MonitorMode, out: Out) -> None:
        if mode is MonitorMode.BARGE:
            out.append(JoinCall(self.leg))
            self._move(M.BARGE)
            out.append(MonitorTimeline("supervisor_barge", self._detail()))
            return
        if self.pending is not None:
            out.append(HangupChannel(self.pending))
        spy, whisper = SNOOP_DIRECTIONS[mode]
        self.pending = f"{self.session}-s{next(self._seq)}"
        out.append(CreateSnoop(self.pending, spy, whisper))
        self._move(M(mode.value))

    def _end(self, reason: str, out: Out, *, supervisor_gone: bool = False) -> None:
        for snoop in (self.pending, self.snoop):
            if snoop is not None:
                out.append(HangupChannel(snoop))
        self.snoop = self.pending = None
        if not supervisor_gone:
            out.append(HangupChannel(self.leg))
        out.append(DestroyMonitorBridge())
        out.append(MonitorTimeline("supervisor_left", {**self._detail(), "reason": reason}))
        self.ended_reason = reason
        self._move(M.ENDED)

    def _move(self, wanted: MonitorState) -> None:
        if wanted is self.state:
            return
        if wanted not in MONITOR_TRANSITIONS[self.state]:
            raise IllegalTransition("monitor", self.session, self.state, wanted)
        self.state = wanted

    def _audit(self, mode: MonitorMode) -> Audit:
        return Audit("monitor_" + mode.value, {"seat": self.seat, "session": self.session})

    def _detail(self, mode: MonitorMode | None = None) -> dict[str, Any]:
        return {
            "session": self.session,
            "supervisor": self.supervisor,
            "seat": self.seat,
            "mode": (mode or self.wanted).value,
        }
