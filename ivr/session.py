"""The IVR interpreter's public face: one caller in the menus, as a sans-IO state machine.

``IvrSession`` drives a ``MenuWalker`` (``ivr.walk``, where the theory of
operation and the state table live): ``start`` enters the menu, ``handle``
applies one event, both return commands. The whole state is a JSON-safe
``snapshot()``; ``restore()`` rebuilds a session from it against the current
menus, and ``resume()`` re-issues the prompt or timer the node was waiting on,
so a call survives an engine restart in the middle of a menu.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from ivr.calendar import Calendar
from ivr.errors import IllegalTransition, SnapshotError, UnknownMenu
from ivr.ids import LanguageCode, MenuId, NodeId, PlaybackId, TimerId
from ivr.media import Media
from ivr.protocol import (
    CallerHangup,
    Command,
    Digit,
    Event,
    Outcome,
    PathStep,
    PlaybackFinished,
    StepResult,
    Timeout,
)
from ivr.spec import (
    CollectNode,
    MenuNode,
    MenuSet,
    PlayNode,
)
from ivr.walk import Action, Collecting, IvrState, MenuWalker

SNAPSHOT_VERSION = 1


class IvrPhase(StrEnum):
    """What the API shows of a session's state."""

    NOT_STARTED = "not_started"
    IN_MENU = "in_menu"
    FINISHED = "finished"


class IvrSession(MenuWalker):
    """One caller in the menus: ``start``, then ``handle`` each event.

    Both return the commands to execute, in order. ``handle`` before ``start``
    or ``start`` twice raises ``IllegalTransition``; a time condition with a
    naive ``now`` raises ``CalendarError``. Nothing else raises.
    """

    def __init__(
        self,
        menus: MenuSet,
        calendar: Calendar,
        *,
        menu: str,
        session_id: str,
        language: LanguageCode | None = None,
    ) -> None:
        if menu not in menus.menus:
            raise UnknownMenu(menu)
        super().__init__(
            menus, calendar, menu=MenuId(menu), session_id=session_id, language=language
        )

    def __repr__(self) -> str:
        return (
            f"<IvrSession {self._session_id} {self._state.value}"
            f" at {self._menu_id}.{self._node_id}>"
        )

    # ------------------------------------------------------------ public view

    @property
    def session_id(self) -> str:
        """The id given at creation; playback and timer ids start with it."""
        return self._session_id

    @property
    def phase(self) -> IvrPhase:
        """Not started, in the menu, or finished."""
        if self._state is IvrState.IDLE:
            return IvrPhase.NOT_STARTED
        if self._state is IvrState.FINISHED:
            return IvrPhase.FINISHED
        return IvrPhase.IN_MENU

    @property
    def position(self) -> tuple[MenuId, NodeId]:
        """The menu and node the caller is at (or ended at)."""
        return self._menu_id, self._node_id

    @property
    def language(self) -> LanguageCode:
        """The prompt set in use."""
        return self._language

    @property
    def path(self) -> tuple[PathStep, ...]:
        """The steps walked so far."""
        return tuple(self._path)

    @property
    def outcome(self) -> Outcome | None:
        """How the session ended, or None while it runs."""
        return self._outcome

    @property
    def playback_id(self) -> PlaybackId | None:
        """The playback the session waits for, if any."""
        return self._media.playback

    @property
    def timer_id(self) -> TimerId | None:
        """The timer the session waits for, if any."""
        return self._media.timer

    # ------------------------------------------------------------ driving

    def start(self, now: dt.datetime) -> list[Command]:
        """Enter the menu's entry node."""
        if self._state is not IvrState.IDLE:
            raise IllegalTransition("ivr", self._state.value, "start")
        out: list[Command] = []
        self._enter(self._menu_id, self._node_id, now, out)
        return out

    def handle(self, event: Event, now: dt.datetime) -> list[Command]:
        """Apply one event; stale ids and events after the end give ``[]``."""
        if self._state is IvrState.IDLE:
            raise IllegalTransition("ivr", self._state.value, "handle")
        if self._state is IvrState.FINISHED:
            return []
        out: list[Command] = []
        if isinstance(event, PlaybackFinished):
            if self._media.finished(event.playback_id):
                self._on_playback_end(now, out)
        elif isinstance(event, Timeout):
            if self._media.fired(event.timer_id):
                self._on_timeout(now, out)
        elif isinstance(event, Digit):
            self._on_digit(event.digit, now, out)
        elif isinstance(event, CallerHangup):
            out += self._media.quiesce()
            self._record(StepResult.CALLER_HANGUP, now)
            self._finish(Outcome.CALLER_HANGUP, now, out)
        return out

    def resume(self, now: dt.datetime) -> list[Command]:
        """Re-issue what the current node needs after a restore.

        A prompt that was playing is stopped and played again from the start
        with a new playback id; a running timer is cancelled and started again
        in full with a new timer id. Keys already collected and attempts used
        are kept. Not started: same as ``start``; finished: ``[]``.
        """
        if self._state is IvrState.IDLE:
            return self.start(now)
        if self._state is IvrState.FINISHED:
            return []
        return self._reissue()

    # ------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-safe data (``restore`` takes it back)."""
        return {
            "kind": "ivr",
            "version": SNAPSHOT_VERSION,
            "session_id": self._session_id,
            "state": self._state.value,
            "menu": self._menu_id,
            "node": self._node_id,
            "language": self._language,
            "attempts": self._attempts,
            "keys": self._keys,
            "tags": list(self._tags),
            "vars": dict(self._vars),
            "path": [step.as_dict() for step in self._path],
            "outcome": None if self._outcome is None else self._outcome.value,
            "media": self._media.snapshot(),
        }

    @classmethod
    def restore(cls, menus: MenuSet, calendar: Calendar, snapshot: dict[str, Any]) -> IvrSession:
        """A session in the state ``snapshot`` recorded, against ``menus``.

        Raises ``SnapshotError`` if the snapshot is malformed or its menu, node
        or state no longer fits ``menus`` (the configuration changed under it).
        Call ``resume(now)`` next to re-issue prompts and timers.
        """
        if snapshot.get("kind") != "ivr" or snapshot.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError("not an ivr snapshot of version 1")
        try:
            menu_id = str(snapshot["menu"])
            if menu_id not in menus.menus:
                raise SnapshotError(f"menu {menu_id!r} no longer exists")
            session = cls(
                menus,
                calendar,
                menu=menu_id,
                session_id=str(snapshot["session_id"]),
                language=LanguageCode(str(snapshot["language"])),
            )
            node_id = str(snapshot["node"])
            if node_id not in menus.menus[menu_id].nodes:
                raise SnapshotError(f"node {node_id!r} of menu {menu_id!r} no longer exists")
            session._node_id = NodeId(node_id)
            session._state = IvrState(snapshot["state"])
            session._attempts = int(snapshot["attempts"])
            session._keys = str(snapshot["keys"])
            session._tags = [str(t) for t in snapshot["tags"]]
            session._vars = {str(k): str(v) for k, v in dict(snapshot["vars"]).items()}
            session._path = [PathStep.from_dict(step) for step in snapshot["path"]]
            outcome = snapshot["outcome"]
            session._outcome = None if outcome is None else Outcome(outcome)
            session._media = Media.restore(session._session_id, dict(snapshot["media"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"malformed field: {exc}") from exc
        session._check_restored()
        return session

    def _check_restored(self) -> None:
        node = self._node()
        state = self._state
        fits = {
            IvrState.IDLE: True,
            IvrState.PLAYING: isinstance(node, PlayNode | Action),
            IvrState.PROMPTING: isinstance(node, Collecting),
            IvrState.WAITING: isinstance(node, Collecting),
            IvrState.COLLECTING: isinstance(node, MenuNode | CollectNode),
            IvrState.FINISHED: self._outcome is not None,
        }[state]
        if not fits:
            raise SnapshotError(f"state {state.value} does not fit node {self._node_id!r}")
