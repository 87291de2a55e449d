"""Transfers, three-way calls, emergency hand-offs, hold and mute, carried out over ARI.

Theory of operation
-------------------
The planning is pure (:mod:`transfer`); this module is its shell inside the
orchestrator.  An agent's request (from the API) is checked against the call
(it must be the agent's own connected call), turned into a
:class:`transfer.TransferPlan` and started; softswitch facts about the
plan's consultee leg come back through the engine's hooks
(:meth:`Transfers.consultee_answered`, :meth:`Transfers.dial`,
:meth:`Transfers.channel_gone`, :meth:`Transfers.timer_fired`,
:meth:`Transfers.call_ended`).  Every decision is made synchronously; the
plan's commands are then carried out by :mod:`cti.engine.transfer_io`, as
ARI requests in the call's own ordered lane.

A call has at most one live plan.  An emergency hand-off (110/119/120) never
waits behind another transfer: it cancels a live plan first (its consultee is
hung up, the caller taken back) and starts at once.

Consultee legs are originated into the application with app args
``consultee,<call id>,<leg id>`` (``threeway_consultee_agent_leaves.jsonl``:
the leg's ``StasisStart`` comes only once it answers; a leg that never
answers gets ``Dial`` BUSY/NOANSWER and ``ChannelDestroyed``).  Channel ids
are chosen here (``<call id>-k<n>``), so a fact about a leg always finds its
plan.

What the first agent's statistics see: the agent's conversation ends, in the
ACD, at the moment they leave the call (``CallEnded``, or
``CallTransferredToQueue`` for a queue), whatever happens to the call
afterwards: their handle time is talk up to that moment plus wrap-up.

Every leg leaves a ``leg_ended`` row in the call's timeline and an entry in
``call.legs`` (``kind``, ``target``, ``started_by``, ``started_at``,
``outcome``, ``duration_s``; the ticket's ``transfers``).  A leg's duration
runs from the request until the leg ended, or until the call became the
target's (a colleague who took it over, an agent of another queue).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

import acd
import transfer as tr
from cti.config import Config, Presented
from cti.engine.call import Call, CallPhase
from cti.engine.transfer_io import Notice, NoticeListener, TransferIo, ari_checked, hangup
from cti.errors import CtiError
from cti.ids import CallId, ChannelId

if TYPE_CHECKING:
    from cti.engine.core import Engine

log = structlog.get_logger("cti.engine.transfers")

P = CallPhase
NUMBER = re.compile(r"^[0-9]{3,20}$")
FAIL_BY_DIAL = {
    "BUSY": tr.FailReason.BUSY,
    "NOANSWER": tr.FailReason.NO_ANSWER,
    "CHANUNAVAIL": tr.FailReason.FAILED,
    "CONGESTION": tr.FailReason.FAILED,
    "CANCEL": tr.FailReason.FAILED,
}
# Hang-up causes of a leg that never answered: 17 user busy, 18/19 no answer.
FAIL_BY_CAUSE = {17: tr.FailReason.BUSY, 18: tr.FailReason.NO_ANSWER, 19: tr.FailReason.NO_ANSWER}


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


class Transfers:
    """The transfers of every call of one engine (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.live: dict[CallId, tr.TransferPlan] = {}
        self.history: dict[CallId, list[tr.TransferPlan]] = {}
        self.legs: dict[ChannelId, tuple[CallId, tr.TransferPlan]] = {}
        self.answered: set[ChannelId] = set()
        self.notices: dict[CallId, list[Notice]] = {}
        self.listeners: list[NoticeListener] = []
        self.io = TransferIo(engine, self)

    def __repr__(self) -> str:
        return f"<Transfers live={len(self.live)} legs={len(self.legs)}>"

    # ------------------------------------------------------------------ requests

    def start(self, call_id: CallId, agent: str, mode: str, spec: TargetSpec) -> tr.TransferPlan:
        """Start a transfer of ``agent``'s call; the plan, or :class:`TransferRefused`."""
        if spec.kind == "emergency":
            return self.emergency(call_id, agent, spec.ref, mode)
        call = self.own_call(call_id, agent)
        if call_id in self.live:
            raise TransferRefused(409, "transfer_in_progress", "a transfer is in progress")
        try:
            chosen = tr.Mode(mode)
        except ValueError:
            raise TransferRefused(400, "bad_mode", f"unknown transfer mode {mode!r}") from None
        target = self._target(call, agent, spec)
        return self._begin(call, agent, chosen, target)

    def emergency(self, call_id: CallId, agent: str, number: str, mode: str) -> tr.TransferPlan:
        """Hand the caller to 110/119/120 (一键转接, or a three-way call to agree).

        A transfer in progress is cancelled first: an emergency never waits.
        """
        call = self.own_call(call_id, agent)
        if mode not in (tr.Mode.BLIND, tr.Mode.THREE_WAY):
            raise TransferRefused(400, "bad_mode", "an emergency hand-off is blind or three-way")
        target = self._target(call, agent, TargetSpec("emergency", number))
        current = self.live.get(call_id)
        if current is not None:
            with contextlib.suppress(TransferRefused):
                self.feed(call, current, tr.Cancel())
        call.tags["emergency"] = target.ref
        call.tags["emergency_presented"] = target.presented
        self.engine._timeline(
            call, "emergency", agent=agent, number=target.ref, mode=mode, presented=target.presented
        )
        self.engine._write_call(call)
        return self._begin(call, agent, tr.Mode(mode), target)

    def act(self, call_id: CallId, agent: str, action: str) -> tr.TransferPlan:
        """``join``, ``complete`` (or ``leave``), ``cancel`` on the call's live transfer."""
        call = self.engine.calls.get(call_id)
        plan = self.live.get(call_id)
        if call is None:
            raise TransferRefused(404, "no_call", "no such call")
        if plan is None:
            raise TransferRefused(409, "no_transfer", "no transfer in progress")
        if plan.agent != agent:
            raise TransferRefused(403, "not_your_call", "the transfer is another agent's")
        event: dict[str, type[tr.Join | tr.Complete | tr.Cancel]] = {
            "join": tr.Join,
            "complete": tr.Complete,
            "leave": tr.Complete,
            "cancel": tr.Cancel,
        }
        kind = event.get(action)
        if kind is None:
            raise TransferRefused(400, "bad_action", f"unknown action {action!r}")
        self.feed(call, plan, kind())
        return plan

    def hold(self, call_id: CallId, agent: str, on: bool) -> Call:
        """Put the caller on hold (out of the bridge, music on hold) or take it back."""
        call = self.own_call(call_id, agent)
        if call_id in self.live:
            raise TransferRefused(409, "transfer_in_progress", "a transfer is in progress")
        if call.held == on:
            return call
        call.held = on
        engine, caller = self.engine, call.caller_channel
        moh = engine._moh_class(call)
        if on:
            self.io.bridge(call, "remove", caller)
            engine._io(call_id, lambda: engine.pbx.start_moh(caller, moh))
        else:
            engine._io(call_id, lambda: engine.pbx.stop_moh(caller))
            self.io.bridge(call, "add", caller)
        engine._timeline(call, "caller_held" if on else "caller_unheld", agent=agent)
        return call

    def mute(self, call_id: CallId, agent: str, on: bool) -> Call:
        """Mute the agent's leg towards the call (ARI mute, direction ``in``) or unmute it."""
        call = self.own_call(call_id, agent)
        leg = call.agent_channel
        if leg is None or call.muted == on:
            return call
        call.muted = on
        channels = self.engine.pbx.ari.channels

        async def mute() -> None:
            request = channels.mute if on else channels.unmute
            await ari_checked(request(leg, direction="in"))

        self.engine._io(call_id, mute)
        self.engine._timeline(call, "agent_muted" if on else "agent_unmuted", agent=agent)
        return call

    def own_call(self, call_id: CallId, agent: str) -> Call:
        """``agent``'s connected call ``call_id``, or :class:`TransferRefused`."""
        call = self.engine.calls.get(call_id)
        if call is None:
            raise TransferRefused(404, "no_call", "no such call")
        if call.agent != agent or call.phase not in (P.CONNECTED,):
            if call.agent != agent:
                raise TransferRefused(403, "not_your_call", "this is not your call")
            raise TransferRefused(409, "not_connected", f"the call is {call.public_state}")
        if call.agent_channel is None:
            raise TransferRefused(409, "not_connected", "the call has no agent leg")
        return call

    def latest(self, call_id: CallId) -> tr.TransferPlan | None:
        """The call's live transfer, else its last one."""
        live = self.live.get(call_id)
        if live is not None:
            return live
        done = self.history.get(call_id)
        return done[-1] if done else None

    # ------------------------------------------------------------------ softswitch hooks

    def consultee_answered(self, leg: ChannelId, call_id: CallId) -> None:
        """``StasisStart`` of a consultee leg (args ``consultee,<call>,<leg>``)."""
        entry = self.legs.get(leg)
        call = self.engine.calls.get(call_id)
        if entry is None or call is None:
            # Nothing waits for this leg any more (a restart, an ended call).
            self.engine._io(call_id, lambda: hangup(self.engine.pbx, leg))
            return
        self.answered.add(leg)
        self.feed(call, entry[1], tr.ConsulteeAnswered())

    def dial(self, peer: ChannelId, status: str) -> bool:
        """A ``Dial`` verdict; True when it was about a consultee leg."""
        entry = self.legs.get(peer)
        if entry is None:
            return False
        reason = FAIL_BY_DIAL.get(status)
        call = self.engine.calls.get(entry[0])
        if reason is not None and call is not None and peer not in self.answered:
            self.feed(call, entry[1], tr.ConsulteeFailed(reason))
        return True

    def channel_gone(self, call: Call, channel: ChannelId, cause: int | None) -> bool:
        """A channel of ``call`` went away; True when this module handled it."""
        entry = self.legs.pop(channel, None)
        engine = self.engine
        if entry is not None:
            engine.by_channel.pop(channel, None)
            plan = entry[1]
            if channel in self.answered:
                self.answered.discard(channel)
                self.feed(call, plan, tr.ConsulteeGone())
            else:
                reason = FAIL_BY_CAUSE.get(cause or 0, tr.FailReason.FAILED)
                self.feed(call, plan, tr.ConsulteeFailed(reason))
            return True
        live = self.live.get(call.call_id)
        if live is not None and live.agent_present and channel == call.agent_channel:
            engine.by_channel.pop(channel, None)
            engine.leg_agent.pop(channel, None)
            engine._timeline(call, "agent_hangup", agent=call.agent)
            self.feed(call, live, tr.AgentGone())
            return True
        return False

    def timer_fired(self, call_id: CallId, leg: str) -> None:
        plan = self.live.get(call_id)
        call = self.engine.calls.get(call_id)
        if plan is not None and call is not None and plan.leg == leg:
            self.feed(call, plan, tr.RingTimeout())

    def connected(self, call: Call) -> None:
        """An agent of the call's queue answered (after a transfer to that queue)."""
        plan = self.live.get(call.call_id)
        if plan is not None:
            self.feed(call, plan, tr.QueueAnswered())

    def call_ended(self, call: Call) -> None:
        """The call is over: every open leg ends now (before the ticket is written)."""
        plan = self.live.get(call.call_id)
        if plan is not None:
            self.feed(call, plan, tr.CallerGone())
        self.history.pop(call.call_id, None)
        self.notices.pop(call.call_id, None)
        for leg in [ch for ch, (cid, _) in self.legs.items() if cid == call.call_id]:
            # A leg whose plan is over but whose hang-up report has not come yet.
            self.legs.pop(leg, None)
            self.answered.discard(leg)

    # ------------------------------------------------------------------ planning

    def _begin(self, call: Call, agent: str, mode: tr.Mode, target: tr.Target) -> tr.TransferPlan:
        config = self.engine.call_configs.get(call.call_id, self.engine.config)
        count = len(self.history.get(call.call_id, [])) + 1
        leg = tr.LegId(f"{call.call_id}-k{count}")
        try:
            plan = tr.TransferPlan(
                leg,
                mode,
                target,
                agent,
                ring_timeout_s=float(config.engine.outbound.originate_timeout),
                caller_held=call.held,
            )
        except tr.RequestRefused as exc:
            raise TransferRefused(400, exc.code, exc.message) from exc
        self.live[call.call_id] = plan
        self.history.setdefault(call.call_id, []).append(plan)
        structlog.contextvars.bind_contextvars(call_id=call.call_id)
        try:
            log.info("transfer_started", mode=mode.value, target=target.kind.value, agent=agent)
        finally:
            structlog.contextvars.unbind_contextvars("call_id")
        self.io.run(call, plan, plan.start(self.engine.now_dt()))
        return plan

    def feed(self, call: Call, plan: tr.TransferPlan, event: tr.Event) -> None:
        try:
            commands = plan.handle(event, self.engine.now_dt())
        except tr.RequestRefused as exc:
            raise TransferRefused(409, exc.code, exc.message) from exc
        self.io.run(call, plan, commands)

    def _target(self, call: Call, agent: str, spec: TargetSpec) -> tr.Target:
        config = self.engine.call_configs.get(call.call_id, self.engine.config)
        kind, ref = spec.kind, spec.ref.strip()
        if kind == "line":
            line = config.parallel_line(ref)
            if line is None:
                raise TransferRefused(400, "bad_target", f"no parallel line {ref!r}")
            label = f"{line.name}（{line.department}）"
            dial = config.dial_string(line)
            number = line.numbers[0]
            shown = _caller_id(call, config, line.present)
            return tr.Target(tr.TargetKind.LINE, number, dial, label, line.extension or "", shown)
        if kind == "emergency":
            found = next((e for e in config.lines.emergency if e.number == ref), None)
            if found is None:
                raise TransferRefused(400, "bad_target", f"{ref!r} is not an emergency line")
            label = f"{found.name}（{found.department}）"
            dial = config.dial_string(found)
            shown = _caller_id(call, config, found.present)
            return tr.Target(tr.TargetKind.EMERGENCY, ref, dial, label, "", shown)
        if kind == "number":
            if not NUMBER.match(ref):
                raise TransferRefused(400, "bad_target", "a number is 3 to 20 digits")
            if any(e.number == ref for e in config.lines.emergency):
                raise TransferRefused(400, "bad_target", "use the emergency hand-off for it")
            shown = _caller_id(call, config, Presented.HOTLINE)
            return tr.Target(tr.TargetKind.NUMBER, ref, config.dial_string(ref), ref, "", shown)
        if kind == "queue":
            if ref not in config.queues.queues:
                raise TransferRefused(400, "bad_target", f"no queue {ref!r}")
            return tr.Target(tr.TargetKind.QUEUE, ref, "", config.queues.queues[ref].name)
        if kind == "agent":
            return self._colleague(call, agent, ref)
        raise TransferRefused(400, "bad_target", f"unknown target kind {kind!r}")

    def _colleague(self, call: Call, agent: str, colleague: str) -> tr.Target:
        engine = self.engine
        person = engine.config.agent(colleague)
        if person is None:
            raise TransferRefused(400, "bad_target", f"no agent {colleague!r}")
        if colleague == agent:
            raise TransferRefused(400, "bad_target", "a call cannot go to its own agent")
        view = engine.acd.agent_view(acd.AgentId(colleague))
        seat = engine.seats.get(view.seat) if view is not None and view.seat else None
        if view is None or seat is None or view.status is acd.AgentStatus.LOGGED_OUT:
            raise TransferRefused(409, "colleague_unavailable", f"{colleague} is not logged in")
        busy = view.call_id is not None or view.state is not acd.AgentState.IDLE
        if busy or engine.current_call_of(colleague) is not None:
            raise TransferRefused(409, "colleague_unavailable", f"{colleague} is {view.state}")
        # A colleague sees who is calling, as on an ordinary offer.
        name, number = call.caller_name, call.caller_number
        shown = f'"{name}" <{number}>' if name else number
        return tr.Target(tr.TargetKind.AGENT, colleague, seat.endpoint, person.name, "", shown)


def _caller_id(call: Call, config: Config, present: Presented) -> str:
    """The number a target reached through the carrier is shown (see :class:`Presented`).

    A citizen who withheld their number is never unmasked: the target then sees
    the hotline's number.
    """
    if present is Presented.CITIZEN and call.caller_number:
        return call.caller_number
    return config.engine.outbound.caller_id or call.dialled
