"""How many outbound calls may start now: inbound calls always come first.

Outbound work (callbacks and return visits) is offered only to agents who
would otherwise be idle: an agent is left for it only when no inbound caller
is waiting for one.  The automatic dialler slows down when callers queue:
from ``slow_down_waiting`` waiting callers on, it starts nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbacks.policy import VisitPolicy


@dataclass(frozen=True, slots=True)
class Load:
    idle_agents: int
    """Agents ready and not ringing, talking or in wrap-up."""
    inbound_waiting: int
    """Callers waiting in the queues (not yet offered to an agent)."""
    outbound_active: int
    """Outbound lines in use now (callbacks and return visits)."""
    trunk_free: int | None = None
    """Channels the carrier trunk can still take, when known."""


def agent_slots(load: Load, policy: VisitPolicy) -> int:
    """Callbacks or agent-made return visits that may be offered to agents now."""
    if load.inbound_waiting > 0:
        return 0
    return max(0, min(load.idle_agents, _line_room(load, policy)))


def dialler_slots(load: Load, policy: VisitPolicy) -> int:
    """Automatic return-visit calls the dialler may start now."""
    if load.inbound_waiting >= max(1, policy.slow_down_waiting):
        return 0
    room = _line_room(load, policy)
    if load.inbound_waiting > 0:
        room = min(room, 1)  # slow down: one at a time while callers queue
    return max(0, room)


def _line_room(load: Load, policy: VisitPolicy) -> int:
    room = policy.max_lines - load.outbound_active
    if load.trunk_free is not None:
        room = min(room, load.trunk_free)
    return max(0, room)
