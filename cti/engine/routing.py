"""Arrival of a call, its route (announcements, menus, queues) and playback of prompts."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from cti.engine.call import Call, CallPhase
from cti.engine.pbx import PbxError
from cti.ids import CallId, ChannelId

log = structlog.get_logger("cti.engine")

P = CallPhase


class RoutingMixin:
    """A new call, its route steps, and the prompts it hears."""

    # ------------------------------------------------------------------ arrival and routing

    def _new_call(self, channel: Any, dialled: str, diverted: str | None = None) -> None:
        """A call arrived: its record, then its route.

        With ``diverted`` known from the event (a string, empty when the call
        was not forwarded), the route is decided at once and the agent can be
        rung before any request; the call id goes onto the channel beside it.
        Without it, the engine reads ``REDIRECTING(from-num)`` first.
        """
        now = self.now_dt()
        call_id = CallId(f"c-{now:%Y%m%d}-{uuid.uuid4().hex[:10]}")
        caller = getattr(channel, "caller", None)
        call = Call(
            call_id=call_id,
            caller_channel=ChannelId(channel.id),
            caller_number=getattr(caller, "number", "") or "",
            caller_name=getattr(caller, "name", "") or "",
            dialled=dialled,
            arrived_at=now,
            config_version=self.config_version,
        )
        self.calls[call_id] = call
        self.call_configs[call_id] = self.config
        self.by_channel[call.caller_channel] = call_id
        structlog.contextvars.bind_contextvars(call_id=call_id)
        try:
            log.info("call_arrived", caller=call.caller_number, dialled=dialled)
        finally:
            structlog.contextvars.unbind_contextvars("call_id")
        self._write_call(call)
        self._timeline(call, "arrived", dialled=dialled)
        ch = call.caller_channel

        async def identify() -> None:
            # The call id lives on the channel so a restarted engine can adopt
            # the call (engine_ws_drop_and_return.jsonl).
            await self.pbx.set_var(ch, "HOTLINE_CALL_ID", call_id)
            if diverted is None:
                self._route(call, await self.pbx.get_var(ch, "REDIRECTING(from-num)") or "")

        self._io(call_id, identify)
        if diverted is not None:
            self._route(call, diverted)

    def _route(self, call: Call, diverted: str) -> None:
        if call.ended:
            return
        config = self.call_configs[call.call_id]
        number = call.dialled
        # A forwarded call: the original number arrives in the SIP Diversion
        # header, which ARI shows as REDIRECTING(from-num).
        if diverted and diverted != call.dialled and diverted in config.routed_numbers:
            number = diverted
        now = self.now_dt()
        decision = config.resolve(number, now)
        call.route = decision.route_id
        call.tags.update(decision.route.tags)
        if number != call.dialled or decision.kind == "merged":
            call.original_number = number
        if decision.line is not None:
            call.department = decision.line.department
            call.line_name = decision.line.name
            call.tags.setdefault("department", decision.line.department)
        route = decision.route
        call.priority = route.priority
        call.stamp("routed_at", now)
        if decision.kind == "unknown":
            log.warning("call_number_not_in_service", call_id=call.call_id, dialled=number)
        self._timeline(
            call,
            "routed",
            route=decision.route_id,
            route_kind=decision.kind,
            phase=decision.phase.value if decision.phase else None,
            closed=decision.closed,
            number=number,
        )
        steps: list[tuple[str, bool]] = []
        if route.announcement:
            steps.append((route.announcement, route.skippable))
        if route.notice:
            steps.append((route.notice, False))
        self.route_steps[call.call_id] = steps
        call.decision = decision
        ch = call.caller_channel
        self._io(call.call_id, lambda: self.pbx.answer(ch))
        if steps:
            call.move(P.ANNOUNCING, now)
            self._write_call(call)
        self._next_route_step(call)

    def _next_route_step(self, call: Call) -> None:
        steps = self.route_steps.get(call.call_id)
        if steps is None or call.ended:
            return
        if steps:
            prompt, skippable = steps.pop(0)
            call.playback_skippable = skippable
            self._play(call, [prompt], "route", prompt)
            return
        del self.route_steps[call.call_id]
        decision = call.decision
        route = decision.route
        if route.queue:
            self._enqueue(call, route.queue, route.priority)
        elif route.menu:
            self._start_menu(call, route.menu)
        else:
            if decision.kind == "unknown":
                call.outcome = "not_in_service"
            elif decision.kind == "merged":
                call.outcome = "withdrawn"
            else:
                call.outcome = "hangup"
            self._close(call, [], "normal")

    # ------------------------------------------------------------------ playback

    def _sound(self, call: Call, prompt: str) -> str:
        if ":" in prompt:  # already a media URI, e.g. number:3
            return prompt
        config = self.call_configs.get(call.call_id, self.config)
        return "sound:" + config.sound(prompt, call.language)

    def _play(self, call: Call, prompts: list[str], kind: str, ref: str) -> str:
        playback_id = f"{call.call_id}-p{next(self._seq)}"
        media = [self._sound(call, p) for p in prompts]
        self.playbacks[playback_id] = (call.call_id, kind, ref)
        call.playback = playback_id
        ch = call.caller_channel
        self._io(call.call_id, lambda: self._play_io(call, ch, media, playback_id))
        return playback_id

    async def _play_io(
        self, call: Call, channel: ChannelId, media: list[str], playback_id: str
    ) -> None:
        try:
            await self.pbx.play(channel, media, playback_id)
        except PbxError as exc:
            # The prompt could not be played: behave as if it had finished,
            # so a missing sound never leaves a caller in silence forever.
            log.warning("playback_failed", call_id=call.call_id, error=str(exc))
            self._ari_PlaybackFinished(_Finished(playback_id))

    def _moh_class(self, call: Call) -> str:
        config = self.call_configs.get(call.call_id, self.config)
        queue = config.queues.queues.get(call.queue or "")
        return queue.music_on_hold if queue is not None else "default"


class _Finished:
    """A stand-in for a PlaybackFinished event of a playback that never started."""

    type = "PlaybackFinished"

    def __init__(self, playback_id: str) -> None:
        self.playback = type("P", (), {"id": playback_id})()
