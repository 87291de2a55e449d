"""Test support for the IVR: the shipped YAML, aware clocks, and a shell stand-in.

``Shell`` plays the part of the engine around an ``IvrSession`` or a
``SurveySession``: it executes commands the way the orchestrator would (keeps
the outstanding playbacks and timers), delivers events by meaning ("the current
prompt ended", "the timer ran out") and checks the command contract on every
batch: one playback and one timer at a time, only outstanding ones stopped or
cancelled, nothing outstanding and nothing more after the end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from ivr import (
    CallerHangup,
    CancelTimer,
    Command,
    Digit,
    EnterQueue,
    Event,
    Finished,
    Play,
    PlaybackFinished,
    RecordVoicemail,
    StartTimer,
    StopPlayback,
    Timeout,
    TransferToNumber,
)

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


def load_yaml(path: Path) -> Any:
    """A YAML file as the config loader reads it (ruamel round-trip types)."""
    with path.open(encoding="utf-8") as handle:
        return YAML(typ="rt").load(handle)


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """An aware local time in the platform's time zone."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# A plain Wednesday morning, no holiday: 2026-03-11 10:00 Asia/Shanghai.
WEEKDAY_MORNING = at(2026, 3, 11, 10, 0)


class Session(Protocol):
    """What ``Shell`` needs of a session."""

    def start(self, now: dt.datetime) -> list[Command]: ...

    def handle(self, event: Event, now: dt.datetime) -> list[Command]: ...

    def resume(self, now: dt.datetime) -> list[Command]: ...


TERMINAL = (EnterQueue, RecordVoicemail, TransferToNumber, Finished)


class ContractError(AssertionError):
    """A session broke the command contract."""


class Shell:
    """Runs a session as the engine would, and checks every batch of commands."""

    def __init__(self, session: Session, now: dt.datetime = WEEKDAY_MORNING) -> None:
        self.session = session
        self.now = now
        self.log: list[Command] = []
        self.playbacks: set[str] = set()
        self.timers: dict[str, float] = {}
        self.started_timers: list[str] = []
        self.cancelled_timers: list[str] = []
        self.fired_timers: list[str] = []
        self.ended = self._session_done()
        self.last_play: Play | None = None

    def adopt(self, playback: str | None, timer: str | None) -> None:
        """Take over what a previous engine left outstanding (before ``resume``)."""
        if playback is not None:
            self.playbacks.add(playback)
        if timer is not None:
            self.timers[timer] = 0.0
            self.started_timers.append(timer)

    # ------------------------------------------------------------ driving

    def start(self) -> list[Command]:
        return self._run(self.session.start(self.now))

    def resume(self) -> list[Command]:
        return self._run(self.session.resume(self.now))

    def send(self, event: Event) -> list[Command]:
        if isinstance(event, PlaybackFinished):
            self.playbacks.discard(event.playback_id)
        if isinstance(event, Timeout) and event.timer_id in self.timers:
            del self.timers[event.timer_id]
            self.fired_timers.append(event.timer_id)
        return self._run(self.session.handle(event, self.now))

    def finish_playback(self) -> list[Command]:
        """The one outstanding playback ends."""
        if len(self.playbacks) != 1:
            raise ContractError(f"expected one playback, have {sorted(self.playbacks)}")
        return self.send(PlaybackFinished(next(iter(self.playbacks))))  # type: ignore[arg-type]

    def fire_timer(self) -> list[Command]:
        """The one outstanding timer runs out."""
        if len(self.timers) != 1:
            raise ContractError(f"expected one timer, have {sorted(self.timers)}")
        return self.send(Timeout(next(iter(self.timers))))  # type: ignore[arg-type]

    def press(self, keys: str) -> list[Command]:
        out: list[Command] = []
        for key in keys:
            out += self.send(Digit(key))
        return out

    def hang_up(self) -> list[Command]:
        return self.send(CallerHangup())

    def settle(self, limit: int = 200) -> list[Command]:
        """Let every prompt end and every timer run out until the session ends."""
        out: list[Command] = []
        for _ in range(limit):
            if self.ended:
                return out
            if self.playbacks:
                out += self.finish_playback()
            elif self.timers:
                out += self.fire_timer()
            else:
                raise ContractError("session waits for nothing but has not ended")
        raise ContractError(f"session did not end within {limit} steps")

    # ------------------------------------------------------------ checking

    def _run(self, commands: list[Command]) -> list[Command]:
        if self.ended and commands:
            raise ContractError(f"commands after the end: {commands}")
        for command in commands:
            self._apply(command)
        self.log += commands
        if not self.ended and self._session_done():
            if self.playbacks or self.timers:
                raise ContractError(f"ended with {self.playbacks} / {self.timers} outstanding")
            if self._is_menu() and not (commands and isinstance(commands[-1], Finished)):
                raise ContractError(f"menu ended without Finished last: {commands}")
            self.ended = True
        return commands

    def _apply(self, command: Command) -> None:
        if isinstance(command, Play):
            if self.playbacks:
                raise ContractError(f"{command} while {self.playbacks} plays")
            self.playbacks.add(command.playback_id)
            self.last_play = command
        elif isinstance(command, StopPlayback):
            if command.playback_id not in self.playbacks:
                raise ContractError(f"{command} of no outstanding playback")
            self.playbacks.discard(command.playback_id)
        elif isinstance(command, StartTimer):
            if self.timers:
                raise ContractError(f"{command} while {self.timers} runs")
            if command.timer_id in self.started_timers:
                raise ContractError(f"{command} reuses an id")
            self.timers[command.timer_id] = command.seconds
            self.started_timers.append(command.timer_id)
        elif isinstance(command, CancelTimer):
            if command.timer_id not in self.timers:
                raise ContractError(f"{command} of no outstanding timer")
            del self.timers[command.timer_id]
            self.cancelled_timers.append(command.timer_id)

    def _is_menu(self) -> bool:
        return hasattr(self.session, "position")

    def _session_done(self) -> bool:
        if self._is_menu():
            return str(getattr(self.session, "phase", "")) == "finished"
        return bool(getattr(self.session, "finished", False))

    def act(self, action: str) -> list[Command]:
        """One scripted step: ``play``, ``timer``, ``hangup`` or keys to press."""
        if action == "play":
            return self.finish_playback()
        if action == "timer":
            return self.fire_timer()
        if action == "hangup":
            return self.hang_up()
        return self.press(action)

    def of(self, kind: type[Any]) -> list[Any]:
        """Every command of one type executed so far."""
        return [c for c in self.log if isinstance(c, kind)]


def normalise(commands: list[Command]) -> list[Any]:
    """Commands with playback and timer ids renamed by order of first appearance.

    Two sessions that behave alike but allocated different ids compare equal.
    """
    names: dict[str, str] = {}

    def rename(value: str) -> str:
        return names.setdefault(value, f"id{len(names)}")

    out: list[Any] = []
    for command in commands:
        if isinstance(command, Play | StopPlayback):
            out.append(replace(command, playback_id=rename(command.playback_id)))
        elif isinstance(command, StartTimer | CancelTimer):
            out.append(replace(command, timer_id=rename(command.timer_id)))
        else:
            out.append(command)
    return out
