"""How a caller walks a menu set: node semantics and the state table of ``IvrSession``.

Theory of operation. A session stands on one node of one menu. Entering a node
either ends the walk step there (the node plays something or waits for keys)
or passes straight through it (``set``, ``time_condition``, ``goto``) to the
next node in the same step. The session then sits in one of four waiting
states until an event arrives:

- ``PLAYING``: a ``play`` node, or the prompts before an action (queue,
  voicemail, transfer, hang-up). ``PlaybackFinished`` moves on; a key skips an
  interruptible ``play`` node.
- ``PROMPTING``: the prompt of a collecting node (``menu``, ``collect``,
  ``language``). A key barges in if the node is interruptible; the end of the
  prompt starts the first-key timer.
- ``WAITING``: the first-key timer runs; its ``Timeout`` is a no-input retry.
- ``COLLECTING``: keys have come; the inter-key timer runs, and its
  ``Timeout``, the terminator ``#`` or ``max_digits`` ends the entry.

A finished entry is a choice (go on), or an invalid entry or no input (retry
with the node's own prompt until ``max_attempts``, then ``fallback``). The key
``0`` pressed first at a ``menu`` node goes to the menu's operator node. An
action node ends the session: its command (``EnterQueue``, ``RecordVoicemail``,
``TransferToNumber``, ``Hangup``) is followed by ``Finished``, as is a caller
hang-up in any state.

The session never reads a clock: timers are ``StartTimer``/``CancelTimer``
commands the shell runs, and ``now`` only stamps the path and feeds time
conditions. Events carrying a playback or timer id that is no longer
outstanding are ignored, as are events after the session finished. The whole
state is a JSON-safe ``snapshot()``; ``restore()`` and ``resume()`` continue a
call after an engine restart.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from ivr.calendar import Calendar
from ivr.errors import MenuLoopError
from ivr.ids import LanguageCode, MenuId, NodeId, PromptId
from ivr.machine import apply_transition
from ivr.media import Media
from ivr.protocol import (
    Command,
    EnterQueue,
    Finished,
    Hangup,
    Outcome,
    PathStep,
    RecordVoicemail,
    SetLanguage,
    SetTag,
    SetVar,
    StepResult,
    TransferToNumber,
)
from ivr.spec import (
    CollectNode,
    GotoNode,
    HangupNode,
    LanguageNode,
    MenuNode,
    MenuSet,
    Node,
    PlayNode,
    QueueNode,
    SetNode,
    TimeConditionNode,
    TransferNode,
    VoicemailNode,
)

MAX_PASS_STEPS = 256
"""Nodes one walk step may pass through; validation makes loops impossible."""


class IvrState(StrEnum):
    """Internal states of a menu session."""

    IDLE = "idle"
    PLAYING = "playing"
    PROMPTING = "prompting"
    WAITING = "waiting"
    COLLECTING = "collecting"
    FINISHED = "finished"


_S = IvrState
TRANSITIONS: dict[IvrState, frozenset[IvrState]] = {
    _S.IDLE: frozenset({_S.PLAYING, _S.PROMPTING, _S.FINISHED}),
    _S.PLAYING: frozenset({_S.PLAYING, _S.PROMPTING, _S.FINISHED}),
    _S.PROMPTING: frozenset({_S.PLAYING, _S.PROMPTING, _S.WAITING, _S.COLLECTING, _S.FINISHED}),
    _S.WAITING: frozenset({_S.PLAYING, _S.PROMPTING, _S.COLLECTING, _S.FINISHED}),
    _S.COLLECTING: frozenset({_S.PLAYING, _S.PROMPTING, _S.COLLECTING, _S.FINISHED}),
    _S.FINISHED: frozenset(),
}
"""Allowed state changes. Nothing returns to IDLE and nothing leaves FINISHED;
WAITING is reached only when a collecting prompt ends."""


Collecting = MenuNode | CollectNode | LanguageNode
Action = QueueNode | VoicemailNode | TransferNode | HangupNode
_WAITING_FOR_KEYS = frozenset({_S.PROMPTING, _S.WAITING, _S.COLLECTING})


def _action_prompts(node: Action) -> tuple[PromptId, ...]:
    if isinstance(node, VoicemailNode) and node.beep_prompt is not None:
        return (*node.prompts, node.beep_prompt)
    return node.prompts


class MenuWalker:
    """The state of one walk and what each node does with each event.

    ``IvrSession`` adds the public lifecycle (start, handle, resume) and
    persistence on top; this class never checks whether it was started.
    """

    def __init__(
        self,
        menus: MenuSet,
        calendar: Calendar,
        *,
        menu: MenuId,
        session_id: str,
        language: LanguageCode | None,
    ) -> None:
        self._menus = menus
        self._calendar = calendar
        self._session_id = session_id
        self._state = IvrState.IDLE
        self._menu_id = menu
        self._node_id = menus.menus[menu].entry
        self._language = language if language is not None else menus.default_language
        self._attempts = 0
        self._keys = ""
        self._tags: list[str] = []
        self._vars: dict[str, str] = {}
        self._path: list[PathStep] = []
        self._outcome: Outcome | None = None
        self._media = Media(session_id)

    def _reissue(self) -> list[Command]:
        """Stop or cancel what is outstanding and ask for it again (``resume``)."""
        out = self._media.quiesce()
        node = self._node()
        if self._state is IvrState.PLAYING:
            if isinstance(node, PlayNode):
                out.append(self._play(node.prompts, interruptible=node.interruptible))
            elif isinstance(node, Action):
                out.append(self._play(_action_prompts(node), interruptible=False))
        elif isinstance(node, Collecting):
            if self._state is IvrState.PROMPTING:
                out.append(self._play(node.prompts, interruptible=self._barge_in(node)))
            elif self._state is IvrState.WAITING:
                out.append(self._media.start_timer(self._first_timeout(node)))
            elif isinstance(node, MenuNode | CollectNode):
                out.append(self._media.start_timer(node.inter_digit_timeout))
        return out

    def _to(self, target: IvrState) -> None:
        self._state = apply_transition("ivr", TRANSITIONS, self._state, target)

    def _node(self) -> Node:
        return self._menus.menus[self._menu_id].nodes[self._node_id]

    def _record(self, result: StepResult, now: dt.datetime, keys: str = "") -> None:
        self._path.append(PathStep(self._menu_id, self._node_id, result, now, keys))

    def _play(self, prompts: tuple[PromptId, ...], *, interruptible: bool) -> Command:
        return self._media.play(prompts, self._language, interruptible=interruptible)

    @staticmethod
    def _barge_in(node: Collecting) -> bool:
        return True if isinstance(node, LanguageNode) else node.interruptible

    @staticmethod
    def _first_timeout(node: Collecting) -> float:
        return node.timeout if isinstance(node, LanguageNode) else node.first_digit_timeout

    def _enter(
        self, menu_id: MenuId, node_id: NodeId, now: dt.datetime, out: list[Command]
    ) -> None:
        """Walk from ``node_id`` through pass-through nodes to one that waits or ends."""
        for _ in range(MAX_PASS_STEPS):
            self._menu_id, self._node_id = menu_id, node_id
            node = self._node()
            if isinstance(node, SetNode):
                for tag in node.tags:
                    if tag not in self._tags:
                        self._tags.append(tag)
                        out.append(SetTag(tag))
                for name, value in node.vars.items():
                    self._vars[name] = value
                    out.append(SetVar(name, value))
                self._record(StepResult.SET, now)
                node_id = node.next
            elif isinstance(node, TimeConditionNode):
                result, node_id = self._time_branch(node, now)
                self._record(result, now)
            elif isinstance(node, GotoNode):
                self._record(StepResult.GOTO, now)
                menu_id = MenuId(node.menu)
                node_id = node.node if node.node is not None else self._menus.menus[menu_id].entry
            elif isinstance(node, PlayNode):
                out.append(self._play(node.prompts, interruptible=node.interruptible))
                self._to(IvrState.PLAYING)
                return
            elif isinstance(node, Collecting):
                self._attempts = 0
                self._keys = ""
                out.append(self._play(node.prompts, interruptible=self._barge_in(node)))
                self._to(IvrState.PROMPTING)
                return
            else:
                prompts = _action_prompts(node)
                if prompts:
                    out.append(self._play(prompts, interruptible=False))
                    self._to(IvrState.PLAYING)
                else:
                    self._act(node, now, out)
                return
        raise MenuLoopError(menu_id, node_id, MAX_PASS_STEPS)

    def _time_branch(self, node: TimeConditionNode, now: dt.datetime) -> tuple[StepResult, NodeId]:
        day = self._calendar.local(now).date()
        if node.holiday is not None and self._calendar.is_holiday(day):
            return StepResult.HOLIDAY, node.holiday
        if self._calendar.is_open(now, node.hours):
            return StepResult.OPEN, node.open
        return StepResult.CLOSED, node.closed

    def _act(self, node: Action, now: dt.datetime, out: list[Command]) -> None:
        tags = tuple(self._tags)
        if isinstance(node, QueueNode):
            self._record(StepResult.QUEUE, now)
            tags = tuple(dict.fromkeys((*tags, *node.tags)))
            out.append(
                EnterQueue(
                    node.queue,
                    dict(node.skills),
                    node.priority,
                    tags,
                    tuple(self._path),
                    self._language,
                )
            )
            outcome = Outcome.QUEUED
        elif isinstance(node, VoicemailNode):
            self._record(StepResult.VOICEMAIL, now)
            tags = tuple(dict.fromkeys((*tags, *node.tags)))
            out.append(
                RecordVoicemail(
                    node.queue, node.max_seconds, node.max_silence_seconds, tags, tuple(self._path)
                )
            )
            outcome = Outcome.VOICEMAIL
        elif isinstance(node, TransferNode):
            self._record(StepResult.TRANSFER, now)
            out.append(TransferToNumber(node.number, tags, tuple(self._path)))
            outcome = Outcome.TRANSFERRED
        else:
            self._record(StepResult.HANGUP, now)
            out.append(Hangup(node.reason))
            outcome = Outcome.HUNG_UP
        self._tags = list(tags)
        self._finish(outcome, now, out)

    def _finish(self, outcome: Outcome, now: dt.datetime, out: list[Command]) -> None:
        out += self._media.quiesce()
        self._outcome = outcome
        self._to(IvrState.FINISHED)
        out.append(
            Finished(
                outcome, tuple(self._path), tuple(self._tags), dict(self._vars), self._language, now
            )
        )

    def _on_playback_end(self, now: dt.datetime, out: list[Command]) -> None:
        node = self._node()
        if self._state is IvrState.PLAYING:
            if isinstance(node, PlayNode):
                self._record(StepResult.PLAYED, now)
                self._enter(self._menu_id, node.next, now, out)
            elif isinstance(node, Action):
                self._act(node, now, out)
        elif self._state is IvrState.PROMPTING and isinstance(node, Collecting):
            out.append(self._media.start_timer(self._first_timeout(node)))
            self._to(IvrState.WAITING)

    def _on_timeout(self, now: dt.datetime, out: list[Command]) -> None:
        node = self._node()
        if isinstance(node, LanguageNode):
            self._record(StepResult.TIMEOUT, now)
            self._enter(self._menu_id, node.continue_at(self._language), now, out)
        elif isinstance(node, MenuNode | CollectNode):
            if self._state is IvrState.WAITING:
                self._retry(node, StepResult.TIMEOUT, "", now, out)
            else:
                self._complete(node, now, out)

    def _on_digit(self, digit: str, now: dt.datetime, out: list[Command]) -> None:
        node = self._node()
        if self._state is IvrState.PLAYING:
            if isinstance(node, PlayNode) and node.interruptible:
                out += self._media.quiesce()
                self._record(StepResult.SKIPPED, now, digit)
                self._enter(self._menu_id, node.next, now, out)
            return
        if self._state not in _WAITING_FOR_KEYS or not isinstance(node, Collecting):
            return
        if self._state is IvrState.PROMPTING and not self._barge_in(node):
            return
        out += self._media.quiesce()
        if isinstance(node, LanguageNode):
            chosen = node.choices.get(digit)
            if chosen is None:
                self._record(StepResult.INVALID, now, digit)
            else:
                self._language = chosen
                out.append(SetLanguage(chosen))
                self._record(StepResult.LANGUAGE, now, digit)
            self._enter(self._menu_id, node.continue_at(self._language), now, out)
            return
        if node.terminator is not None and digit == node.terminator:
            self._complete(node, now, out)
            return
        operator = self._menus.menus[self._menu_id].operator
        if (
            isinstance(node, MenuNode)
            and digit == "0"
            and not self._keys
            and node.allow_operator
            and operator is not None
        ):
            self._record(StepResult.OPERATOR, now, digit)
            self._enter(self._menu_id, operator, now, out)
            return
        self._keys += digit
        if len(self._keys) >= node.max_digits or (
            isinstance(node, MenuNode)
            and not any(k != self._keys and k.startswith(self._keys) for k in node.choices)
        ):
            self._complete(node, now, out)
            return
        out.append(self._media.start_timer(node.inter_digit_timeout))
        self._to(IvrState.COLLECTING)

    def _complete(self, node: MenuNode | CollectNode, now: dt.datetime, out: list[Command]) -> None:
        keys, self._keys = self._keys, ""
        if isinstance(node, MenuNode):
            target = node.choices.get(keys)
            if target is None:
                self._retry(node, StepResult.INVALID, keys, now, out)
                return
            self._record(StepResult.CHOSEN, now, keys)
            self._enter(self._menu_id, target, now, out)
            return
        if len(keys) < node.min_digits:
            self._retry(node, StepResult.INVALID, "", now, out)
            return
        self._vars[node.variable] = keys
        out.append(SetVar(node.variable, keys))
        self._record(StepResult.COLLECTED, now)
        self._enter(self._menu_id, node.next, now, out)

    def _retry(
        self,
        node: MenuNode | CollectNode,
        result: StepResult,
        keys: str,
        now: dt.datetime,
        out: list[Command],
    ) -> None:
        self._attempts += 1
        self._record(result, now, keys)
        if self._attempts >= node.max_attempts:
            self._record(StepResult.EXHAUSTED, now)
            self._enter(self._menu_id, node.fallback, now, out)
            return
        before = node.timeout_prompts if result is StepResult.TIMEOUT else node.invalid_prompts
        out.append(self._play((*before, *node.prompts), interruptible=node.interruptible))
        self._to(IvrState.PROMPTING)
