"""The ticket payload: what the work-order backend receives for a call.

A ticket (工单) starts the handling chain 受理 → 办理 → 回复 → 回访.  One is
created for every answered call, every voicemail and every callback request;
a rating that comes in after the ticket left is sent as a
:class:`RatingUpdate` to the same backend ticket.

The field names below are the contract with the backend.  The caller's number
is carried in full (the backend needs it to call back); it is masked in every
log line and in the ``repr`` of these models.  :func:`ticket_json_schema` is
the JSON Schema published in the engine's OpenAPI document.

Every model forbids unknown keys and is immutable; timestamps must carry a
time zone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cti.logs import mask_number

SCHEMA_VERSION: Literal[1] = 1

CALL_ID_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"
NUMBER_PATTERN = r"^\+?[0-9]{0,32}$"


class TicketKind(StrEnum):
    """What the ticket records."""

    CALL = "call"  # a call answered by an agent
    VOICEMAIL = "voicemail"  # a message left when nobody could answer
    CALLBACK = "callback"  # a request to be called back (漏接回拨)


class TransferKind(StrEnum):
    """How a leg moved the call."""

    BLIND = "blind"
    ATTENDED = "attended"
    THREE_WAY = "three_way"  # a retained parallel hotline joined (并联整合)
    EMERGENCY = "emergency"  # handed to 110/119/120 (互联互通)


class LegOutcome(StrEnum):
    """How a transfer leg ended."""

    COMPLETED = "completed"  # the call moved to the target
    STAYED = "stayed"  # three-way: the agent stayed on with the target
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the agent took the call back


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Caller(_Model):
    """The citizen who called: number in full (empty when withheld) and name if known."""

    number: str = Field(pattern=NUMBER_PATTERN)
    name: str = Field(default="", max_length=200)

    def __repr_args__(self) -> Any:
        yield "number", mask_number(self.number)
        yield "name", self.name


class MergedLine(_Model):
    """The retired department line a call came in on (直接整合), for pre-routing."""

    original_number: str = Field(pattern=NUMBER_PATTERN, min_length=1)
    department: str = Field(min_length=1, max_length=200)
    line_name: str | None = Field(default=None, max_length=200)


class MenuStep(_Model):
    """One step of the caller's walk through the IVR menu: where, what happened, when.

    ``result`` is the IVR's step result (chosen, timeout, invalid, operator ...);
    ``keys`` the keys pressed, if any.
    """

    menu: str = Field(min_length=1, max_length=100)
    node: str = Field(min_length=1, max_length=100)
    result: str = Field(min_length=1, max_length=40)
    keys: str = Field(default="", max_length=40)
    at: AwareDatetime


class Agents(_Model):
    """Who handled the call: the first-contact agent (首接负责) and everyone else, in order."""

    first_contact: str | None = Field(default=None, min_length=1)
    others: list[str] = Field(default_factory=list)


class Timestamps(_Model):
    """The moments of the call, in order."""

    arrived_at: AwareDatetime
    queued_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Timestamps:
        for name in ("queued_at", "answered_at", "ended_at"):
            value = getattr(self, name)
            if value is not None and value < self.arrived_at:
                raise ValueError(f"{name} is before arrived_at")
        if self.answered_at and self.ended_at and self.ended_at < self.answered_at:
            raise ValueError("ended_at is before answered_at")
        return self


class Rating(_Model):
    """The caller's satisfaction rating (满意度评价).

    ``level`` is ``None`` when the caller did not rate; ``label`` then says why
    (e.g. 未评价).
    """

    level: int | None = Field(default=None, ge=1, le=10)
    label: str = Field(min_length=1, max_length=100)
    rated_at: AwareDatetime | None = None

    @property
    def rated(self) -> bool:
        return self.level is not None


class TransferLeg(_Model):
    """One transfer, three-way call or emergency hand-off during the call."""

    kind: TransferKind
    target: str = Field(min_length=1, max_length=200)  # queue, agent or number
    started_by: str = Field(min_length=1, max_length=100)
    started_at: AwareDatetime
    outcome: LegOutcome
    duration_s: float = Field(ge=0)
    presented: str = Field(default="", pattern=r"^([0-9]{3,20})?$")
    """The number the target was shown as the caller: the citizen's on a 110/119/120
    hand-off, the hotline's on most three-way calls (lines.yaml ``present``)."""


class Ticket(_Model):
    """The create payload, posted once per call to ``POST {backend}/tickets``.

    ``rating`` is ``None`` when no survey result is known when the ticket is
    written; a result that comes later is sent as a :class:`RatingUpdate`.
    A ``call`` ticket must have been answered and name its first-contact
    agent; a ``callback`` ticket must name the number to call back.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: TicketKind
    call_id: str = Field(pattern=CALL_ID_PATTERN)
    caller: Caller
    dialled: str = Field(pattern=NUMBER_PATTERN, min_length=1)
    merged_line: MergedLine | None = None
    menu_path: list[MenuStep] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    queue: str | None = None
    agents: Agents = Field(default_factory=Agents)
    times: Timestamps
    rating: Rating | None = None
    transfers: list[TransferLeg] = Field(default_factory=list)
    recording_url: str | None = Field(default=None, pattern=r"^https?://")
    callback_number: str | None = Field(default=None, pattern=NUMBER_PATTERN, min_length=1)
    hangup_by: str | None = None
    end_reason: str | None = None

    @model_validator(mode="after")
    def _complete_for_kind(self) -> Ticket:
        if self.kind is TicketKind.CALL:
            if self.times.answered_at is None:
                raise ValueError("a call ticket needs times.answered_at")
            if self.agents.first_contact is None:
                raise ValueError("a call ticket needs agents.first_contact")
        if self.kind is TicketKind.CALLBACK and not self.callback_number:
            raise ValueError("a callback ticket needs callback_number")
        return self

    def body(self) -> dict[str, Any]:
        """The JSON body as the backend receives it."""
        return self.model_dump(mode="json")


class RatingUpdate(_Model):
    """A rating that arrived after the ticket was sent.

    Posted to ``POST {backend}/tickets/{ticket_id}/updates``.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["rating"] = "rating"
    call_id: str = Field(pattern=CALL_ID_PATTERN)
    rating: Rating

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def ticket_json_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """The JSON Schema of :class:`Ticket` as sent (serialisation mode).

    ``ref_template`` lets the OpenAPI document point nested models at its own
    components, e.g. ``"#/components/schemas/{model}"``.
    """
    return Ticket.model_json_schema(mode="serialization", ref_template=ref_template)


def rating_update_json_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """The JSON Schema of :class:`RatingUpdate` as sent."""
    return RatingUpdate.model_json_schema(mode="serialization", ref_template=ref_template)


def recording_url(base_url: str, call_id: str) -> str:
    """The address the backend fetches a call's recording from, with its own credentials.

    ``base_url`` comes from configuration (e.g. ``https://cti.example/api/recordings``);
    the call id is appended as one escaped path segment.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"recording base URL must be absolute http(s): {base_url!r}")
    return f"{base_url.rstrip('/')}/{quote(call_id, safe='')}"
