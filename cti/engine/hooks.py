"""Entry points for adoption after a restart (:mod:`cti.engine.adopt`) and for agent requests."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog

import acd
import ivr
from cti.engine.call import Call, CallPhase
from cti.ids import CallId
from cti.logs import mask_number

log = structlog.get_logger("cti.engine")

P = CallPhase


class HooksMixin:
    """What ``cti.engine.adopt`` and the agent API call on the engine."""

    # ------------------------------------------------------------------ agents (API)

    # ------------------------------------------------------------------ adoption (cti.engine.adopt)

    def restore_agent(self, agent: str, seat: str, status: str, reason: str) -> None:
        """An agent who was logged in before a restart: back at the seat, same status."""
        self._run_acd(acd.AgentLogin(acd.AgentId(agent), acd.SeatId(seat)))
        if status == "paused" and reason:
            self._run_acd(acd.AgentPause(acd.AgentId(agent), reason))

    def adopt_acd(self, event: acd.CallAdopted) -> None:
        self._run_acd(event)

    def timeline(self, call: Call, kind: str, **detail: Any) -> None:
        self._timeline(call, kind, **detail)

    def io(self, call_id: CallId, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._io(call_id, work)

    def start_survey(self, call: Call) -> None:
        self._start_survey(call)

    def hang_up_caller(self, call: Call) -> None:
        self._hangup_caller(call, "normal")

    def requeue(self, call: Call, queue: str, waited_s: float) -> None:
        """A caller adopted while waiting re-enters its queue with its waiting time."""
        self._persist(call)
        self._run_acd(
            acd.CallerArrived(
                acd.CallId(call.call_id),
                acd.QueueId(queue),
                caller_number=call.caller_number,
                waited_so_far_s=max(0.0, waited_s),
                priority=call.priority or None,
            )
        )

    def resume_menu(self, call: Call, commands: list[ivr.Command]) -> None:
        self._exec_ivr(call, commands, "ivr")
        self._persist(call)

    def reroute(self, call: Call) -> None:
        """Take the route again from its start (adopted before its prompts ended)."""
        ch = call.caller_channel

        async def identify() -> None:
            diverted = await self.pbx.get_var(ch, "REDIRECTING(from-num)")
            self._route(call, diverted or "")

        self._io(call.call_id, identify)

    def agent_request(self, event: Any) -> acd.RequestRefused | None:
        """Run an agent's request through the ACD; the refusal, if any."""
        commands = self._run_acd(event)
        for command in commands:
            if isinstance(command, acd.RequestRefused):
                return command
        if isinstance(event, acd.AgentLogin):
            self.writer.submit(
                "agent_session",
                {"event": "login", "agent": event.agent, "seat": event.seat, "at": self.now_dt()},
            )
        elif isinstance(event, acd.AgentLogout):
            self.writer.submit(
                "agent_session",
                {"event": "logout", "agent": event.agent, "at": self.now_dt(), "reason": "logout"},
            )
        return None

    def current_call_of(self, agent: str) -> Call | None:
        for call in self.calls.values():
            if call.agent == agent and call.phase is P.CONNECTED:
                return call
            offer = call.ringing_offer
            if offer is not None and offer.agent == agent:
                return call
        return None

    def masked(self, number: str) -> str:
        return mask_number(number)
