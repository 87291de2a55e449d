"""What the parts of a call see of the call they belong to: :class:`CallHost`.

An :class:`~switchboard.inbound.InboundCall` is made of parts (its agent
legs, menu and survey sessions, transfers, controls, monitors), each
holding the call it belongs to.  The parts see the call through these
protocols and never import it, so the call imports its parts and nothing
runs back up: a part reaches a sibling only through the narrow view the
call hands out.
"""

from __future__ import annotations

from typing import Protocol

import acd
import transfer as tr
from switchboard.callstate import CallFacts
from switchboard.config import FlowConfig
from switchboard.ids import CallId
from switchboard.media import CallMedia
from switchboard.outbox import Outbox
from switchboard.phases import CallPhase
from switchboard.records import Detail


class TransfersView(Protocol):
    """The call's transfers, as its other parts use them."""

    @property
    def live(self) -> tr.TransferPlan | None: ...

    def own(self, agent: acd.AgentId) -> tuple[str, str] | None: ...

    def agent_left(self, now: float, out: Outbox) -> bool: ...

    def queue_answered(self, now: float, out: Outbox) -> None: ...


class LegsView(Protocol):
    """The call's agent legs, as its transfers use them."""

    def release_agent(self, now: float, out: Outbox) -> None: ...

    def release_agent_leg(self, out: Outbox) -> None: ...


class MonitorsView(Protocol):
    """The call's monitoring sessions, as its agent legs use them."""

    def agent_left(self, now: float, out: Outbox) -> None: ...


class CallHost(Protocol):
    """One call, as its parts see it."""

    @property
    def config(self) -> FlowConfig: ...

    @property
    def facts(self) -> CallFacts: ...

    @property
    def media(self) -> CallMedia: ...

    @property
    def call_id(self) -> CallId: ...

    @property
    def phase(self) -> CallPhase: ...

    @property
    def public_state(self) -> str: ...

    @property
    def ended(self) -> bool: ...

    @property
    def transfers(self) -> TransfersView: ...

    @property
    def legs(self) -> LegsView: ...

    @property
    def monitors(self) -> MonitorsView: ...

    def note(
        self, kind: str, now: float, out: Outbox, detail: Detail, agent: str | None = None
    ) -> None: ...

    def write(self, out: Outbox) -> None: ...

    def persist(self, out: Outbox) -> None: ...

    def enqueue(self, queue: str, priority: int | None, now: float, out: Outbox) -> None: ...

    def voicemail(self, max_s: int, now: float, out: Outbox) -> None: ...

    def close(self, prompts: tuple[str, ...], now: float, out: Outbox) -> None: ...

    def to_survey(self, now: float, out: Outbox) -> None: ...

    def hang_up_caller(self, now: float, out: Outbox) -> None: ...
