"""Running the pure IVR and survey sessions (:mod:`ivr`) of a call and executing their commands."""

from __future__ import annotations

from typing import Any

import structlog

import ivr
from cti.engine.call import Call, CallPhase
from cti.ids import CallId

log = structlog.get_logger("cti.engine")

P = CallPhase


class IvrMixin:
    """Menus and surveys: feed ``ivr`` sessions, execute the commands they return."""

    # ------------------------------------------------------------------ IVR

    def _start_menu(self, call: Call, menu_id: str) -> None:
        config = self.call_configs[call.call_id]
        session = ivr.IvrSession(
            config.menus,
            config.calendar,
            menu=ivr.MenuId(menu_id),
            session_id=call.call_id,
        )
        self.ivr[call.call_id] = session
        call.move(P.MENU, self.now_dt())
        self._write_call(call)
        self._exec_ivr(call, session.start(self.now_dt()), "ivr")

    def _run_ivr(self, call_id: CallId, event: ivr.Event) -> None:
        session = self.ivr.get(call_id)
        call = self.calls.get(call_id)
        if session is None or call is None:
            return
        self._exec_ivr(call, session.handle(event, self.now_dt()), "ivr")
        self._persist(call)

    def _run_survey(self, call_id: CallId, event: ivr.Event) -> None:
        session = self.surveys.get(call_id)
        call = self.calls.get(call_id)
        if session is None or call is None:
            return
        self._exec_ivr(call, session.handle(event, self.now_dt()), "survey")

    def _exec_ivr(self, call: Call, commands: list[ivr.Command], kind: str) -> None:
        """Carry out IVR or survey commands, in order."""
        ch = call.caller_channel
        for command in commands:
            match command:
                case ivr.Play():
                    self._play(call, list(command.prompts), kind, command.playback_id)
                case ivr.StopPlayback():
                    for ari_id, (cid, k, ref) in list(self.playbacks.items()):
                        if cid == call.call_id and k == kind and ref == command.playback_id:
                            self.playbacks.pop(ari_id, None)
                            self._io(call.call_id, lambda a=ari_id: self.pbx.stop_playback(a))
                case ivr.StartTimer():
                    self.timers.start((kind, call.call_id, command.timer_id), command.seconds)
                case ivr.CancelTimer():
                    self.timers.cancel((kind, call.call_id, command.timer_id))
                case ivr.SetTag():
                    call.tags[command.tag] = "1"
                case ivr.SetVar():
                    call.variables[command.name] = command.value
                case ivr.SetLanguage():
                    call.language = command.language
                case ivr.EnterQueue():
                    self._leave_menu(call, command.path)
                    for tag in command.tags:
                        call.tags.setdefault(tag, "1")
                    self._enqueue(call, command.queue, command.priority)
                case ivr.RecordVoicemail():
                    self._leave_menu(call, command.path)
                    call.queue = command.queue
                    self._voicemail(call, command.max_seconds)
                case ivr.TransferToNumber():
                    self._leave_menu(call, command.path)
                    call.outcome = "transferred"
                    self._timeline(call, "transfer_number", number=command.number)
                    self._close(call, [], "normal")
                case ivr.Hangup():
                    if kind == "ivr":
                        call.outcome = call.outcome or "ivr_hangup"
                    self._close(call, [], "normal")
                case ivr.Rated():
                    self._rated(call, command.level, command.label)
                case ivr.NotRated():
                    self._not_rated(call, str(command.reason))
                case ivr.Finished():
                    self.ivr.pop(call.call_id, None)
                    self._leave_menu(call, command.path)
                    for tag in command.tags:
                        call.tags.setdefault(tag, "1")
                    call.variables.update(command.vars)
                case _:
                    log.warning("ivr_command_ignored", command=type(command).__name__)
        del ch

    def _leave_menu(self, call: Call, path: Any) -> None:
        if path:
            call.menu_path = [step.as_dict() for step in path]
        if call.phase is P.MENU:
            call.stamp("menu_exited_at", self.now_dt())
