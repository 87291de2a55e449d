"""The exceptions of the ticket outbox, all under :class:`TicketError`."""

from __future__ import annotations

from cti.errors import CtiError


class TicketError(CtiError):
    """Root of the ticket outbox's errors."""


class TicketNotFound(TicketError):
    """No outbox row (or no ticket for a call) matches the request."""

    def __init__(self, *, outbox_id: int | None = None, call_id: str | None = None) -> None:
        self.outbox_id = outbox_id
        self.call_id = call_id
        what = (
            f"outbox row {outbox_id}" if outbox_id is not None else f"a ticket for call {call_id}"
        )
        super().__init__(f"no {what}")


class TicketStateError(TicketError):
    """The row is not in a state that allows the request (e.g. re-sending a delivered ticket)."""

    def __init__(self, outbox_id: int, status: str, wanted: str) -> None:
        self.outbox_id = outbox_id
        self.status = status
        super().__init__(f"outbox row {outbox_id} is {status}; {wanted}")


class SenderConfigError(TicketError):
    """The sender's settings are invalid (bad URL, missing token variable, timeouts)."""


class SenderFailed(TicketError):
    """The sender met an unexpected fault while running; raised by ``stop()``."""

    def __init__(self, faults: list[BaseException]) -> None:
        self.faults = faults
        super().__init__(f"ticket sender met {len(faults)} unexpected fault(s): {faults[0]!r}")
