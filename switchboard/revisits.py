"""The automatic return-visit calls in progress: :class:`Revisits`.

The switchboard keeps one :class:`Revisits`; it starts a
:class:`~switchboard.revisit.VisitCall` for each ``VisitDue``, finds the
call an event is about by its citizen's leg or its call id, forgets a call
once it ended, and keeps a call handed to a person until that inbound
call's final record gives the visit its result.
"""

from __future__ import annotations

from switchboard.config import FlowConfig
from switchboard.events import VisitDue
from switchboard.ids import CallId, ChannelId
from switchboard.outbox import Outbox
from switchboard.records import CallRecord
from switchboard.revisit import VisitCall, VisitPhase


class Revisits:
    """The automatic return-visit calls in progress, and the index of their legs."""

    def __init__(self) -> None:
        self._calls: dict[CallId, VisitCall] = {}
        self._owner: dict[ChannelId, VisitCall] = {}
        self._handed: dict[CallId, VisitCall] = {}
        self.started = 0
        self.ended = 0

    def __repr__(self) -> str:
        return f"<Revisits calls={len(self._calls)} handed={len(self._handed)}>"

    @property
    def lines(self) -> int:
        """Outbound lines the visits hold: dialling, talking, or with a person."""
        return len(self._calls) + len(self._handed)

    def calls(self) -> list[VisitCall]:
        return list(self._calls.values())

    def legs(self) -> frozenset[ChannelId]:
        """The citizens' legs of the calls in progress (reconciliation compares them)."""
        return frozenset(self._owner)

    def start(self, due: VisitDue, config: FlowConfig, now: float, out: Outbox) -> None:
        flow = config.visits
        if flow is None or due.call_id in self._calls or due.call_id in self._handed:
            return
        call = VisitCall(due, config, flow, now)
        self._calls[call.call_id] = call
        self._owner[call.leg] = call
        self.started += 1
        call.start(now, out)

    def _forget(self, call: VisitCall) -> None:
        if call.phase in (VisitPhase.ENDED, VisitPhase.HANDED):
            self._calls.pop(call.call_id, None)
            self._owner.pop(call.leg, None)
            if call.phase is VisitPhase.HANDED:
                self._handed[call.call_id] = call
            else:
                self.ended += 1

    def by_leg(self, channel: ChannelId) -> VisitCall | None:
        return self._owner.get(channel)

    def by_call(self, call_id: CallId) -> VisitCall | None:
        return self._calls.get(call_id)

    def after(self, call: VisitCall) -> None:
        """Tidy up after an event was applied to ``call``."""
        self._forget(call)

    def handed_ended(self, record: CallRecord, now: float, out: Outbox) -> None:
        call = self._handed.pop(record.call_id, None)
        if call is not None:
            call.handed_call_ended(record, now, out)
            self.ended += 1
