"""A transfer plan: one consultee leg (or one queue transfer) of one call.

Theory of operation
-------------------
An agent on a connected call asks for a transfer: blind, attended or a
three-way call, to a number, a retained parallel hotline, 110/119/120, a
colleague or another queue.  The shell builds a :class:`TransferPlan`, calls
:meth:`TransferPlan.start` and then feeds it, with the current time, the
softswitch facts and the agent's requests (:mod:`transfer.events`); every call
returns the :mod:`transfer.commands` to carry out, in order.  The plan never
awaits, never reads a clock and never touches a socket.

The parties are the caller, the agent (whose leg the ACD bridged) and the
consultee (the leg this plan originates).  The plan moves through::

                      answered (three-way)
    dialing ---------------------------------------> conference
      |  \\  answered (attended)                      |   |
      |   +------------------> consulting --join-----+   | complete / agent hangs up
      |                           |  complete / agent    v
      | agent hangs up            +--hangs up-------> handed_over --> done
      v                                                  ^
    ringing_alone ------------- answered ----------------+
    (blind starts here)

    in_queue (blind to a queue) --> done

``dialing``: the consultee rings and the agent is still on the call (with the
caller during a three-way call; alone while the caller hears music during a
consult).  ``ringing_alone``: the consultee rings and no agent is left (a
blind transfer, or an agent who hung up while it rang): the caller waits on
music; an answer puts caller and consultee together, a failure sends the
caller back to the call's queue.  ``consulting``: agent and consultee talk
while the caller holds.  ``conference``: all three talk.  ``handed_over``:
caller and consultee talk, the agent is gone (the 三方通话 hand-off); when the
consultee leaves, the caller is offered the survey.  A colleague who answers
takes the call over instead (:class:`~transfer.commands.TakeOver`), and the
plan is done.  ``in_queue``: the caller waits in another queue, keeping its
waiting time, until an agent there answers.

Every way to ``done`` produces exactly one :class:`~transfer.commands.LegEnded`
whose outcome says how the leg ended, and never leaves the consultee leg up
unless the call is now the consultee's, nor the caller on hold unless it is
back in a queue.  The agent is released (their handle time ends) at most once.

:data:`TRANSITIONS` is the table of allowed moves; :data:`PUBLIC_STATE` the
coarser view the API shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from transfer import commands as c
from transfer import events as e
from transfer.errors import IllegalTransition, RequestRefused
from transfer.model import (
    FailReason,
    LegId,
    LegKind,
    LegRecord,
    Mode,
    Outcome,
    Party,
    Target,
    TargetKind,
)


class State(StrEnum):
    NEW = "new"
    DIALING = "dialing"
    RINGING_ALONE = "ringing_alone"
    CONSULTING = "consulting"
    CONFERENCE = "conference"
    HANDED_OVER = "handed_over"
    IN_QUEUE = "in_queue"
    DONE = "done"


S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    S.NEW: frozenset({S.DIALING, S.RINGING_ALONE, S.IN_QUEUE}),
    S.DIALING: frozenset({S.CONSULTING, S.CONFERENCE, S.RINGING_ALONE, S.DONE}),
    S.RINGING_ALONE: frozenset({S.HANDED_OVER, S.DONE}),
    S.CONSULTING: frozenset({S.CONFERENCE, S.HANDED_OVER, S.DONE}),
    S.CONFERENCE: frozenset({S.HANDED_OVER, S.DONE}),
    S.HANDED_OVER: frozenset({S.DONE}),
    S.IN_QUEUE: frozenset({S.DONE}),
    S.DONE: frozenset(),
}

PUBLIC_STATE: dict[State, str] = {
    S.NEW: "ringing",
    S.DIALING: "ringing",
    S.RINGING_ALONE: "ringing",
    S.CONSULTING: "consulting",
    S.CONFERENCE: "conference",
    S.HANDED_OVER: "handed_over",
    S.IN_QUEUE: "queued",
    S.DONE: "ended",
}

# Seconds the plan's own deadline adds to the originate timeout: the softswitch
# reports a leg that rang out by itself; the deadline only covers a lost report.
RING_GRACE_S = 5.0

Out = list[c.Command]
Handler = Callable[[Any, dt.datetime, Out], State]


class TransferPlan:
    """One transfer of one call (see the module docstring).

    ``leg`` names the consultee leg (unused for a queue); ``agent`` is who
    asked; ``caller_held`` says the caller is already on hold (out of the
    bridge, with music) when the plan starts.
    """

    def __init__(
        self,
        leg: LegId,
        mode: Mode,
        target: Target,
        agent: str,
        *,
        ring_timeout_s: float,
        caller_held: bool = False,
    ) -> None:
        if target.kind is TargetKind.QUEUE and mode is not Mode.BLIND:
            raise RequestRefused("bad_mode", "a call goes to another queue by blind transfer")
        if ring_timeout_s <= 0:
            raise RequestRefused("bad_timeout", "the ring timeout must be positive")
        self.leg = leg
        self.mode = mode
        self.target = target
        self.agent = agent
        self.kind = LegKind.EMERGENCY if target.kind is TargetKind.EMERGENCY else LegKind(mode)
        self.ring_timeout_s = ring_timeout_s
        self.caller_held = caller_held
        self.state = S.NEW
        self.outcome: Outcome | None = None
        self.started_at: dt.datetime | None = None
        self.ended_at: dt.datetime | None = None
        self.agent_released = False
        self._handlers: dict[tuple[State, type], Handler] = {
            (S.DIALING, e.ConsulteeAnswered): self._dialing_answered,
            (S.DIALING, e.ConsulteeFailed): self._dialing_failed,
            (S.DIALING, e.ConsulteeGone): self._dialing_failed,
            (S.DIALING, e.RingTimeout): self._dialing_failed,
            (S.DIALING, e.Cancel): self._dialing_cancel,
            (S.DIALING, e.CallerGone): self._ringing_caller_gone,
            (S.DIALING, e.AgentGone): self._dialing_agent_gone,
            (S.RINGING_ALONE, e.ConsulteeAnswered): self._alone_answered,
            (S.RINGING_ALONE, e.ConsulteeFailed): self._alone_failed,
            (S.RINGING_ALONE, e.ConsulteeGone): self._alone_failed,
            (S.RINGING_ALONE, e.RingTimeout): self._alone_failed,
            (S.RINGING_ALONE, e.CallerGone): self._ringing_caller_gone,
            (S.CONSULTING, e.Join): self._join,
            (S.CONSULTING, e.Complete): self._complete,
            (S.CONSULTING, e.AgentGone): self._complete,
            (S.CONSULTING, e.Cancel): self._consult_cancel,
            (S.CONSULTING, e.ConsulteeGone): self._consult_consultee_gone,
            (S.CONSULTING, e.CallerGone): self._talking_caller_gone,
            (S.CONFERENCE, e.Complete): self._complete,
            (S.CONFERENCE, e.AgentGone): self._complete,
            (S.CONFERENCE, e.Cancel): self._conference_cancel,
            (S.CONFERENCE, e.ConsulteeGone): self._conference_consultee_gone,
            (S.CONFERENCE, e.CallerGone): self._talking_caller_gone,
            (S.HANDED_OVER, e.ConsulteeGone): self._handed_consultee_gone,
            (S.HANDED_OVER, e.CallerGone): self._talking_caller_gone,
            (S.IN_QUEUE, e.QueueAnswered): self._queue_answered,
            (S.IN_QUEUE, e.CallerGone): self._queue_caller_gone,
            (S.DONE, e.ConsulteeAnswered): self._late_answer,
        }

    def __repr__(self) -> str:
        return f"<TransferPlan {self.leg} {self.mode} {self.target.kind}:{self.target.ref} {self.state}>"

    # ------------------------------------------------------------------ queries

    @property
    def public_state(self) -> str:
        return PUBLIC_STATE[self.state]

    @property
    def done(self) -> bool:
        return self.state is S.DONE

    @property
    def agent_present(self) -> bool:
        """The agent who started the plan is still on the call."""
        return self.state in (S.DIALING, S.CONSULTING, S.CONFERENCE)

    @property
    def consultee_live(self) -> bool:
        """The consultee leg rings or talks (it must be hung up if the call ends)."""
        return self.state in (
            S.DIALING,
            S.RINGING_ALONE,
            S.CONSULTING,
            S.CONFERENCE,
            S.HANDED_OVER,
        )

    # ------------------------------------------------------------------ driving

    def start(self, now: dt.datetime) -> list[c.Command]:
        """The first commands of the plan; call once."""
        if self.state is not S.NEW:
            raise IllegalTransition("transfer plan", self.leg, self.state, "start")
        self.started_at = now
        out: Out = [c.Timeline("transfer_started", self._detail())]
        target = self.target
        if target.kind is TargetKind.QUEUE:
            out.append(c.Timeline("agent_left", {**self._ids(), "reason": "queue"}))
            out.append(c.SendToQueue(target.ref))
            self.agent_released = True
            self._move(S.IN_QUEUE)
            return out
        if self.mode is Mode.THREE_WAY:
            if self.caller_held:
                self._unhold_caller(out)
            nxt = S.DIALING
        else:
            self._hold_caller(out)
            if self.mode is Mode.BLIND:
                out.append(c.Timeline("agent_left", {**self._ids(), "reason": "blind"}))
                self._release(out)
                nxt = S.RINGING_ALONE
            else:
                nxt = S.DIALING
        out.append(c.Originate(self.leg, target, self.ring_timeout_s))
        out.append(c.StartTimer(now + dt.timedelta(seconds=self.ring_timeout_s + RING_GRACE_S)))
        self._move(nxt)
        return out

    def handle(self, event: e.Event, now: dt.datetime) -> list[c.Command]:
        """Apply ``event`` at ``now``; the commands, in order.

        An agent's request the state does not allow raises
        :class:`~transfer.errors.RequestRefused`; a stale softswitch fact
        returns no commands.
        """
        if self.state is S.NEW:
            raise IllegalTransition("transfer plan", self.leg, self.state, type(event).__name__)
        handler = self._handlers.get((self.state, type(event)))
        if handler is None:
            if isinstance(event, e.REQUESTS):
                raise RequestRefused(self._refusal(), self._refusal_text(event), self.state)
            return []
        out: Out = []
        nxt = handler(event, now, out)
        self._move(nxt)
        if nxt is S.DONE and self.ended_at is None:
            raise IllegalTransition("transfer plan", self.leg, "done", "without an outcome")
        return out

    # ------------------------------------------------------------------ dialing

    def _dialing_answered(self, event: e.ConsulteeAnswered, now: dt.datetime, out: Out) -> State:
        out += [c.CancelTimer(), c.Timeline("consultee_answered", self._ids())]
        self._key_extension(out)
        out.append(c.Bridge((Party.CONSULTEE,)))
        if self.mode is Mode.ATTENDED:
            return S.CONSULTING
        out.append(c.Timeline("conference", self._ids()))
        return S.CONFERENCE

    def _dialing_failed(self, event: Any, now: dt.datetime, out: Out) -> State:
        reason = self._fail_reason(event, out)
        if self.caller_held:
            self._unhold_caller(out)
        out.append(c.Notify("consultee_failed", reason.value))
        return self._finish(reason.outcome, now, out)

    def _dialing_cancel(self, event: e.Cancel, now: dt.datetime, out: Out) -> State:
        out += [c.CancelTimer(), c.Hangup(Party.CONSULTEE)]
        out.append(c.Timeline("transfer_cancelled", {**self._ids(), "reason": "agent"}))
        if self.caller_held:
            self._unhold_caller(out)
        return self._finish(Outcome.CANCELLED, now, out)

    def _dialing_agent_gone(self, event: e.AgentGone, now: dt.datetime, out: Out) -> State:
        # The agent hung up while the consultee rang: the transfer goes on
        # blind, with the caller on music until the consultee answers.
        out.append(c.Timeline("agent_left", {**self._ids(), "reason": "agent_hangup"}))
        self._release(out)
        if not self.caller_held:
            self._hold_caller(out)
        return S.RINGING_ALONE

    def _ringing_caller_gone(self, event: e.CallerGone, now: dt.datetime, out: Out) -> State:
        out += [c.CancelTimer(), c.Hangup(Party.CONSULTEE)]
        out.append(c.Timeline("transfer_cancelled", {**self._ids(), "reason": "caller_hangup"}))
        return self._finish(Outcome.CANCELLED, now, out)

    # ------------------------------------------------------------------ ringing alone

    def _alone_answered(self, event: e.ConsulteeAnswered, now: dt.datetime, out: Out) -> State:
        out += [c.CancelTimer(), c.Timeline("consultee_answered", self._ids())]
        self._key_extension(out)
        self.caller_held = False
        out += [c.Unhold(Party.CALLER), c.Bridge((Party.CALLER, Party.CONSULTEE))]
        return self._hand_over(now, out)

    def _alone_failed(self, event: Any, now: dt.datetime, out: Out) -> State:
        reason = self._fail_reason(event, out)
        out.append(c.Notify("consultee_failed", reason.value))
        done = self._finish(reason.outcome, now, out)
        out.append(c.Requeue())
        return done

    # ------------------------------------------------------------------ talking

    def _join(self, event: e.Join, now: dt.datetime, out: Out) -> State:
        self._unhold_caller(out)
        out.append(c.Timeline("conference", self._ids()))
        return S.CONFERENCE

    def _complete(self, event: e.Complete | e.AgentGone, now: dt.datetime, out: Out) -> State:
        if self.caller_held:
            self._unhold_caller(out)
        reason = "agent_hangup" if isinstance(event, e.AgentGone) else "agent"
        out.append(c.Timeline("agent_left", {**self._ids(), "reason": reason}))
        self._release(out)
        return self._hand_over(now, out)

    def _consult_cancel(self, event: e.Cancel, now: dt.datetime, out: Out) -> State:
        out.append(c.Hangup(Party.CONSULTEE))
        out.append(c.Timeline("transfer_cancelled", {**self._ids(), "reason": "agent"}))
        self._unhold_caller(out)
        return self._finish(Outcome.CANCELLED, now, out)

    def _consult_consultee_gone(self, event: e.ConsulteeGone, now: dt.datetime, out: Out) -> State:
        out.append(c.Timeline("consultee_left", self._ids()))
        self._unhold_caller(out)
        out.append(c.Notify("consultee_left"))
        return self._finish(Outcome.CANCELLED, now, out)

    def _conference_cancel(self, event: e.Cancel, now: dt.datetime, out: Out) -> State:
        out.append(c.Hangup(Party.CONSULTEE))
        out.append(c.Timeline("consultee_dropped", self._ids()))
        return self._finish(Outcome.STAYED, now, out)

    def _conference_consultee_gone(
        self, event: e.ConsulteeGone, now: dt.datetime, out: Out
    ) -> State:
        out.append(c.Timeline("consultee_left", self._ids()))
        out.append(c.Notify("consultee_left"))
        return self._finish(Outcome.STAYED, now, out)

    def _talking_caller_gone(self, event: e.CallerGone, now: dt.datetime, out: Out) -> State:
        out.append(c.Hangup(Party.CONSULTEE))
        if self.state is S.CONSULTING:
            out.append(c.Timeline("transfer_cancelled", {**self._ids(), "reason": "caller_hangup"}))
            return self._finish(Outcome.CANCELLED, now, out)
        outcome = Outcome.COMPLETED if self.state is S.HANDED_OVER else Outcome.STAYED
        return self._finish(outcome, now, out)

    def _handed_consultee_gone(self, event: e.ConsulteeGone, now: dt.datetime, out: Out) -> State:
        out.append(c.Timeline("consultee_left", self._ids()))
        out.append(c.AfterHandOver())
        return self._finish(Outcome.COMPLETED, now, out)

    # ------------------------------------------------------------------ queue, late answer

    def _queue_answered(self, event: e.QueueAnswered, now: dt.datetime, out: Out) -> State:
        return self._finish(Outcome.COMPLETED, now, out)

    def _queue_caller_gone(self, event: e.CallerGone, now: dt.datetime, out: Out) -> State:
        return self._finish(Outcome.NO_ANSWER, now, out)

    def _late_answer(self, event: e.ConsulteeAnswered, now: dt.datetime, out: Out) -> State:
        # The plan gave up on this leg (cancelled, timed out, the caller left):
        # nobody may sit on a line that leads nowhere.
        if self.target.by_leg:
            out.append(c.Hangup(Party.CONSULTEE))
        return S.DONE

    # ------------------------------------------------------------------ helpers

    def _move(self, wanted: State) -> None:
        if wanted is self.state:
            return
        if wanted not in TRANSITIONS[self.state]:
            raise IllegalTransition("transfer plan", self.leg, self.state, wanted)
        self.state = wanted

    def _hold_caller(self, out: Out) -> None:
        if not self.caller_held:
            out += [c.Unbridge(Party.CALLER), c.Hold(Party.CALLER)]
            self.caller_held = True

    def _unhold_caller(self, out: Out) -> None:
        out += [c.Unhold(Party.CALLER), c.Bridge((Party.CALLER,))]
        self.caller_held = False

    def _key_extension(self, out: Out) -> None:
        if self.target.extension:
            out.append(c.SendDigits(Party.CONSULTEE, self.target.extension))

    def _release(self, out: Out) -> None:
        if not self.agent_released:
            self.agent_released = True
            out.append(c.ReleaseAgent())

    def _hand_over(self, now: dt.datetime, out: Out) -> State:
        if self.target.kind is TargetKind.AGENT:
            out.append(c.TakeOver(self.target.ref))
            out.append(c.Timeline("transfer_completed", self._ids()))
            return self._finish(Outcome.COMPLETED, now, out)
        out.append(c.HandOver())
        out.append(c.Timeline("handed_over", self._ids()))
        return S.HANDED_OVER

    def _fail_reason(self, event: Any, out: Out) -> FailReason:
        out.append(c.CancelTimer())
        if isinstance(event, e.RingTimeout):
            out.append(c.Hangup(Party.CONSULTEE))
            reason = FailReason.NO_ANSWER
        elif isinstance(event, e.ConsulteeFailed):
            reason = event.reason
        else:
            reason = FailReason.FAILED
        out.append(c.Timeline("consultee_failed", {**self._ids(), "reason": reason.value}))
        return reason

    def _finish(self, outcome: Outcome, now: dt.datetime, out: Out) -> State:
        assert self.started_at is not None
        self.outcome = outcome
        self.ended_at = now
        duration = max(0.0, (now - self.started_at).total_seconds())
        record = LegRecord(
            kind=self.kind,
            target=self.target.ref,
            started_by=self.agent,
            started_at=self.started_at,
            outcome=outcome,
            duration_s=duration,
            presented=self.target.presented,
        )
        out.append(c.LegEnded(record))
        return S.DONE

    def _ids(self) -> dict[str, Any]:
        return {"leg": self.leg, "target": self.target.ref}

    def _detail(self) -> dict[str, Any]:
        return {
            **self._ids(),
            "mode": self.mode.value,
            "kind": self.kind.value,
            "target_kind": self.target.kind.value,
            "label": self.target.label,
        }

    def _refusal(self) -> str:
        if self.state is S.DONE:
            return "finished"
        if not self.agent_present:
            return "agent_gone"
        if self.state is S.DIALING:
            return "not_answered"
        return "not_allowed"

    def _refusal_text(self, event: Any) -> str:
        return f"{type(event).__name__.lower()} is not possible while the transfer is {self.state}"
