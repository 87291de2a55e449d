"""The ACD's state tables.

Theory of operation
-------------------
Three small machines, each a ``StrEnum`` and a table of allowed moves,
applied by one method each (``Agent.set_status``, ``Agent.move``,
``Caller.move`` in :mod:`acd.records`).  A move not in its table raises
:class:`~acd.errors.IllegalTransition`: the engine never patches state
around a surprise.

**Agent status** is what the agent chose (``logged_out``, ``ready``,
``paused``).  **Agent activity** is the agent's part in the ACD's own calls::

    idle --offer--> offered --answer--> connecting --bridged--> talking
      ^               |                    |                      |
      +----failed-----+                    |                      v
      +-----------------winner lost--------+        wrapup <--call ended
      +------------------------------------------------+ (or straight to idle)

**Caller phase** is where a call stands in the ACD::

    waiting <--> offered <--> connecting --> connected --(transfer)--> waiting
       \\            \\            \\              \\
        +-----------+------------+--------------+--> ended (with a reason)

``offered`` means at least one agent leg is ringing; ``connecting`` means an
agent answered and the shell is bridging, while other ring-all legs may still
ring (the winner is the first to answer; the others are cancelled once the
winner is connected; if the winner's leg dies first, the others ring on).

The public :class:`~acd.model.AgentState` is computed from the activity and
the seat's facts by :func:`public_state`; it is never stored on its own.
"""

from __future__ import annotations

from enum import StrEnum

from acd.model import AgentState, AgentStatus, DeviceState


class Activity(StrEnum):
    """An agent's part in the ACD's calls (internal; see :func:`public_state`)."""

    IDLE = "idle"
    OFFERED = "offered"
    CONNECTING = "connecting"
    TALKING = "talking"
    WRAPUP = "wrapup"


class Phase(StrEnum):
    """Where a call stands in the ACD."""

    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ENDED = "ended"


_A = Activity
ACTIVITY_MOVES: dict[Activity, frozenset[Activity]] = {
    _A.IDLE: frozenset({_A.OFFERED}),
    _A.OFFERED: frozenset({_A.IDLE, _A.CONNECTING}),
    _A.CONNECTING: frozenset({_A.IDLE, _A.TALKING}),
    _A.TALKING: frozenset({_A.WRAPUP, _A.IDLE}),
    _A.WRAPUP: frozenset({_A.IDLE}),
}

_S = AgentStatus
STATUS_MOVES: dict[AgentStatus, frozenset[AgentStatus]] = {
    _S.LOGGED_OUT: frozenset({_S.READY}),
    _S.READY: frozenset({_S.PAUSED, _S.LOGGED_OUT}),
    _S.PAUSED: frozenset({_S.READY, _S.PAUSED, _S.LOGGED_OUT}),
}

_P = Phase
PHASE_MOVES: dict[Phase, frozenset[Phase]] = {
    _P.WAITING: frozenset({_P.OFFERED, _P.ENDED}),
    _P.OFFERED: frozenset({_P.WAITING, _P.CONNECTING, _P.ENDED}),
    _P.CONNECTING: frozenset({_P.OFFERED, _P.WAITING, _P.CONNECTED, _P.ENDED}),
    _P.CONNECTED: frozenset({_P.WAITING, _P.ENDED}),
    _P.ENDED: frozenset(),
}

#: Activities in which the agent holds a call of the ACD (ringing counts).
HOLDING = frozenset({_A.OFFERED, _A.CONNECTING, _A.TALKING})
#: Activities counted as handling time for occupancy and handle time.
HANDLING = frozenset({_A.CONNECTING, _A.TALKING, _A.WRAPUP})

OFFERABLE_DEVICES = frozenset({DeviceState.NOT_IN_USE, DeviceState.UNKNOWN})


def public_state(
    status: AgentStatus, activity: Activity, reachable: bool, device: DeviceState
) -> AgentState:
    """The state the wallboard shows, by the precedence in :class:`AgentState`."""
    if activity is Activity.OFFERED:
        return AgentState.RINGING
    if activity is Activity.CONNECTING or activity is Activity.TALKING:
        return AgentState.ON_CALL
    if activity is Activity.WRAPUP:
        return AgentState.WRAPUP
    if status is AgentStatus.LOGGED_OUT:
        return AgentState.OFFLINE
    if not reachable or device is DeviceState.UNAVAILABLE:
        return AgentState.UNREACHABLE
    if device is DeviceState.IN_USE:
        return AgentState.BUSY_OUTSIDE
    return AgentState.IDLE
