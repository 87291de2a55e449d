"""A call in progress or just ended, as the HTTP faces read it: :class:`CallView`.

The switchboard's :class:`~switchboard.InboundCall` keeps its facts in epoch
seconds; the faces (the toolbar, the wallboard, the supervisor's console,
the history) read timestamps and the names the ``calls`` table uses.  A view
reads the call's facts as they stand; it holds no state of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cti.executor import rows
from switchboard import CallPhase, InboundCall, Offer, OfferOutcome
from switchboard.ids import BridgeId, CallId, ChannelId


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class CallView:
    """One call's facts, read as the faces name them."""

    __slots__ = ("_call",)

    def __init__(self, call: InboundCall) -> None:
        self._call = call

    def __repr__(self) -> str:
        return f"<CallView {self._call!r}>"

    @property
    def inbound(self) -> InboundCall:
        return self._call

    @property
    def call_id(self) -> CallId:
        return self._call.call_id

    @property
    def phase(self) -> CallPhase:
        return self._call.phase

    @property
    def public_state(self) -> str:
        return self._call.public_state

    @property
    def ended(self) -> bool:
        return self._call.ended

    @property
    def caller_channel(self) -> ChannelId:
        return self._call.facts.caller_channel

    @property
    def agent_channel(self) -> ChannelId | None:
        return self._call.facts.agent_leg

    @property
    def bridge_id(self) -> BridgeId | None:
        return self._call.facts.bridge

    @property
    def caller_number(self) -> str:
        return self._call.facts.caller_number

    @property
    def caller_name(self) -> str:
        return self._call.facts.caller_name

    @property
    def dialled(self) -> str:
        return self._call.facts.dialled

    @property
    def original_number(self) -> str | None:
        return self._call.facts.original_number

    @property
    def department(self) -> str | None:
        return self._call.facts.department

    @property
    def line_name(self) -> str | None:
        return self._call.facts.line_name

    @property
    def queue(self) -> str | None:
        return self._call.facts.queue

    @property
    def agent(self) -> str | None:
        return self._call.facts.agent

    @property
    def first_agent(self) -> str | None:
        return self._call.facts.first_agent

    @property
    def last_agent(self) -> str | None:
        return self._call.facts.agent

    @property
    def outcome(self) -> str | None:
        return self._call.facts.outcome

    @property
    def rating(self) -> int | None:
        return self._call.facts.rating

    @property
    def rating_label(self) -> str | None:
        return self._call.facts.rating_label

    @property
    def hangup_by(self) -> str | None:
        return self._call.facts.hangup_by

    @property
    def route(self) -> str | None:
        return self._call.facts.route

    @property
    def recording_name(self) -> str | None:
        return self._call.facts.recording

    @property
    def tags(self) -> dict[str, str]:
        return self._call.facts.tags

    @property
    def held(self) -> bool:
        return self._call.facts.held

    @property
    def muted(self) -> bool:
        return self._call.facts.muted

    @property
    def arrived_at(self) -> datetime:
        return _dt(self._call.facts.arrived_at)

    @property
    def ended_at(self) -> datetime | None:
        at = self._call.facts.stamps.get("ended_at")
        return _dt(at) if at is not None else None

    @property
    def stamps(self) -> dict[str, datetime]:
        return {k: _dt(v) for k, v in self._call.facts.stamps.items()}

    @property
    def menu_path(self) -> list[dict[str, str]]:
        return rows.call_row(self._call.facts.record())["menu_path"]  # type: ignore[no-any-return]

    @property
    def offers(self) -> list[Offer]:
        return self._call.facts.offers

    @property
    def ringing_offer(self) -> Offer | None:
        for offer in reversed(self._call.facts.offers):
            if offer.outcome is OfferOutcome.RINGING:
                return offer
        return None

    def record(self) -> dict[str, Any]:
        """The row of the ``calls`` table, as of now."""
        return rows.call_row(self._call.facts.record())
