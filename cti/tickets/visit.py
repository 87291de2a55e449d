"""Bodies of calls-out notices to the backend.

* a return visit's result: ``POST {backend}/tickets/{ticket_id}/return-visits``;
* the optional "call started" notice: ``POST {backend}/calls/{call_id}/started``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cti.tickets.model import NUMBER_PATTERN


class VisitCaller(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=NUMBER_PATTERN, min_length=1)


class VisitAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=64)
    answer: str = Field(max_length=500)


class ReturnVisitResult(BaseModel):
    """One attempt at a return visit (回访) and what came of it."""

    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=128, description="the backend's ticket")
    caller: VisitCaller
    attempt: int = Field(ge=1, description="1 for the first call, 2 for the second ...")
    status: Literal["pending", "done", "failed", "expired"] = Field(
        description="the visit after this attempt: done (no more calls), failed (attempts"
        " spent), pending (another attempt will follow), expired (the window closed before"
        " anyone was reached; no call was made for this notice: outcome is null)"
    )
    reached: bool
    outcome: Literal["reached", "no_answer", "busy", "wrong_number", "refused", "voicemail"] | None
    at: AwareDatetime
    agent: str | None = Field(default=None, description="the agent; null: the automatic survey")
    survey: str
    answers: list[VisitAnswer] = Field(default_factory=list)
    recording: str | None = Field(default=None, description="the recording's reference")
    note: str | None = Field(default=None, max_length=2000)
    call_id: str | None = Field(
        default=None, description="the engine's call of this attempt; null: none (recorded by hand)"
    )

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def return_visit_json_schema() -> dict[str, Any]:
    """The JSON Schema of the body the backend receives."""
    return ReturnVisitResult.model_json_schema()


class CallStarted(BaseModel):
    """An agent answered a call: the backend may open its ticket now (same ``call_id``)."""

    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(min_length=1)
    caller: VisitCaller
    dialled: str
    line: str = Field(description="the number the citizen dialled (a merged line's own)")
    department: str | None
    queue: str | None
    agent: str | None
    answered_at: AwareDatetime

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def call_started_json_schema() -> dict[str, Any]:
    return CallStarted.model_json_schema()
