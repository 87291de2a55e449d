"""Return visits (回访) over HTTP.

The work-order backend asks for one with ``POST /api/return-visits`` (the
admin or supervisor token), idempotent on the ticket id: the same request
again answers ``200`` with the same visit, a different one for the same
ticket ``409``.  A result recorded with
``POST /api/return-visits/{ticket_id}/result`` goes back to the backend
through the ticket outbox, exactly once.

An agent makes a visit that needs a person like a callback in preview:
``POST /api/return-visits/{ticket_id}/call`` puts the visit in ``calling``
(within its window, never in quiet hours), rings the agent's seat, then the
citizen (:mod:`switchboard.outbound`, the call tagged with the ticket id).
When the call ends its result is the visit's attempt, with the call, the
agent and the recording, the way the automatic dialler writes one
(:func:`cti.executor.dialler.result_writer`); the agent may still record
answers or a different outcome with the result operation.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import structlog
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

import callbacks as cb
from cti.api.agents import ENGINE
from cti.api.auth import Principal, Role
from cti.api.http import ApiError, bad_request, body_of, path_of, principal, query_of
from cti.api.outbound import (
    BACKEND,
    NUMBER,
    TAG,
    VIEWERS,
    DialStarted,
    Input,
    config_of,
    dial_refused,
    now_of,
    refused_error,
)
from cti.api.spec import Operation, register, reply
from cti.appkeys import DATABASE
from cti.executor import TransferRefused
from cti.logs import mask_number
from cti.store import visits

log = structlog.get_logger("cti.api.visits")


class VisitBody(Input):
    ticket_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    number: str = Field(pattern=NUMBER, description="the citizen's number")
    due_from: AwareDatetime
    due_until: AwareDatetime
    survey: str = Field(min_length=1, max_length=48, description="a survey id of outbound.yaml")
    person_required: bool = Field(
        default=False, description="an agent must make the call (not the automatic survey)"
    )
    summary: str = Field(default="", max_length=1000, description="shown to the agent")


class VisitResultOut(BaseModel):
    outcome: str
    at: dt.datetime
    agent: str | None
    answers: list[dict[str, str]]
    recording: str | None
    note: str | None


class ReturnVisit(BaseModel):
    ticket_id: str
    number: str
    due_from: dt.datetime
    due_until: dt.datetime
    survey: str
    person_required: bool
    summary: str
    status: str = Field(description="pending | calling | done | failed | expired")
    fallback: str | None = Field(
        default=None,
        description="why the automatic survey handed the visit to the agents (refused,"
        " no_input, hung_up, asked_for_agent); null: it did not",
    )
    calling_by: str | None
    results: list[VisitResultOut]


class VisitStatusQuery(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CALLING = "calling"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    ALL = "all"


class VisitQuery(Input):
    status: VisitStatusQuery = VisitStatusQuery.OPEN
    person_required: bool | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class VisitPath(Input):
    ticket_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")


class AnswerIn(Input):
    question: str = Field(min_length=1, max_length=64)
    answer: str = Field(max_length=500)


class VisitResultBody(Input):
    outcome: cb.Outcome
    answers: list[AnswerIn] = Field(default_factory=list, max_length=50)
    recording: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


def visit_model(visit: cb.Visit, who: Principal) -> ReturnVisit:
    """The visit as ``who`` may see it: administrators see the number masked."""
    req = visit.request
    return ReturnVisit(
        ticket_id=req.ticket_id,
        number=mask_number(req.number) if who.role is Role.ADMIN else req.number,
        due_from=req.due_from,
        due_until=req.due_until,
        survey=req.survey,
        person_required=req.person_required,
        summary=req.summary,
        status=visit.status.value,
        fallback=visit.fallback,
        calling_by=visit.calling_by,
        results=[
            VisitResultOut(
                outcome=r.outcome.value,
                at=r.at,
                agent=r.agent,
                answers=[{"question": q, "answer": a} for q, a in r.answers],
                recording=r.recording,
                note=r.note,
            )
            for r in visit.results
        ],
    )


# -- return visits ------------------------------------------------------------


async def request_visit(request: web.Request) -> web.Response:
    who = principal(request, *BACKEND)
    body = await body_of(request, VisitBody)
    config, now = config_of(request), now_of(request)
    req = cb.VisitRequest(
        body.ticket_id, body.number, body.due_from, body.due_until, body.survey,
        body.person_required, body.summary,
    )  # fmt: skip
    try:
        async with request.app[DATABASE].connection() as conn:
            existing = await visits.load(conn, req.ticket_id)
            if existing is None or existing.request != req:
                cb.check_request(req, config.outbound.return_visits.surveys, now)
            visit, new = await visits.request(conn, req)
    except cb.Refusal as exc:
        if exc.code == "conflict":
            raise ApiError(409, "conflict", exc.message) from None
        field = exc.message.split(":", 1)[0]
        raise bad_request(field, exc.message.split(": ", 1)[-1]) from None
    log.info("return_visit_requested", ticket_id=req.ticket_id, new=new,
             caller=mask_number(req.number))  # fmt: skip
    return reply(visit_model(visit, who), status=201 if new else 200)


async def list_visits(request: web.Request) -> web.Response:
    who = principal(request, *VIEWERS)
    query = query_of(request, VisitQuery)
    if query.status is VisitStatusQuery.OPEN:
        status: list[str] | None = ["pending", "calling"]
    elif query.status is VisitStatusQuery.ALL:
        status = None
    else:
        status = [query.status.value]
    async with request.app[DATABASE].connection() as conn:
        found = await visits.listing(conn, status, query.person_required, query.limit)
    return reply([visit_model(v, who) for v, _ in found], kind=list[ReturnVisit])


async def visit_result(request: web.Request) -> web.Response:
    who = principal(request, *VIEWERS)
    ticket_id = path_of(request, VisitPath).ticket_id
    body = await body_of(request, VisitResultBody)
    config, now = config_of(request), now_of(request)
    result = cb.VisitResult(
        body.outcome,
        now,
        who.id if who.role is Role.AGENT else None,
        tuple((a.question, a.answer) for a in body.answers),
        body.recording,
        body.note,
    )
    try:
        async with request.app[DATABASE].connection() as conn:
            visit = await visits.record_result(
                conn, ticket_id, result, config.visit_policy(), config.callback_policy()
            )
    except cb.Refusal as exc:
        raise refused_error(exc) from None
    log.info("return_visit_result", ticket_id=ticket_id, outcome=body.outcome.value, by=who.id)
    return reply(visit_model(visit, who))


async def call_visit(request: web.Request) -> web.Response:
    """An agent's Call for a return visit: my seat rings, then the citizen.

    The visit is ``calling`` (by me) before the call starts, so the call's
    end always finds it; when the engine refuses the call it is ``pending``
    again.
    """
    who = principal(request, Role.AGENT)
    ticket_id = path_of(request, VisitPath).ticket_id
    config, now = config_of(request), now_of(request)
    engine = request.app[ENGINE]
    call_id = engine.executor.new_call_id()
    db = request.app[DATABASE]
    try:
        async with db.connection() as conn:
            visit = await visits.start_call(conn, ticket_id, who.id, now, config.callback_policy())
    except cb.Refusal as exc:
        raise refused_error(exc) from None
    number = visit.request.number
    try:
        engine.dial(who.id, number, role=who.role.value, call_id=call_id, visit=ticket_id)
    except TransferRefused as exc:
        async with db.connection() as conn:
            await visits.release_call(conn, ticket_id, who.id)
        raise dial_refused(request, exc) from None
    log.info("return_visit_call", by=who.id, ticket_id=ticket_id, call_id=call_id,
             caller=mask_number(number))  # fmt: skip
    return reply(
        DialStarted(
            call_id=call_id,
            number=number,
            presented_number=config.presented_number,
            return_visit=ticket_id,
        )
    )


def add_routes(app: web.Application) -> None:
    ops = [
        Operation("POST", "/api/return-visits", request_visit, "return_visits_request",
                  "Ask for a return visit (回访); idempotent on the ticket id", TAG, BACKEND,
                  body=VisitBody, response=ReturnVisit, status=201, errors=(409, 503),
                  other={200: ReturnVisit}),
        Operation("GET", "/api/return-visits", list_visits, "return_visits_list",
                  "Return visits, the earliest window first", TAG, VIEWERS,
                  query=VisitQuery, response=list[ReturnVisit], errors=(503,)),
        Operation("POST", "/api/return-visits/{ticket_id}/result", visit_result,
                  "return_visits_result",
                  "Record a return visit's result; it goes to the backend exactly once", TAG,
                  VIEWERS, path_params=VisitPath, body=VisitResultBody, response=ReturnVisit,
                  errors=(404, 409, 503)),
        Operation("POST", "/api/return-visits/{ticket_id}/call", call_visit,
                  "return_visits_call",
                  "Call the visit's citizen (like a callback's Call): my seat rings, then the"
                  " number; the call's result is the visit's attempt", TAG, (Role.AGENT,),
                  path_params=VisitPath, response=DialStarted, errors=(403, 404, 409, 503)),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
