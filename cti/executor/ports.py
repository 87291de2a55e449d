"""What the executor is given to work with: the writer, the recordings service, listeners.

These are the executor's ports, as protocols: the process wires
:class:`cti.writer.BufferedWriter`, :class:`cti.recordings.service.RecordingService`
and the HTTP faces' listeners into them; tests wire the same classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cti.ari import events as ari
from switchboard import commands as c

Sound = Callable[[str, str], str]
"""``sound(prompt, language)``: the sound file of a prompt (``Config.sound``)."""


class Writer(Protocol):
    """Where facts go: ``submit(kind, payload)`` (:class:`cti.writer.BufferedWriter`)."""

    def submit(self, kind: str, payload: dict[str, Any]) -> None: ...


class Recordings(Protocol):
    """The recordings service (:class:`cti.recordings.service.RecordingService`)."""

    async def recording_started(
        self, call_id: str, name: str, *, segment: int = 1, agents: tuple[str, ...] = ()
    ) -> object: ...

    async def record_request_failed(
        self,
        call_id: str,
        name: str,
        *,
        status: int,
        message: str,
        segment: int = 1,
        agents: tuple[str, ...] = (),
    ) -> object: ...

    async def handle_ari_event(self, event: ari.AriEvent) -> None: ...

    async def resume_in_progress(self) -> list[str]: ...


@dataclass
class Listeners:
    """Who hears of facts as they are written (the wallboard, the toolbar)."""

    calls: list[Callable[[c.WriteCall], None]] = field(default_factory=list)
    finals: list[Callable[[c.WriteFinal], None]] = field(default_factory=list)
    agents: list[Callable[[c.PublishAgentState], None]] = field(default_factory=list)
    notices: list[Callable[[c.TransferNotice], None]] = field(default_factory=list)
    callbacks: list[Callable[[c.AddCallback], None]] = field(default_factory=list)
