"""The ticket outbox: every ticket handed to the work-order backend exactly once.

Write side (in the call's final transaction): :class:`TicketOutbox`.
Send side (a background task per engine): :class:`TicketSender`.
Payload and its JSON Schema: :class:`Ticket`, :func:`ticket_json_schema`.
The engine's writer hook (final call record + ticket, one transaction): :data:`outbox_hook`,
:func:`make_outbox_hook`.
"""

from cti.tickets.errors import (
    SenderConfigError,
    SenderFailed,
    TicketError,
    TicketNotFound,
    TicketStateError,
)
from cti.tickets.hook import OutboxHook, make_outbox_hook, outbox_hook, ticket_from_engine
from cti.tickets.model import (
    Agents,
    Caller,
    LegOutcome,
    MenuStep,
    MergedLine,
    Rating,
    RatingUpdate,
    Ticket,
    TicketKind,
    Timestamps,
    TransferKind,
    TransferLeg,
    rating_update_json_schema,
    recording_url,
    ticket_json_schema,
)
from cti.tickets.outbox import (
    OutboxStats,
    TicketOutbox,
    call_record_from_ticket,
    enqueue_call_started_in,
    enqueue_return_visit_in,
    enqueue_ticket_in,
)
from cti.tickets.policy import RowStatus
from cti.tickets.rows import NOTIFY_CHANNEL, OutboxRow
from cti.tickets.sender import SenderCounters, TicketSender
from cti.tickets.settings import SenderSettings
from cti.tickets.visit import (
    CallStarted,
    ReturnVisitResult,
    call_started_json_schema,
    return_visit_json_schema,
)

__all__ = [
    "NOTIFY_CHANNEL",
    "Agents",
    "CallStarted",
    "Caller",
    "LegOutcome",
    "MenuStep",
    "MergedLine",
    "OutboxHook",
    "OutboxRow",
    "OutboxStats",
    "Rating",
    "RatingUpdate",
    "ReturnVisitResult",
    "RowStatus",
    "SenderConfigError",
    "SenderCounters",
    "SenderFailed",
    "SenderSettings",
    "Ticket",
    "TicketError",
    "TicketKind",
    "TicketNotFound",
    "TicketOutbox",
    "TicketSender",
    "TicketStateError",
    "Timestamps",
    "TransferKind",
    "TransferLeg",
    "call_record_from_ticket",
    "call_started_json_schema",
    "enqueue_call_started_in",
    "enqueue_return_visit_in",
    "enqueue_ticket_in",
    "make_outbox_hook",
    "outbox_hook",
    "rating_update_json_schema",
    "recording_url",
    "return_visit_json_schema",
    "ticket_from_engine",
    "ticket_json_schema",
]
