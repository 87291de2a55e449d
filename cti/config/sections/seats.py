"""``seats.yaml``: the physical positions (坐席) and their phones.

A seat is a desk with a SIP phone; an agent logging in binds to one.  The
``endpoint`` is what the engine dials to ring the seat's phone.
"""

from __future__ import annotations

from pydantic import Field

from cti.config.types import Endpoint, Ident, Section, Text


class Seat(Section):
    id: Ident
    endpoint: Endpoint = Field(description="e.g. PJSIP/8001")
    area: Text | None = Field(default=None, description="e.g. 综合受理区, 12315专区")


class SeatsFile(Section):
    """Content of ``seats.yaml``."""

    seats: tuple[Seat, ...] = Field(min_length=1)
