"""Snapshot and restore: a call survives an engine restart at any node of the shipped menus.

Each script walks one of the example menus. For every prefix of it, a second
session is restored from a JSON round-trip of the first one's snapshot,
resumed, and driven by the rest of the script: its commands must be those of
the uninterrupted session, up to the renaming of playback and timer ids.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ivr import (
    Calendar,
    CancelTimer,
    IvrSession,
    MenuSet,
    Play,
    SnapshotError,
    StartTimer,
    StopPlayback,
)
from ivr.nodes import PASS_THROUGH, HangupNode, QueueNode, TransferNode, VoicemailNode
from ivr.walk import IvrState
from tests.ivr_support import ROOT, Shell, at, load_yaml, normalise

pytestmark = pytest.mark.flows

WEDNESDAY = at(2026, 3, 11, 10, 0)
SATURDAY = at(2026, 3, 14, 10, 0)
NATIONAL_DAY = at(2026, 10, 2, 10, 0)

DEPLOYMENTS = {
    "nantong": ROOT / "config",
    "liyang": ROOT / "examples" / "liyang",
}

SCRIPTS: dict[str, list[tuple[dt.datetime, list[str]]]] = {
    "nantong": [
        (NATIONAL_DAY, ["1", "play", "play", "7", "play", "timer", "0", "play"]),
        (WEDNESDAY, ["2"]),
        (WEDNESDAY, ["play", "timer", "play", "2"]),
        (SATURDAY, ["1", "3", "play"]),
        (SATURDAY, ["1", "4", "play"]),
        (SATURDAY, ["1", "2", "play"]),
        (WEDNESDAY, ["1", "9", "play"]),
        (WEDNESDAY, ["1", "play", "timer", "play", "timer", "play", "timer"]),
        (WEDNESDAY, ["1", "1"]),
        (WEDNESDAY, ["1", "play", "hangup"]),
    ],
    "liyang": [
        (WEDNESDAY, ["2", "6", "play", "1", "2", "3", "4", "5", "6", "7", "#"]),
        (WEDNESDAY, ["1", "6", "12#", "play", "timer"]),
        (WEDNESDAY, ["1", "6", "play", "123456", "timer"]),
        (WEDNESDAY, ["1", "5", "play"]),
        (WEDNESDAY, ["1", "3"]),
        (WEDNESDAY, ["1", "9", "play"]),
        (WEDNESDAY, ["1", "0", "play"]),
    ],
}


def load(deployment: str) -> tuple[MenuSet, Calendar]:
    folder = DEPLOYMENTS[deployment]
    menus = MenuSet.model_validate(load_yaml(folder / "menus.yaml"))
    calendar = Calendar.model_validate(load_yaml(folder / "calendar.yaml"))
    return menus, calendar


def resting_nodes(menus: MenuSet) -> set[tuple[str, str]]:
    """Nodes where a session can wait for an event (so can be snapshotted mid-call)."""
    found: set[tuple[str, str]] = set()
    for menu_id, menu in menus.menus.items():
        for node_id, node in menu.nodes.items():
            if isinstance(node, PASS_THROUGH):
                continue
            action = QueueNode | VoicemailNode | TransferNode | HangupNode
            beeps = isinstance(node, VoicemailNode) and node.beep_prompt is not None
            if isinstance(node, action) and not node.prompts and not beeps:
                continue
            found.add((menu_id, node_id))
    return found


def run(
    menus: MenuSet, calendar: Calendar, now: dt.datetime, script: list[str], cut: int
) -> tuple[Shell, list[object], dict[str, object]]:
    """Drive a session through ``script``; return the commands after step ``cut``
    and the snapshot taken there."""
    shell = Shell(IvrSession(menus, calendar, menu="main", session_id="call-1"), now)
    shell.start()
    for action in script[:cut]:
        shell.act(action)
    assert isinstance(shell.session, IvrSession)
    snapshot = shell.session.snapshot()
    mark = len(shell.log)
    for action in script[cut:]:
        shell.act(action)
    assert shell.ended, f"script {script} did not end the session"
    return shell, shell.log[mark:], snapshot


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_restore_at_every_step_gives_the_same_commands_as_an_uninterrupted_call(
    deployment: str,
) -> None:
    menus, calendar = load(deployment)
    snapshotted: set[tuple[str, str]] = set()
    for now, script in SCRIPTS[deployment]:
        for cut in range(len(script) + 1):
            _, expected, snapshot = run(menus, calendar, now, script, cut)
            wire = json.loads(json.dumps(snapshot))
            restored = IvrSession.restore(menus, calendar, wire)
            assert restored.snapshot() == snapshot
            if restored.phase.value == "in_menu":
                snapshotted.add(restored.position)
            shell = Shell(restored, now)
            shell.adopt(restored.playback_id, restored.timer_id)
            reissued = shell.resume()
            check_resume(snapshot, reissued)
            mark = len(shell.log)
            for action in script[cut:]:
                shell.act(action)
            assert normalise(shell.log[mark:]) == normalise(expected), (script, cut)
            assert shell.ended
    assert snapshotted == resting_nodes(menus)


def check_resume(snapshot: dict[str, object], reissued: list[object]) -> None:
    """``resume`` stops and replays what played, restarts what ran, nothing else."""
    media = snapshot["media"]
    assert isinstance(media, dict)
    state = IvrState(snapshot["state"])
    if state in (IvrState.PLAYING, IvrState.PROMPTING):
        assert reissued[0] == StopPlayback(media["playback"])
        assert isinstance(reissued[1], Play) and len(reissued) == 2
    elif state in (IvrState.WAITING, IvrState.COLLECTING):
        assert reissued[0] == CancelTimer(media["timer"])
        assert isinstance(reissued[1], StartTimer) and len(reissued) == 2
    elif state is IvrState.FINISHED:
        assert reissued == []


def test_resume_keeps_keys_and_attempts_and_never_reuses_an_id() -> None:
    menus, calendar = load("liyang")
    shell = Shell(IvrSession(menus, calendar, menu="main", session_id="c"), WEDNESDAY)
    shell.start()
    shell.act("1")
    shell.act("6")
    shell.act("12#")  # one invalid attempt used
    shell.act("play")
    shell.act("1234")  # keys collected, inter-digit timer running
    assert isinstance(shell.session, IvrSession)
    snapshot = json.loads(json.dumps(shell.session.snapshot()))
    assert snapshot["state"] == "collecting" and snapshot["keys"] == "1234"
    restored = IvrSession.restore(menus, calendar, snapshot)
    again = Shell(restored, WEDNESDAY)
    again.adopt(restored.playback_id, restored.timer_id)
    out = again.resume()
    fresh = f"c-t{snapshot['media']['seq'] + 1}"
    assert out == [CancelTimer(snapshot["media"]["timer"]), StartTimer(fresh, 4.0)]
    assert fresh not in shell.started_timers
    out = again.act("56#")
    assert any(getattr(c, "value", None) == "123456" for c in out)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("menu", "gone"),
        ("node", "gone"),
        ("state", "dancing"),
        ("kind", "survey"),
        ("version", 2),
        ("attempts", "many"),
    ],
)
def test_restore_refuses_a_snapshot_that_does_not_fit(field: str, value: object) -> None:
    menus, calendar = load("nantong")
    session = IvrSession(menus, calendar, menu="main", session_id="c")
    session.start(WEDNESDAY)
    snapshot = session.snapshot()
    snapshot[field] = value
    with pytest.raises(SnapshotError):
        IvrSession.restore(menus, calendar, snapshot)


def test_restore_refuses_a_state_the_node_cannot_be_in() -> None:
    menus, calendar = load("nantong")
    session = IvrSession(menus, calendar, menu="main", session_id="c")
    session.start(WEDNESDAY)
    snapshot = session.snapshot()
    snapshot["node"] = "to_general"  # a queue node without prompts never prompts
    with pytest.raises(SnapshotError):
        IvrSession.restore(menus, calendar, snapshot)
