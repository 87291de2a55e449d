"""Descriptions of the routes that modules outside ``cti/api`` serve.

``/healthz`` (``cti.app``) and the recordings API (``cti.recordings.api``)
are served by their own modules; their behaviour is documented there and
restated here for the OpenAPI document.  The recordings API admits agents
(calls they took, for a limited time), supervisors and quality inspectors;
it answers its errors as ``{"message": ...}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.api.auth import Role
from cti.api.spec import Operation, describe

LISTENERS = (Role.AGENT, Role.SUPERVISOR, Role.QUALITY_INSPECTOR)


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    role: str = Field(
        description="single (the only engine), active, standby or deposed (docs/deploy.md)"
    )
    ari: str
    ami: str
    database: str
    pending_writes: int


class EngineRole(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(description="single, active, standby or deposed")


class RecordingItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: str
    segment: int
    name: str
    status: str
    started_at: str
    duration_s: float | None
    agents: list[str]
    caller_number: str | None
    dialled: str | None
    size_bytes: int | None
    sha256: str | None
    url: str


class RecordingList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recordings: list[RecordingItem]


class RecordingListQuery(BaseModel):
    call_id: str | None = Field(default=None, description="one call")
    agent: str | None = Field(default=None, description="calls of this agent")
    since: str | None = Field(default=None, description="ISO 8601 with a time zone")
    until: str | None = Field(default=None, description="ISO 8601 with a time zone")
    limit: int | None = Field(default=None, description="1..1000 (clamped), default 100")


class RecordingPath(BaseModel):
    call_id: str = Field(description="the engine's call id")


class SegmentQuery(BaseModel):
    segment: int | None = Field(default=None, description="the segment, default 1")


_AUDIO: dict[str, Any] = {"type": "string", "format": "binary"}


def describe_others(app: web.Application) -> None:
    describe(
        app,
        Operation(
            "GET", "/healthz", None, "healthz", "Liveness and the state of the links",
            "public", response=Health,
        ),
    )  # fmt: skip
    describe(
        app,
        Operation(
            "GET", "/healthz/active", None, "healthz_active",
            "200 on the engine that drives calls, 503 on a standby (for a front proxy)",
            "public", response=EngineRole, errors=(503,),
        ),
    )  # fmt: skip
    describe(
        app,
        Operation(
            "GET", "/api/recordings", None, "recordings_list",
            "Recordings the caller may listen to (audited)", "recordings", LISTENERS,
            query=RecordingListQuery, response=RecordingList, errors=(503,),
        ),
    )  # fmt: skip
    describe(
        app,
        Operation(
            "GET", "/api/recordings/{call_id}", None, "recording_audio",
            "A call's recording (audited; HTTP ranges supported)", "recordings", LISTENERS,
            path_params=RecordingPath, query=SegmentQuery, produces="audio/wav",
            response_schema=_AUDIO, errors=(404, 416, 503),
        ),
    )  # fmt: skip
