"""What a call flow hands its decisions to: commands for the shell, events for the ACD.

The :class:`~switchboard.board.Switchboard` implements it.  ``acd`` runs the
ACD at once (re-entrantly, exactly as the decision would be taken inline)
and returns to the flow after every command of the ACD's answer has been
routed, so a flow sees the effect of its ACD event before its next line.
"""

from __future__ import annotations

from typing import Protocol

import acd
from switchboard.commands import Command


class Outbox(Protocol):
    """Where a flow puts its decisions."""

    def emit(self, command: Command) -> None:
        """Append a command for the shell, in execution order."""
        ...

    def acd(self, event: acd.Event) -> None:
        """Tell the ACD; its commands for this or other calls are routed before returning."""
        ...
