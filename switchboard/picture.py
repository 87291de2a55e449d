"""The picture of a call kept on its caller's channel, to adopt it after a restart.

While a call runs, its compact picture rides on the caller's channel in the
variable ``HOTLINE_STATE`` (JSON), next to ``HOTLINE_CALL_ID``; Asterisk keeps
the channel when the engine goes away (``engine_ws_drop_and_return.jsonl``).
The keys are those the engine has always written, so a call kept by an
earlier release is taken back too.  :meth:`CallPicture.from_json` raises :class:`PictureError` on a
picture it cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from switchboard.callstate import CallFacts
from switchboard.phases import SwitchboardError

STATE_VAR = "HOTLINE_STATE"


class PictureError(SwitchboardError):
    """A ``HOTLINE_STATE`` that is not a call's picture."""


@dataclass(frozen=True, slots=True)
class CallPicture:
    """What a restarted switchboard needs to take a call back."""

    call_id: str
    phase: str
    dialled: str = ""
    caller_number: str = ""
    caller_name: str = ""
    original_number: str | None = None
    department: str | None = None
    line_name: str | None = None
    route: str | None = None
    queue: str | None = None
    priority: int = 0
    language: str = "zh"
    agent: str | None = None
    agent_leg: str | None = None
    first_agent: str | None = None
    bridge: str | None = None
    recording: str | None = None
    arrived_at: float | None = None
    stamps: Mapping[str, float] = field(default_factory=dict)
    config_version: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    ivr: str | None = None  # the menu session's snapshot, as JSON text
    incarnation: int = 0  # times the call was taken back already

    @classmethod
    def of(cls, f: CallFacts, ivr_snapshot: str | None) -> CallPicture:
        return cls(
            call_id=f.call_id,
            phase=f.phase.value,
            dialled=f.dialled,
            caller_number=f.caller_number,
            caller_name=f.caller_name,
            original_number=f.original_number,
            department=f.department,
            line_name=f.line_name,
            route=f.route,
            queue=f.queue,
            priority=f.priority,
            language=f.language,
            agent=f.agent,
            agent_leg=f.agent_leg,
            first_agent=f.first_agent,
            bridge=f.bridge,
            recording=f.recording,
            arrived_at=f.arrived_at,
            stamps=dict(f.stamps),
            config_version=f.config_version,
            tags=dict(f.tags),
            ivr=ivr_snapshot,
            incarnation=f.incarnation,
        )

    def to_json(self) -> str:
        state: dict[str, object] = {
            "id": self.call_id,
            "p": self.phase,
            "d": self.dialled,
            "n": self.caller_number,
            "nm": self.caller_name,
            "o": self.original_number,
            "dep": self.department,
            "ln": self.line_name,
            "rt": self.route,
            "q": self.queue,
            "pr": self.priority,
            "lg": self.language,
            "a": self.agent,
            "ac": self.agent_leg,
            "fa": self.first_agent,
            "b": self.bridge,
            "r": self.recording,
            "at": self.arrived_at,
            "st": dict(self.stamps),
            "cv": self.config_version,
            "tags": dict(self.tags),
            "inc": self.incarnation,
        }
        if self.ivr is not None:
            state["ivr"] = json.loads(self.ivr)
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CallPicture:
        try:
            state = json.loads(text)
            if not isinstance(state, dict) or not state.get("id") or not state.get("p"):
                raise PictureError("no call id or phase")

            def opt(key: str) -> str | None:
                value = state.get(key)
                return None if value is None else str(value)

            ivr = state.get("ivr")
            return cls(
                call_id=str(state["id"]),
                phase=str(state["p"]),
                dialled=str(state.get("d") or ""),
                caller_number=str(state.get("n") or ""),
                caller_name=str(state.get("nm") or ""),
                original_number=opt("o"),
                department=opt("dep"),
                line_name=opt("ln"),
                route=opt("rt"),
                queue=opt("q"),
                priority=int(state.get("pr") or 0),
                language=str(state.get("lg") or "zh"),
                agent=opt("a"),
                agent_leg=opt("ac"),
                first_agent=opt("fa"),
                bridge=opt("b"),
                recording=opt("r"),
                arrived_at=None if state.get("at") is None else float(state["at"]),
                stamps={
                    str(k): float(v)
                    for k, v in dict(state.get("st") or {}).items()
                    if v is not None
                },
                config_version=str(state.get("cv") or ""),
                tags={str(k): str(v) for k, v in dict(state.get("tags") or {}).items()},
                ivr=None if ivr is None else json.dumps(ivr, ensure_ascii=False),
                incarnation=int(state.get("inc") or 0),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise PictureError(f"unreadable call picture: {exc}") from exc
