"""The parties of a simulated day: callers' and agents' scripts, and the softswitch's channels."""

from __future__ import annotations

from dataclasses import dataclass, field

import acd
from switchboard.ids import BridgeId, CallId, ChannelId


@dataclass(frozen=True, slots=True)
class CallerScript:
    """How a simulated caller behaves."""

    dialled: str
    number: str = "13800000000"
    redirecting: str | None = ""
    patience_s: float | None = None  # hangs up when not answered by then
    keys: tuple[tuple[float, str], ...] = ()  # (seconds after arrival, key)
    rating_key: str | None = None  # pressed when the agent has left
    hangs_up_first: bool = False  # ends the conversation itself after the talk time
    talk_s: float = 60.0


@dataclass(frozen=True, slots=True)
class AgentScript:
    """How a simulated agent's phone and agent behave when rung."""

    answer_after_s: float | None = 3.0  # None: rings out
    busy: bool = False
    talk_s: float = 60.0


@dataclass
class SimChannel:
    """One channel of the simulated softswitch."""

    id: ChannelId
    call_id: CallId
    up: bool = False
    gone: bool = False
    agent: acd.AgentId | None = None  # an agent leg's agent
    consultee: bool = False  # a transfer target's leg
    supervisor: bool = False  # a supervisor's leg
    snoops: ChannelId | None = None  # a snoop channel: the leg it snoops on
    moh: bool = False
    bridge: BridgeId | None = None
    variables: dict[str, str] = field(default_factory=dict)
