"""What the supervisor console (``/supervisor``) reads and does beyond the supervisor API.

- ``GET /api/console/calls``: every call in the engine with its line, queue,
  agent, state and duration; the caller's number in full for a supervisor,
  masked (``138****8000``) for a quality inspector.
- ``POST /api/alarms/{alarm_id}/ack``: a supervisor acknowledges a wallboard
  alarm (风险预警); the acknowledgement, with the supervisor's name, is shown
  on the wallboard and written to the audit log (action ``alarm_ack``).

Listening, whispering, barging and forced states use the endpoints of
:mod:`cti.api.transfers` and :mod:`cti.api.supervisor`, audited there.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.api import schemas as s
from cti.api.agents import ENGINE
from cti.api.auth import Role
from cti.api.figures import WALLBOARD, _alarm
from cti.api.http import ApiError, body_of, path_of, principal
from cti.api.spec import Operation, register, reply
from cti.logs import mask_number

READERS = (Role.SUPERVISOR, Role.QUALITY_INSPECTOR)


class ConsoleCall(BaseModel):
    call_id: str
    state: str
    caller: str
    dialled: str
    line: str | None
    queue: str | None
    agent: str | None
    duration_s: float


class AlarmPath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alarm_id: int = Field(ge=1, description="the alarm's id on the wallboard")


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=200, description="what is being done about it")


async def calls(request: web.Request) -> web.Response:
    who = principal(request, *READERS)
    engine = request.app[ENGINE]
    now = engine.now_dt()
    full = who.role is Role.SUPERVISOR
    rows = [
        ConsoleCall(
            call_id=call.call_id,
            state=call.public_state,
            caller=call.caller_number if full else mask_number(call.caller_number),
            dialled=call.dialled,
            line=call.line_name,
            queue=call.queue,
            agent=call.agent,
            duration_s=round(max(0.0, (now - call.arrived_at).total_seconds()), 1),
        )
        for call in sorted(engine.calls.values(), key=lambda c: c.arrived_at)
    ]
    return reply(rows, kind=list[ConsoleCall])


async def acknowledge(request: web.Request) -> web.Response:
    who = principal(request, Role.SUPERVISOR)
    path = path_of(request, AlarmPath)
    body = await body_of(request, AckRequest)
    engine = request.app[ENGINE]
    record = request.app[WALLBOARD].alarms.acknowledge(path.alarm_id, who.id, engine.now())
    engine.writer.submit(
        "audit",
        {
            "at": engine.now_dt(),
            "actor": who.id,
            "role": who.role.value,
            "action": "alarm_ack",
            "target": f"alarm:{path.alarm_id}",
            "allowed": record is not None,
            "detail": {"note": body.note}
            if record is None
            else {"note": body.note, "figure": record.figure, "scope": record.scope,
                  "level": record.level},
        },
    )  # fmt: skip
    if record is None:
        raise ApiError(404, "not_found", f"no alarm {path.alarm_id} is kept")
    return reply(_alarm(record))


def add_routes(app: web.Application) -> None:
    register(
        app,
        Operation(
            "GET",
            "/api/console/calls",
            calls,
            "console_calls",
            "Calls in progress; the caller masked for quality inspectors",
            "supervisor",
            READERS,
            response=list[ConsoleCall],
        ),
    )
    register(
        app,
        Operation(
            "POST",
            "/api/alarms/{alarm_id}/ack",
            acknowledge,
            "alarm_ack",
            "A supervisor acknowledges a wallboard alarm (audited)",
            "supervisor",
            (Role.SUPERVISOR,),
            path_params=AlarmPath,
            body=AckRequest,
            response=s.Alarm,
            errors=(404,),
        ),
    )
