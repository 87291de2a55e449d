"""Queueing: feeding the ACD (:mod:`acd`) and executing its commands.

Offers ring an agent leg in the call's leg lane; a connect bridges caller and
agent and starts the recording; announcements, overflow, callbacks and
voicemail finish the ACD's other verdicts.
"""

from __future__ import annotations

from typing import Any

import structlog

import acd
from cti.engine.call import Call, CallPhase, Offer
from cti.engine.pbx import PbxError
from cti.ids import BridgeId, CallId, ChannelId

log = structlog.get_logger("cti.engine")

P = CallPhase


class QueueingMixin:
    """The ACD's commands: offers, connect, announcements, overflow, callback, voicemail."""

    # ------------------------------------------------------------------ queueing (ACD)

    def _enqueue(self, call: Call, queue: str, priority: int | None) -> None:
        now = self.now_dt()
        call.queue = queue
        call.move(P.QUEUED, now)
        self._write_call(call)
        self._timeline(call, "queued", queue=queue)
        ch = call.caller_channel
        moh = self._moh_class(call)
        self._io(call.call_id, lambda: self.pbx.start_moh(ch, moh))
        tags = frozenset(k for k, v in call.tags.items() if v == "1")
        self._run_acd(
            acd.CallerArrived(
                acd.CallId(call.call_id),
                acd.QueueId(queue),
                caller_number=call.caller_number,
                tags=tags,
                priority=priority if priority else None,
            )
        )

    def _run_acd(self, event: Any) -> list[Any]:
        commands = self.acd.handle(event, self.now())
        self._exec_acd(commands)
        return commands

    def _exec_acd(self, commands: list[Any]) -> None:
        for command in commands:
            try:
                self._exec_acd_one(command)
            except Exception:
                self.errors += 1
                log.exception("acd_command_error", command=type(command).__name__)

    def _exec_acd_one(self, command: Any) -> None:
        match command:
            case acd.OfferCall():
                self._offer(command)
            case acd.CancelOffer():
                call = self.calls.get(CallId(command.call_id))
                for offer in call.offers if call else []:
                    if offer.agent == command.agent and offer.outcome in ("ringing", "answered"):
                        assert call is not None
                        outcome = "no_answer" if self._rang_out(call, offer) else "cancelled"
                        self._finish_offer(call, offer, outcome)
                        leg = offer.channel
                        self._io(self._leg_lane(call), lambda leg=leg: self.pbx.hangup(leg))
            case acd.ConnectCall():
                self._connect(command)
            case acd.Announce():
                self._announce(command)
            case acd.Overflow():
                self._overflow(command)
            case acd.AddToCallbackList():
                self._callback(command)
            case acd.CallerLeft():
                call = self.calls.get(CallId(command.call_id))
                if call is not None and command.reason is acd.LeaveReason.ABANDONED:
                    call.outcome = "abandoned"
            case acd.AgentStateChanged():
                self.agent_states[command.agent] = command
                if command.seat is not None:
                    self.agent_seat[command.agent] = command.seat
                self.agent_change_at = at = self.now_dt()
                self.writer.submit(
                    "agent_state",
                    {
                        "agent": command.agent,
                        "at": at,
                        "status": command.status.value,
                        "state": command.state.value,
                        "reason": command.reason or None,
                    },
                )
                for listener in self.agent_listeners:
                    listener(command)
            case acd.StartTimer():
                self.timers.start(("acd", command.key, command.at), command.at - self.now())
            case acd.CancelTimer():
                for key in [
                    k for k in self.timers._handles if k[0] == "acd" and k[1] == command.key
                ]:  # type: ignore[index]
                    self.timers.cancel(key)
            case acd.RequestRefused():
                log.info("agent_request_refused", agent=command.agent, reason=command.reason)
            case _:
                log.warning("acd_command_ignored", command=type(command).__name__)

    # -- offers

    def _offer(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None or call.ended:
            return
        seat = self.seats.get(command.seat)
        if seat is None:
            self._run_acd(
                acd.OfferRejected(command.call_id, command.agent, acd.RejectReason.DECLINED)
            )
            return
        leg = ChannelId(f"{call.call_id}-a{len(call.offers) + 1}")
        now = self.now_dt()
        offer = Offer(agent=command.agent, seat=command.seat, channel=leg, at=now)
        call.offers.append(offer)
        call.stamp("first_offered_at", now)
        self.by_channel[leg] = call.call_id
        self.leg_agent[leg] = command.agent
        self._timeline(call, "offered", agent=command.agent, seat=command.seat)
        caller_id = (
            f'"{call.caller_name}" <{call.caller_number}>'
            if call.caller_name
            else call.caller_number
        )
        timeout = int(command.ring_timeout_s) + 5  # the ACD runs the exact deadline itself
        endpoint = seat.endpoint
        app_args = f"agent,{call.call_id},{command.agent}"

        async def originate() -> None:
            try:
                await self.pbx.originate(
                    endpoint,
                    app_args=app_args,
                    caller_id=caller_id,
                    timeout=timeout,
                    channel_id=leg,
                    variables={"HOTLINE_CALL_ID": call.call_id, "HOTLINE_AGENT": command.agent},
                )
            except PbxError as exc:
                log.warning(
                    "agent_originate_failed",
                    call_id=call.call_id,
                    agent=command.agent,
                    error=str(exc),
                )
                if offer.outcome == "ringing":
                    self._offer_failed(call, offer, "failed")

        # Agent legs have a lane of their own: the originate must not wait
        # behind the caller's requests (variables, answer, music on hold).
        self._io(self._leg_lane(call), originate)

    @staticmethod
    def _leg_lane(call: Call) -> CallId:
        """The lane of a call's agent-leg requests (originate, cancel), in order."""
        return CallId(f"{call.call_id}/legs")

    def _rang_out(self, call: Call, offer: Offer) -> bool:
        """Whether the ACD cancels this offer because it rang its full time (RONA)."""
        if offer.outcome != "ringing":
            return False
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(call.queue or "")
        if queue is None:
            return False
        return (self.now_dt() - offer.at).total_seconds() >= queue.ring_timeout - 0.5

    @staticmethod
    def _offer_of(call: Call | None, leg: ChannelId) -> Offer | None:
        if call is None:
            return None
        for offer in call.offers:
            if offer.channel == leg:
                return offer
        return None

    def _finish_offer(self, call: Call, offer: Offer, outcome: str) -> None:
        offer.outcome = outcome
        offer.ended_at = self.now_dt()
        self._timeline(call, "offer_" + outcome, agent=offer.agent, seat=offer.seat)

    def _offer_failed(self, call: Call, offer: Offer, outcome: str) -> None:
        self._finish_offer(call, offer, outcome)
        if outcome == "no_answer":
            self._run_acd(acd.OfferTimedOut(acd.CallId(call.call_id), acd.AgentId(offer.agent)))
        else:
            reason = acd.RejectReason.BUSY if outcome == "busy" else acd.RejectReason.DECLINED
            self._run_acd(
                acd.OfferRejected(acd.CallId(call.call_id), acd.AgentId(offer.agent), reason)
            )

    def _agent_answered(self, leg: ChannelId, call_id: CallId, agent: str) -> None:
        call = self.calls.get(call_id)
        offer = self._offer_of(call, leg)
        if call is None or offer is None or offer.outcome != "ringing" or call.ended:
            # A leg that answered too late (the caller left, or the offer was
            # cancelled): hang it up so no agent sits on a dead line.
            self._io(call_id, lambda: self.pbx.hangup(leg))
            if call is not None and offer is not None and offer.outcome == "ringing":
                self._finish_offer(call, offer, "cancelled")
            return
        offer.outcome = "answered"
        self._run_acd(acd.OfferAnswered(acd.CallId(call_id), acd.AgentId(agent)))

    def _connect(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None or call.ended:
            return
        offer = next(
            (
                o
                for o in reversed(call.offers)
                if o.agent == command.agent and o.outcome == "answered"
            ),
            None,
        )
        if offer is None:
            return
        now = self.now_dt()
        call.agent = command.agent
        call.agent_channel = offer.channel
        if call.first_agent is None:
            call.first_agent = command.agent  # 首接负责: the first agent answers for the call
        call.move(P.CONNECTED, now)
        segment = sum(1 for leg in call.legs if leg.get("kind") == "recording") + 1
        call.recording_name = f"{call.call_id}-{segment}"
        call.legs.append({"kind": "recording", "name": call.recording_name, "at": now.isoformat()})
        self._write_call(call)
        self._timeline(call, "answered", agent=command.agent, seat=offer.seat)
        self._run_acd(acd.CallConnected(acd.CallId(call.call_id), acd.AgentId(command.agent)))
        call.held = call.muted = False
        self.transfers.connected(call)
        caller, leg, name = call.caller_channel, offer.channel, call.recording_name
        announcement = call.playback
        if announcement is not None:
            # A position announcement must not run on into the conversation.
            call.playback = None
            self.playbacks.pop(announcement, None)
            self._io(call.call_id, lambda: self.pbx.stop_playback(announcement))

        async def bridge() -> None:
            # holding_bridge_then_agent.jsonl / inbound_answer_bridge_record.jsonl:
            # stop MOH, a mixing bridge with both legs, then record the bridge.
            await self.pbx.stop_moh(caller)
            bridge_id = await self.pbx.create_bridge(BridgeId(f"br-{call.call_id}"), call.call_id)
            call.bridge_id = bridge_id
            await self.pbx.add_to_bridge(bridge_id, [caller, leg])
            agents = [command.agent]
            try:
                await self.pbx.record_bridge(bridge_id, name)
                self._timeline(call, "recording_started", name=name)
                if self.recordings is not None:
                    await self.recordings.recording_started(
                        call.call_id, name, segment=segment, agents=agents
                    )
            except PbxError as exc:
                # record_dir_missing_500.jsonl: the call goes on unrecorded,
                # and the failure is reported on the call and alarmed.
                log.error("recording_start_failed", call_id=call.call_id, error=str(exc))
                self._timeline(call, "recording_failed", name=name, error=str(exc))
                if self.recordings is not None:
                    await self.recordings.record_request_failed(
                        call.call_id,
                        name,
                        status=getattr(exc, "status", 0),
                        message=str(exc),
                        segment=segment,
                        agents=agents,
                    )

        self._io(call.call_id, bridge)

    def _announce(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None or call.phase is not P.QUEUED or call.ringing_offer is not None:
            return
        if call.playback is not None:
            return  # the previous announcement is still playing
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(command.queue)
        announce = queue.announce if queue is not None else None
        if announce is None:
            return
        prompts: list[str] = []
        if announce.position_prompt:
            prompts += [announce.position_prompt, f"number:{command.position}"]
        if announce.wait_prompt and command.expected_wait_s is not None:
            minutes = max(1, round(command.expected_wait_s / 60))
            prompts += [announce.wait_prompt, f"number:{minutes}"]
        if not prompts:
            return
        ch = call.caller_channel
        self._io(call.call_id, lambda: self.pbx.stop_moh(ch))
        self._play(call, prompts, "announce", "position")

    def _overflow(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None:
            return
        self._timeline(
            call,
            "overflow",
            action=command.action.value,
            target=command.target,
            reason=command.reason.value,
        )
        if command.action is acd.OverflowAction.QUEUE:
            call.queue = command.target
            self._write_call(call)
        elif command.action is acd.OverflowAction.VOICEMAIL:
            self._voicemail(call, 120)
        elif command.action is acd.OverflowAction.PROMPT_HANGUP:
            call.outcome = "overflowed"
            self._close(call, [command.target] if command.target else [], "normal")

    def _callback(self, command: Any) -> None:
        call = self.calls.get(CallId(command.call_id))
        if call is None:
            return
        call.outcome = "callback"
        self.callbacks_open += 1
        self.writer.submit(
            "callback",
            {
                "call_id": call.call_id,
                "caller_number": command.caller_number,
                "queue": command.queue,
                "at": self.now_dt(),
                "note": f"waited {command.waited_s:.0f}s",
            },
        )
        self._timeline(call, "callback_listed", queue=command.queue)
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(command.queue)
        prompt = getattr(getattr(queue, "overflow", None), "prompt", None)
        self._close(call, [prompt] if prompt else [], "normal")

    def _voicemail(self, call: Call, max_seconds: int) -> None:
        call.outcome = "voicemail"
        call.move(P.VOICEMAIL, self.now_dt())
        self._write_call(call)
        name = f"vm-{call.call_id}"
        call.recording_name = name
        ch = call.caller_channel
        self._timeline(call, "voicemail", name=name, max_seconds=max_seconds)

        async def record() -> None:
            await self.pbx.stop_moh(ch)
            await self.pbx.record_channel(ch, name, max_seconds)

        self._io(call.call_id, record)
        self.timers.start(("hangup", call.call_id), max_seconds + 1)
