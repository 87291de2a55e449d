"""Call operations over HTTP: transfers, three-way calls, emergency hand-offs, hold,
mute, and supervisors listening in.

Agents (role ``agent``) act on their own connected call only; any other call
answers ``403 not_your_call``, any other role ``403 forbidden``.  Monitoring
(listen, whisper, barge) is for the ``supervisor`` role only; a refused
attempt by another authenticated caller is written to the audit log too.

==========================================  =====================================
``POST /api/calls/{call_id}/transfer``      start a transfer: body
                                            :class:`TransferRequest` (``mode``
                                            blind / attended / three_way,
                                            ``target`` {kind, ref}); ``201``
                                            :class:`TransferOut`
``GET /api/calls/{call_id}/transfer``       the live (else last) transfer
``POST /api/calls/{call_id}/transfer/{a}``  ``a`` = ``join`` (consult ->
                                            conference), ``complete`` or
                                            ``leave`` (the agent drops out:
                                            caller and consultee stay
                                            together), ``cancel`` (drop the
                                            consultee, take the caller back)
``POST /api/calls/{call_id}/emergency``     110/119/120: body
                                            :class:`EmergencyRequest`
                                            (``mode`` blind = one-key transfer,
                                            or three_way); pre-empts any
                                            transfer in progress; ``201``
``POST|DELETE /api/calls/{call_id}/hold``   hold / take back the caller
``POST|DELETE /api/calls/{call_id}/mute``   mute / unmute the agent's leg;
                                            both answer :class:`CallControlOut`
``POST /api/calls/{call_id}/monitor``       supervisor: body
                                            :class:`MonitorRequest` (``mode``
                                            listen / whisper / barge, ``seat``
                                            to ring); again to change mode;
                                            ``201`` :class:`MonitorOut`
``DELETE /api/calls/{call_id}/monitor``     supervisor: stop
==========================================  =====================================

Targets: ``{"kind": "line", "ref": "city_management"}`` (a parallel line id
of lines.yaml), ``{"kind": "number", "ref": "85595599"}``, ``{"kind":
"agent", "ref": "1004"}`` (a logged-in colleague), ``{"kind": "queue",
"ref": "senior"}`` (blind only; the caller keeps its waiting time).  Errors
are ``{"error", "message"}``: ``404 no_call``, ``409 transfer_in_progress``
/ ``no_transfer`` / ``not_connected`` / ``not_answered`` / ``agent_gone`` /
``colleague_unavailable``, ``400 bad_target`` / ``bad_mode`` / ``bad_seat``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import transfer as tr
from cti.api import schemas as s
from cti.api.agents import ENGINE
from cti.api.audit import mark_audited
from cti.api.auth import Role
from cti.api.http import ApiError, body_of, path_of, principal, who_is
from cti.api.spec import Handler, Operation, register, reply
from cti.executor import CallView as Call
from cti.executor import Engine, TargetSpec, TransferRefused
from cti.ids import CallId

TAG = "calls"
AGENT = (Role.AGENT,)
SUPERVISOR = (Role.SUPERVISOR,)
REF = r"^[A-Za-z0-9_.-]{1,32}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransferMode(StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"
    THREE_WAY = "three_way"


class EmergencyMode(StrEnum):
    BLIND = "blind"
    THREE_WAY = "three_way"


class TargetKind(StrEnum):
    NUMBER = "number"
    LINE = "line"
    EMERGENCY = "emergency"
    AGENT = "agent"
    QUEUE = "queue"


class Action(StrEnum):
    JOIN = "join"
    COMPLETE = "complete"
    LEAVE = "leave"
    CANCEL = "cancel"


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class CallPath(_In):
    call_id: str = Field(pattern=s.CALL_ID, description="the engine's call id")


class ActionPath(CallPath):
    action: Action = Field(description="join, complete, leave or cancel")


class TargetIn(_In):
    kind: TargetKind
    ref: str = Field(pattern=REF, description="number, parallel line id, agent number or queue")


class TransferRequest(_In):
    mode: TransferMode
    target: TargetIn


class EmergencyRequest(_In):
    number: str = Field(pattern=r"^[0-9]{3,6}$", description="an emergency line of lines.yaml")
    mode: EmergencyMode = Field(default=EmergencyMode.BLIND, description="blind = one-key")


class MonitorRequest(_In):
    mode: MonitorMode
    seat: str = Field(pattern=REF, description="the seat whose phone the supervisor uses")


class TargetOut(_Out):
    kind: str
    ref: str
    label: str


class NoticeOut(_Out):
    what: str = Field(description="consultee_failed, consultee_left")
    reason: str = Field(description="busy, no_answer, failed, or empty")
    at: datetime


class TransferOut(_Out):
    call_id: str
    leg: str
    mode: str
    kind: str = Field(description="blind, attended, three_way or emergency")
    target: TargetOut
    state: str = Field(description="ringing, consulting, conference, handed_over, queued, ended")
    outcome: str | None = Field(description="completed, stayed, no_answer, busy, failed, ...")
    started_by: str
    started_at: datetime | None
    ended_at: datetime | None
    notices: list[NoticeOut]


class CallControlOut(_Out):
    call_id: str
    state: str
    held: bool
    muted: bool
    transfer: TransferOut | None


class MonitorOut(_Out):
    call_id: str
    session: str
    supervisor: str
    seat: str
    mode: str = Field(description="the mode asked for last")
    state: str = Field(description="dialing, listen, whisper, barge or ended")


def _refused(exc: TransferRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


def _transfer_out(engine: Engine, call_id: str, plan: tr.TransferPlan) -> TransferOut:
    notices = [
        NoticeOut(what=n.what, reason=n.reason, at=n.at)
        for n in engine.transfers.notices.get(CallId(call_id), [])
        if n.leg == plan.leg
    ]
    target = plan.target
    return TransferOut(
        call_id=call_id,
        leg=plan.leg,
        mode=plan.mode.value,
        kind=plan.kind.value,
        target=TargetOut(kind=target.kind.value, ref=target.ref, label=target.label),
        state=plan.public_state,
        outcome=plan.outcome.value if plan.outcome else None,
        started_by=plan.agent,
        started_at=plan.started_at,
        ended_at=plan.ended_at,
        notices=notices,
    )


def _control_out(engine: Engine, call: Call) -> CallControlOut:
    plan = engine.transfers.latest(call.call_id)
    return CallControlOut(
        call_id=call.call_id,
        state=call.public_state,
        held=call.held,
        muted=call.muted,
        transfer=_transfer_out(engine, call.call_id, plan) if plan is not None else None,
    )


def _monitor_out(call_id: str, plan: tr.MonitorPlan) -> MonitorOut:
    return MonitorOut(
        call_id=call_id,
        session=plan.session,
        supervisor=plan.supervisor,
        seat=plan.seat,
        mode=plan.wanted.value,
        state=plan.state.value,
    )


# ---------------------------------------------------------------- agents


async def start_transfer(request: web.Request) -> web.Response:
    who = principal(request, *AGENT)
    path = path_of(request, CallPath)
    body = await body_of(request, TransferRequest)
    engine = request.app[ENGINE]
    spec = TargetSpec(body.target.kind.value, body.target.ref)
    try:
        plan = engine.transfers.start(CallId(path.call_id), who.id, body.mode.value, spec)
    except TransferRefused as exc:
        raise _refused(exc) from exc
    return reply(_transfer_out(engine, path.call_id, plan), status=201)


async def get_transfer(request: web.Request) -> web.Response:
    who = principal(request, *AGENT)
    path = path_of(request, CallPath)
    engine = request.app[ENGINE]
    call = engine.calls.get(CallId(path.call_id))
    if call is None:
        raise ApiError(404, "no_call", "no such call")
    plan = engine.transfers.latest(call.call_id)
    if call.agent != who.id and (plan is None or plan.agent != who.id):
        raise ApiError(403, "not_your_call", "this is not your call")
    if plan is None:
        raise ApiError(404, "no_transfer", "the call has had no transfer")
    return reply(_transfer_out(engine, path.call_id, plan))


async def transfer_action(request: web.Request) -> web.Response:
    who = principal(request, *AGENT)
    path = path_of(request, ActionPath)
    engine = request.app[ENGINE]
    try:
        plan = engine.transfers.act(CallId(path.call_id), who.id, path.action.value)
    except TransferRefused as exc:
        raise _refused(exc) from exc
    return reply(_transfer_out(engine, path.call_id, plan))


async def emergency(request: web.Request) -> web.Response:
    who = principal(request, *AGENT)
    path = path_of(request, CallPath)
    body = await body_of(request, EmergencyRequest)
    engine = request.app[ENGINE]
    try:
        plan = engine.transfers.emergency(
            CallId(path.call_id), who.id, body.number, body.mode.value
        )
    except TransferRefused as exc:
        raise _refused(exc) from exc
    return reply(_transfer_out(engine, path.call_id, plan), status=201)


def _control(on: bool, what: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = principal(request, *AGENT)
        path = path_of(request, CallPath)
        engine = request.app[ENGINE]
        act = engine.transfers.hold if what == "hold" else engine.transfers.mute
        try:
            call = act(CallId(path.call_id), who.id, on)
        except TransferRefused as exc:
            raise _refused(exc) from exc
        return reply(_control_out(engine, call))

    return handler


# ---------------------------------------------------------------- supervisors


def _supervisor(request: web.Request, action: str) -> str:
    """The supervisor's id; a refused attempt by anyone else is audited first."""
    who = who_is(request)
    if who is not None and who.role is not Role.SUPERVISOR:
        call_id = request.match_info.get("call_id", "")
        request.app[ENGINE].monitors.audit_refused(who.id, who.role.value, call_id, action)
        mark_audited(request)
    return principal(request, *SUPERVISOR).id


async def start_monitor(request: web.Request) -> web.Response:
    supervisor = _supervisor(request, "monitor")
    path = path_of(request, CallPath)
    body = await body_of(request, MonitorRequest)
    engine = request.app[ENGINE]
    try:
        plan = engine.monitors.monitor(
            CallId(path.call_id), supervisor, Role.SUPERVISOR.value, body.seat, body.mode.value
        )
    except TransferRefused as exc:
        raise _refused(exc) from exc
    return reply(_monitor_out(path.call_id, plan), status=201)


async def stop_monitor(request: web.Request) -> web.Response:
    supervisor = _supervisor(request, "monitor_stop")
    path = path_of(request, CallPath)
    engine = request.app[ENGINE]
    try:
        plan = engine.monitors.stop(CallId(path.call_id), supervisor)
    except TransferRefused as exc:
        raise _refused(exc) from exc
    return reply(_monitor_out(path.call_id, plan))


def add_routes(app: web.Application) -> None:
    base = "/api/calls/{call_id}"
    ops = [
        Operation("POST", base + "/transfer", start_transfer, "call_transfer_start",
                  "Transfer the agent's call: blind, attended or three-way", TAG, AGENT,
                  path_params=CallPath, body=TransferRequest, response=TransferOut,
                  status=201, errors=(404, 409)),
        Operation("GET", base + "/transfer", get_transfer, "call_transfer_get",
                  "The call's live (else last) transfer", TAG, AGENT,
                  path_params=CallPath, response=TransferOut, errors=(404,)),
        Operation("POST", base + "/transfer/{action}", transfer_action, "call_transfer_action",
                  "Join all three, complete (leave), or cancel the live transfer", TAG, AGENT,
                  path_params=ActionPath, response=TransferOut, errors=(404, 409)),
        Operation("POST", base + "/emergency", emergency, "call_emergency",
                  "Hand the caller to 110/119/120, blind or three-way", TAG, AGENT,
                  path_params=CallPath, body=EmergencyRequest, response=TransferOut,
                  status=201, errors=(404, 409)),
        Operation("POST", base + "/hold", _control(True, "hold"), "call_hold",
                  "Put the caller on hold (music)", TAG, AGENT,
                  path_params=CallPath, response=CallControlOut, errors=(404, 409)),
        Operation("DELETE", base + "/hold", _control(False, "hold"), "call_unhold",
                  "Take the caller back from hold", TAG, AGENT,
                  path_params=CallPath, response=CallControlOut, errors=(404, 409)),
        Operation("POST", base + "/mute", _control(True, "mute"), "call_mute",
                  "Mute the agent's leg", TAG, AGENT,
                  path_params=CallPath, response=CallControlOut, errors=(404, 409)),
        Operation("DELETE", base + "/mute", _control(False, "mute"), "call_unmute",
                  "Unmute the agent's leg", TAG, AGENT,
                  path_params=CallPath, response=CallControlOut, errors=(404, 409)),
        Operation("POST", base + "/monitor", start_monitor, "call_monitor",
                  "Listen to, whisper to or barge into a call from a seat (audited)",
                  "supervisor", SUPERVISOR, path_params=CallPath, body=MonitorRequest,
                  response=MonitorOut, status=201, errors=(404, 409)),
        Operation("DELETE", base + "/monitor", stop_monitor, "call_monitor_stop",
                  "Stop monitoring a call (audited)", "supervisor", SUPERVISOR,
                  path_params=CallPath, response=MonitorOut, errors=(404, 409)),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
