"""The end of a call: legs going away, the survey, closing, finalizing and the ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

import acd
import ivr
from cti.engine.call import Call, CallPhase
from cti.ids import ChannelId

log = structlog.get_logger("cti.engine")

P = CallPhase


class EndingMixin:
    """Channels that go away, the satisfaction survey, and the call's final record."""

    # ------------------------------------------------------------------ the end of a call

    def _channel_gone(self, channel: ChannelId, cause: int | None) -> None:
        call_id = self.by_channel.get(channel)
        if call_id is None:
            return
        call = self.calls.get(call_id)
        if call is None:
            self.by_channel.pop(channel, None)
            return
        if self.transfers.channel_gone(call, channel, cause) or self.monitors.channel_gone(
            call, channel
        ):
            return
        if channel == call.caller_channel:
            self.by_channel.pop(channel, None)
            self._caller_gone(call)
            return
        offer = self._offer_of(call, channel)
        self.by_channel.pop(channel, None)
        self.leg_agent.pop(channel, None)
        if offer is None:
            return
        if offer.outcome == "ringing":
            # No Dial verdict seen: read it from the hang-up cause
            # (17 user busy, 19/18 no answer, anything else a failure).
            outcome = {17: "busy", 18: "no_answer", 19: "no_answer"}.get(cause or 0, "failed")
            self._offer_failed(call, offer, outcome)
        elif offer.outcome == "answered" and call.agent_channel != channel:
            self._offer_failed(call, offer, "failed")
        elif call.agent_channel == channel and call.phase is P.CONNECTED:
            self._agent_left(call)

    def _agent_left(self, call: Call) -> None:
        """The agent hung up first: the caller goes to the satisfaction survey."""
        now = self.now_dt()
        call.hangup_by = call.hangup_by or "agent"
        offer = next((o for o in call.offers if o.channel == call.agent_channel), None)
        if offer is not None:
            offer.ended_at = now
        self._timeline(call, "agent_hangup", agent=call.agent)
        self._run_acd(acd.CallEnded(acd.CallId(call.call_id)))
        call.agent_channel = None
        call.muted = False
        self.monitors.agent_left(call)
        self._start_survey(call)

    def _start_survey(self, call: Call) -> None:
        """The caller's conversation is over: the satisfaction survey (满意度评价)."""
        now = self.now_dt()
        bridge, caller = call.bridge_id, call.caller_channel
        if call.held:
            call.held = False  # the caller was on hold when the agent left
            self._io(call.call_id, lambda: self.pbx.stop_moh(caller))
        if bridge is not None:
            call.bridge_id = None
            recording = call.recording_name
            self._io(call.call_id, lambda: self.pbx.destroy_bridge(bridge, recording=recording))
        config = self.call_configs.get(call.call_id, self.config)
        call.move(P.SURVEY, now)
        self._write_call(call)
        session = ivr.SurveySession(config.survey, session_id=call.call_id, language=call.language)
        self.surveys[call.call_id] = session
        # A guard against a survey that never ends (a lost event): hang up
        # once every prompt and timeout of the survey must have passed.
        survey = config.survey
        budget = (survey.timeout + 15.0) * (survey.max_attempts + 1)
        self.timers.start(("hangup", call.call_id), budget)
        self._exec_ivr(call, session.start(now), "survey")

    def _caller_gone(self, call: Call) -> None:
        if call.ended:
            return
        phase = call.phase
        call.hangup_by = call.hangup_by or "caller"
        self._timeline(call, "caller_hangup", phase=phase.value)
        if phase is P.MENU:
            self._run_ivr(call.call_id, ivr.CallerHangup())
            call.outcome = call.outcome or "ivr_abandoned"
        elif phase is P.QUEUED:
            self._run_acd(acd.CallerHungUp(acd.CallId(call.call_id)))
            call.outcome = call.outcome or "abandoned"
        elif phase is P.CONNECTED:
            self._run_acd(acd.CallEnded(acd.CallId(call.call_id)))
            self._not_rated(call, "caller_hung_up")
            leg, bridge, recording = call.agent_channel, call.bridge_id, call.recording_name
            if leg is not None:
                self._io(call.call_id, lambda: self.pbx.hangup(leg))
            if bridge is not None:
                self._io(call.call_id, lambda: self.pbx.destroy_bridge(bridge, recording=recording))
        elif phase in (P.TRANSFERRING, P.HANDED_OFF):
            self._not_rated(call, "caller_hung_up")
            bridge = call.bridge_id
            if bridge is not None:
                self._io(call.call_id, lambda: self.pbx.destroy_bridge(bridge))
        elif phase is P.SURVEY:
            self._run_survey(call.call_id, ivr.CallerHangup())
            if call.rating_label is None:
                self._not_rated(call, "caller_hung_up")
        elif phase in (P.ARRIVED, P.ANNOUNCING):
            call.outcome = call.outcome or "ivr_abandoned"
        self._finalize(call)

    def _rated(self, call: Call, level: int, label: str) -> None:
        self.ratings_today[level] = self.ratings_today.get(level, 0) + 1
        call.rating = level
        call.rating_label = label
        call.stamp("rated_at", self.now_dt())
        self._timeline(call, "rated", level=level, label=label)

    def _not_rated(self, call: Call, reason: str) -> None:
        if call.rating_label is None:
            self.ratings_today[None] = self.ratings_today.get(None, 0) + 1
            call.rating = None
            call.rating_label = "not_rated"
            self._timeline(call, "not_rated", reason=reason)

    def _close(self, call: Call, prompts: list[str], reason: str) -> None:
        """A last prompt (if any), then hang up the caller."""
        if call.ended or call.phase is P.CLOSING:
            return
        call.move(P.CLOSING, self.now_dt())
        if prompts:
            ch = call.caller_channel
            self._io(call.call_id, lambda: self.pbx.stop_moh(ch))
            self._play(call, prompts, "closing", "closing")
            self.timers.start(("hangup", call.call_id), 60.0)
        else:
            self._hangup_caller(call, reason)

    def _hangup_caller(self, call: Call, reason: str) -> None:
        if call.ended:
            return
        call.hangup_by = call.hangup_by or "engine"
        ch = call.caller_channel

        async def hangup() -> None:
            if not await self.pbx.hangup(ch, reason):
                # Already gone, and its StasisEnd never reached us (a socket
                # cut): end the call here rather than keep a ghost.
                self._channel_gone(ch, cause=None)

        self._io(call.call_id, hangup)

    def _finalize(self, call: Call) -> None:
        # Legs still open end with the call, before the ticket is written.
        self.transfers.call_ended(call)
        self.monitors.call_ended(call)
        now = self.now_dt()
        if call.phase is not P.ENDED:
            call.phase = P.ENDED
            call.stamp("ended_at", now)
        if call.outcome is None:
            call.outcome = "answered" if call.stamps.get("answered_at") else "ended"
        if call.stamps.get("answered_at") and call.outcome in ("abandoned", "ended", "ivr_hangup"):
            call.outcome = "answered"
        for name in [
            k
            for k in self.timers._handles
            if isinstance(k, tuple) and len(k) > 1 and k[1] == call.call_id
        ]:
            self.timers.cancel(name)
        self.ivr.pop(call.call_id, None)
        self.surveys.pop(call.call_id, None)
        self.route_steps.pop(call.call_id, None)
        for pid in [p for p, (cid, _, _) in self.playbacks.items() if cid == call.call_id]:
            self.playbacks.pop(pid, None)
        self._timeline(call, "ended", outcome=call.outcome, hangup_by=call.hangup_by)
        record = call.record()
        rating = None
        if call.rating_label is not None and call.stamps.get("answered_at"):
            rating = {
                "call_id": call.call_id,
                "level": call.rating,
                "label": call.rating_label,
                "at": call.stamps.get("rated_at", now),
            }
        ticket = (
            self.ticket_for(call) if call.outcome in ("answered", "voicemail", "callback") else None
        )
        self.writer.submit("call_final", {"call": record, "rating": rating, "ticket": ticket})
        self.calls.pop(call.call_id, None)
        self.call_configs.pop(call.call_id, None)
        self.recent_ended[call.call_id] = call
        while len(self.recent_ended) > 1000:
            self.recent_ended.pop(next(iter(self.recent_ended)))
        structlog.contextvars.bind_contextvars(call_id=call.call_id)
        try:
            log.info(
                "call_ended",
                outcome=call.outcome,
                hangup_by=call.hangup_by,
                caller=call.caller_number,
            )
        finally:
            structlog.contextvars.unbind_contextvars("call_id")
        for listener in self.ended_listeners:
            listener(call)

    def ticket_for(self, call: Call) -> dict[str, Any]:
        """The ticket (工单) handed to the work-order backend for a finished call."""
        return {
            "call_id": call.call_id,
            "kind": {"voicemail": "voicemail", "callback": "callback"}.get(
                call.outcome or "", "call"
            ),
            "caller_number": call.caller_number,
            "caller_name": call.caller_name,
            "dialled": call.dialled,
            "original_number": call.original_number,
            "department": call.department,
            "line_name": call.line_name,
            "menu_path": call.menu_path,
            "tags": call.tags,
            "queue": call.queue,
            "first_agent": call.first_agent,
            "agents": sorted({o.agent for o in call.offers if o.outcome in ("answered",)}),
            "arrived_at": call.arrived_at.isoformat(),
            "answered_at": _iso(call.stamps.get("answered_at")),
            "ended_at": _iso(call.stamps.get("ended_at")),
            "rating": call.rating,
            "rating_label": call.rating_label,
            "recording": call.recording_name,
            "legs": [leg for leg in call.legs if leg.get("kind") != "recording"],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
