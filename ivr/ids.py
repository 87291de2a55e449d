"""Identifier types of the IVR package.

Every id is a plain ``str`` at run time; the ``NewType`` wrappers keep a menu id
from being passed where a queue id is expected.
"""

from __future__ import annotations

from typing import NewType

MenuId = NewType("MenuId", str)
"""A menu in ``menus.yaml`` (a graph of nodes with one entry node)."""

NodeId = NewType("NodeId", str)
"""A node inside one menu."""

PromptId = NewType("PromptId", str)
"""A prompt defined in ``prompts.yaml``; the shell maps (prompt, language) to a sound."""

QueueId = NewType("QueueId", str)
"""A queue defined in ``queues.yaml``."""

LanguageCode = NewType("LanguageCode", str)
"""A prompt set, e.g. ``zh`` (普通话) or the deployment's second language."""

PlaybackId = NewType("PlaybackId", str)
"""A playback the interpreter asked for; echoed back in ``PlaybackFinished``."""

TimerId = NewType("TimerId", str)
"""A timer the interpreter asked for; echoed back in ``Timeout``."""
