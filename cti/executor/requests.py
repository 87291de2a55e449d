"""What agents and supervisors ask about a call, as switchboard events, and the answers.

The HTTP faces ask synchronously and want either the plan that now runs or
a refusal with its HTTP status.  :class:`Transfers` and :class:`Monitors`
resolve what was named (a number, a parallel line, an emergency service, a
colleague, a queue; a supervisor's seat) from the configuration the call
arrived under, hand the request to the switchboard, and turn a
``RefuseTransfer`` into :class:`TransferRefused`.  The switchboard decides;
these only translate.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import acd
import transfer as tr
from cti.config import Config, Presented
from cti.errors import CtiError
from cti.executor.views import CallView
from switchboard import commands as c
from switchboard import events as ev
from switchboard.ids import CallId
from switchboard.monitors import Session

NUMBER = re.compile(r"^[0-9]{3,20}$")

# The HTTP status of each refusal code of the switchboard.
STATUS = {
    "no_call": 404,
    "no_monitor": 404,
    "not_your_call": 403,
    "bad_target": 400,
    "bad_mode": 400,
    "bad_seat": 400,
    "dial_refused": 403,
}


class TransferRefused(CtiError):
    """A request about a call that cannot be carried out.

    ``status`` is the HTTP status the API answers (403 not the agent's call,
    404 no such call, 409 not now, 400 a bad target); ``code`` a stable word.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TargetSpec:
    """What the agent asked for: ``kind`` (number, line, emergency, agent, queue) and ``ref``."""

    kind: str
    ref: str


@dataclass(frozen=True)
class Notice:
    """Something the agent who started a transfer must be told (a busy consultee ...)."""

    call_id: CallId
    agent: str
    leg: str
    what: str
    reason: str
    at: dt.datetime


class Host(Protocol):
    """What the requests need of the engine."""

    def feed(self, event: ev.Event) -> list[c.Command]: ...

    def call_view(self, call_id: CallId) -> CallView | None: ...

    def config_of(self, call: CallView) -> Config: ...

    def current_call_of(self, agent: str) -> CallView | None: ...

    @property
    def acd(self) -> acd.Acd: ...


def refused(code: str, message: str) -> TransferRefused:
    return TransferRefused(STATUS.get(code, 409), code, message)


def _raise_refusal(commands: list[c.Command]) -> None:
    for command in commands:
        if isinstance(command, c.RefuseTransfer):
            raise refused(command.code, command.message)


def _caller_id(call: CallView, config: Config, present: Presented) -> str:
    """The number a target reached through the carrier is shown (see :class:`Presented`).

    A citizen who withheld their number is never unmasked: the target then
    sees the hotline's number.
    """
    if present is Presented.CITIZEN and call.caller_number:
        return call.caller_number
    return config.engine.outbound.caller_id or call.dialled


class Transfers:
    """Transfers, hold and mute of agents' calls (``engine.transfers``)."""

    def __init__(self, host: Host, clock: Callable[[], dt.datetime]) -> None:
        self._host = host
        self._clock = clock
        self.notices: dict[CallId, list[Notice]] = {}

    def __repr__(self) -> str:
        return f"<Transfers notices={len(self.notices)}>"

    def on_notice(self, command: c.TransferNotice) -> None:
        notice = Notice(
            command.call_id, command.agent, command.leg, command.what, command.reason, self._clock()
        )
        self.notices.setdefault(command.call_id, []).append(notice)

    def _own(self, call_id: CallId, agent: str) -> CallView:
        call = self._host.call_view(call_id)
        if call is None or call.ended:
            raise refused("no_call", "no such call")
        refusal = call.inbound.transfers.own(acd.AgentId(agent))
        if refusal is not None:
            raise refused(*refusal)
        return call

    def latest(self, call_id: CallId) -> tr.TransferPlan | None:
        call = self._host.call_view(call_id)
        return call.inbound.transfers.latest if call is not None else None

    def start(self, call_id: CallId, agent: str, mode: str, spec: TargetSpec) -> tr.TransferPlan:
        """Start a transfer of ``agent``'s call; the plan, or :class:`TransferRefused`."""
        if spec.kind == "emergency":
            return self.emergency(call_id, agent, spec.ref, mode)
        call = self._own(call_id, agent)
        if call.inbound.transfers.live is not None:
            raise refused("transfer_in_progress", "a transfer is in progress")
        try:
            chosen = tr.Mode(mode)
        except ValueError:
            raise refused("bad_mode", f"unknown transfer mode {mode!r}") from None
        target = self._target(call, agent, spec)
        return self._ask(call, ev.TransferRequested(call_id, acd.AgentId(agent), chosen, target))

    def emergency(self, call_id: CallId, agent: str, number: str, mode: str) -> tr.TransferPlan:
        """Hand the caller to 110/119/120; a transfer in progress gives way."""
        call = self._own(call_id, agent)
        if mode not in (tr.Mode.BLIND, tr.Mode.THREE_WAY):
            raise refused("bad_mode", "an emergency hand-off is blind or three-way")
        target = self._target(call, agent, TargetSpec("emergency", number))
        event = ev.TransferRequested(call_id, acd.AgentId(agent), tr.Mode(mode), target)
        return self._ask(call, event)

    def act(self, call_id: CallId, agent: str, action: str) -> tr.TransferPlan:
        """``join``, ``complete`` (or ``leave``), ``cancel`` on the call's live transfer."""
        call = self._host.call_view(call_id)
        if call is None or call.ended:
            raise refused("no_call", "no such call")
        step = ev.TransferStep("complete" if action == "leave" else action)
        return self._ask(call, ev.TransferAction(call_id, acd.AgentId(agent), step))

    def hold(self, call_id: CallId, agent: str, on: bool) -> CallView:
        call = self._own(call_id, agent)
        _raise_refusal(self._host.feed(ev.HoldRequested(call_id, acd.AgentId(agent), on)))
        return call

    def mute(self, call_id: CallId, agent: str, on: bool) -> CallView:
        call = self._own(call_id, agent)
        _raise_refusal(self._host.feed(ev.MuteRequested(call_id, acd.AgentId(agent), on)))
        return call

    def _ask(self, call: CallView, event: ev.Event) -> tr.TransferPlan:
        _raise_refusal(self._host.feed(event))
        plan = call.inbound.transfers.latest
        if plan is None:
            raise refused("no_transfer", "no transfer in progress")
        return plan

    def _target(self, call: CallView, agent: str, spec: TargetSpec) -> tr.Target:
        config = self._host.config_of(call)
        kind, ref = spec.kind, spec.ref.strip()
        if kind == "line":
            line = config.parallel_line(ref)
            if line is None:
                raise refused("bad_target", f"no parallel line {ref!r}")
            label = f"{line.name}（{line.department}）"
            shown = _caller_id(call, config, line.present)
            dial = config.dial_string(line)
            return tr.Target(
                tr.TargetKind.LINE, line.numbers[0], dial, label, line.extension or "", shown
            )
        if kind == "emergency":
            found = next((e for e in config.lines.emergency if e.number == ref), None)
            if found is None:
                raise refused("bad_target", f"{ref!r} is not an emergency line")
            label = f"{found.name}（{found.department}）"
            shown = _caller_id(call, config, found.present)
            return tr.Target(
                tr.TargetKind.EMERGENCY, ref, config.dial_string(found), label, "", shown
            )
        if kind == "number":
            if not NUMBER.match(ref):
                raise refused("bad_target", "a number is 3 to 20 digits")
            if any(e.number == ref for e in config.lines.emergency):
                raise refused("bad_target", "use the emergency hand-off for it")
            shown = _caller_id(call, config, Presented.HOTLINE)
            return tr.Target(tr.TargetKind.NUMBER, ref, config.dial_string(ref), ref, "", shown)
        if kind == "queue":
            if ref not in config.queues.queues:
                raise refused("bad_target", f"no queue {ref!r}")
            return tr.Target(tr.TargetKind.QUEUE, ref, "", config.queues.queues[ref].name)
        if kind == "agent":
            return self._colleague(call, agent, ref, config)
        raise refused("bad_target", f"unknown target kind {kind!r}")

    def _colleague(self, call: CallView, agent: str, colleague: str, config: Config) -> tr.Target:
        person = config.agent(colleague)
        if person is None:
            raise refused("bad_target", f"no agent {colleague!r}")
        if colleague == agent:
            raise refused("bad_target", "a call cannot go to its own agent")
        view = self._host.acd.agent_view(acd.AgentId(colleague))
        seats = {seat.id: seat for seat in config.seats.seats}
        seat = seats.get(view.seat) if view is not None and view.seat else None
        if view is None or seat is None or view.status is acd.AgentStatus.LOGGED_OUT:
            raise refused("colleague_unavailable", f"{colleague} is not logged in")
        busy = view.call_id is not None or view.state is not acd.AgentState.IDLE
        if busy or self._host.current_call_of(colleague) is not None:
            raise refused("colleague_unavailable", f"{colleague} is {view.state}")
        # A colleague sees who is calling, as on an ordinary offer.
        name, number = call.caller_name, call.caller_number
        shown = f'"{name}" <{number}>' if name else number
        return tr.Target(tr.TargetKind.AGENT, colleague, seat.endpoint, person.name, "", shown)


class Monitors:
    """Supervisors listening, whispering and barging in (``engine.monitors``)."""

    def __init__(self, host: Host, audit: Callable[[str, str, str, str], None]) -> None:
        self._host = host
        self._audit = audit

    def __repr__(self) -> str:
        return "<Monitors>"

    def monitor(
        self, call_id: CallId, supervisor: str, role: str, seat_id: str, mode: str
    ) -> tr.MonitorPlan:
        """Start monitoring ``call_id`` from ``seat_id`` in ``mode``, or change the mode."""
        try:
            wanted = tr.MonitorMode(mode)
        except ValueError:
            raise refused("bad_mode", f"unknown monitor mode {mode!r}") from None
        call = self._host.call_view(call_id)
        if call is None or call.ended:
            raise refused("no_call", "no such call")
        event = ev.MonitorRequested(call_id, supervisor, role, acd.SeatId(seat_id), wanted)
        _raise_refusal(self._host.feed(event))
        session = call.inbound.monitors.session_of(supervisor)
        if session is None:
            raise refused("no_monitor", "the session ended at once")
        return session.plan

    def stop(self, call_id: CallId, supervisor: str) -> tr.MonitorPlan:
        session = self.session_of(call_id, supervisor)
        if session is None:
            raise refused("no_monitor", "you are not monitoring this call")
        _raise_refusal(self._host.feed(ev.MonitorStopped(call_id, supervisor)))
        return session.plan

    def session_of(self, call_id: CallId, supervisor: str) -> Session | None:
        call = self._host.call_view(call_id)
        return call.inbound.monitors.session_of(supervisor) if call is not None else None

    def audit_refused(self, actor: str, role: str, call_id: str, action: str) -> None:
        """A monitoring request by someone without the right: audited, then refused."""
        self._audit(actor, role, call_id, action)
