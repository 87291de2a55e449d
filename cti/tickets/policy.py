"""The outbox's decisions, free of I/O: row states, verdicts on responses, backoff.

Theory of operation
-------------------
An outbox row is ``pending`` until the backend accepts it.  The sender claims
due rows for a lease, posts each, and turns the result into a :class:`Verdict`:

* any 2xx: ``delivered`` (final);
* 5xx, 408, 425, 429, a timeout or a refused connection: ``retry`` - the row
  stays ``pending`` and becomes due again after :func:`backoff_delay`;
* any other 4xx (and a 3xx, which means the backend URL is wrong): ``rejected``
  - parked with the response for an administrator, who can ``resend`` it after
  a fix, which makes it ``pending`` again.

408, 425 and 429 are 4xx codes that mean "not now" rather than "never", so
they are retried like a 5xx.  ``delivered`` is final; nothing leaves it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum

from cti.tickets.errors import TicketStateError


class RowStatus(StrEnum):
    """The ``status`` column of ``ticket_outbox``."""

    PENDING = "pending"
    DELIVERED = "delivered"
    REJECTED = "rejected"


class Verdict(StrEnum):
    """What one delivery attempt, or an administrator, did to a row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"
    RESEND = "resend"


TRANSITIONS: dict[tuple[RowStatus, Verdict], RowStatus] = {
    (RowStatus.PENDING, Verdict.DELIVERED): RowStatus.DELIVERED,
    (RowStatus.PENDING, Verdict.RETRY): RowStatus.PENDING,
    (RowStatus.PENDING, Verdict.REJECTED): RowStatus.REJECTED,
    (RowStatus.REJECTED, Verdict.RESEND): RowStatus.PENDING,
}

RETRYABLE_4XX = frozenset({408, 425, 429})


def next_status(outbox_id: int, status: RowStatus, verdict: Verdict) -> RowStatus:
    """Apply ``verdict`` to a row in ``status``; an illegal pair raises TicketStateError."""
    try:
        return TRANSITIONS[(status, verdict)]
    except KeyError:
        raise TicketStateError(outbox_id, status, f"cannot apply {verdict}") from None


def classify(http_status: int) -> Verdict:
    """The verdict on an HTTP response status."""
    if 200 <= http_status < 300:
        return Verdict.DELIVERED
    if http_status >= 500 or http_status in RETRYABLE_4XX:
        return Verdict.RETRY
    return Verdict.REJECTED


def backoff_delay(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first failure).

    Exponential backoff with full jitter: a uniform draw in
    ``[0, min(cap_s, base_s * 2 ** (attempt - 1))]``.  ``rand`` returns a float
    in ``[0, 1)`` (``random.Random().random``), injected so tests can pin it.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    exponent = min(attempt - 1, 64)  # 2**64 * any base is past every sane cap
    ceiling = min(cap_s, base_s * 2.0**exponent)
    return ceiling * rand()


def parse_ticket_id(body: bytes | str) -> str | None:
    """The backend's ticket id from a 2xx body: JSON ``id`` or ``ticket_id``, else None."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("id", "ticket_id"):
        value = data.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | str) and str(value).strip():
            return str(value).strip()
    return None
