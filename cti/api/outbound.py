"""Calls out over HTTP: the callback list (漏接回拨), dialling, the toolbar's settings.

Agents work the callback list from their toolbar: they list it, claim an
entry (or skip it with one of the configured reasons), call it (preview's
Call: the click-to-dial of the entry's number, tied to the entry), and
record the outcome when the call did not tell it.  Supervisors see and
assign every entry.  Every change runs the pure :mod:`callbacks` decision
on the row locked in PostgreSQL.  Return visits are in :mod:`cti.api.visits`.

Click-to-dial (``POST /api/agents/me/dial``) rings the agent's seat, then
the number (:mod:`switchboard.outbound`).  A refused dial check or dial is
audited (action ``dial_refused``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import acd
import callbacks as cb
from cti.api import schemas as s
from cti.api.agents import ENGINE
from cti.api.audit import mark_audited
from cti.api.auth import Principal, Role
from cti.api.figures import eligible_agents
from cti.api.http import ApiError, bad_request, body_of, path_of, principal, query_of
from cti.api.spec import Operation, register, reply
from cti.appkeys import CONFIG, DATABASE, WRITER
from cti.config import Config
from cti.executor import TransferRefused
from cti.logs import mask_number
from cti.store import callbacks as entries

log = structlog.get_logger("cti.api.outbound")
TAG = "outbound"
WORKERS = (Role.AGENT, Role.SUPERVISOR)
BACKEND = (Role.ADMIN, Role.SUPERVISOR)
VIEWERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
FIGURE_READERS = (Role.SUPERVISOR, Role.ADMIN, Role.WALLBOARD)
_KEY = r"^\+?[0-9]{1,32}@[0-9]{4}-[0-9]{2}-[0-9]{2}$"
NUMBER = r"^\+?[0-9]{3,32}$"


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- models ---------------------------------------------------------------------


class MissOut(BaseModel):
    call_id: str
    at: dt.datetime
    line: str = Field(description="the number the citizen dialled")
    reason: str = Field(description="abandoned | overflowed | voicemail | closed | queue_full")
    queue: str | None


class AttemptOut(BaseModel):
    at: dt.datetime
    agent: str | None
    outcome: str | None = Field(description="null while the call is under way")
    call_id: str | None


class SkipOut(BaseModel):
    at: dt.datetime
    agent: str
    reason: str


class CallbackEntry(BaseModel):
    key: str = Field(description="number@YYYY-MM-DD: one entry per number per local day")
    number: str
    day: dt.date
    status: str = Field(
        description="pending | claimed | dialling | done | failed | cleared | superseded"
    )
    queue: str | None
    style: str = Field(description="preview | progressive (outbound.yaml, per queue)")
    misses: list[MissOut]
    attempts: list[AttemptOut]
    skips: list[SkipOut]
    claimed_by: str | None
    deadline: dt.datetime
    overdue: bool
    next_try_at: dt.datetime
    due: bool = Field(description="may be called now (spacing and quiet hours)")
    closed_at: dt.datetime | None
    cleared_by: str | None = Field(description="the answered call that removed the entry")


class EntryStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CLAIMED = "claimed"
    DIALLING = "dialling"
    DONE = "done"
    FAILED = "failed"
    CLEARED = "cleared"
    SUPERSEDED = "superseded"
    ALL = "all"


class EntryQuery(Input):
    status: EntryStatus = Field(default=EntryStatus.OPEN, description="open: not yet closed")
    queue: str | None = Field(default=None, max_length=48)
    claimed_by: str | None = Field(default=None, pattern=s.AGENT_NO)
    day: dt.date | None = Field(default=None, description="the local day of the misses")
    due: bool = Field(default=False, description="only entries that may be called now")
    limit: int = Field(default=100, ge=1, le=1000)


class EntryPath(Input):
    key: str = Field(pattern=_KEY, description="number@YYYY-MM-DD")


class ClaimBody(Input):
    agent: str | None = Field(
        default=None, pattern=s.AGENT_NO, description="for supervisors: the agent to assign"
    )


class SkipBody(Input):
    reason: str = Field(
        min_length=1, max_length=64, description="one of outbound.yaml skip_reasons"
    )


class OutcomeBody(Input):
    outcome: cb.Outcome


class NextCallback(BaseModel):
    entry: CallbackEntry | None = Field(description="the entry to offer this agent now, if any")
    reason: str | None = Field(
        description="why none: not_idle (the agent is not ready and free), inbound_first"
        " (callers are waiting), lines_full (max_lines outbound calls under way), none_due"
    )


class CallbackFigures(BaseModel):
    pending: int = Field(description="open entries")
    overdue: int = Field(description="open entries past their deadline")
    done_today: int = Field(description="called back today: reached, refused or wrong number")
    listed_today: int = Field(description="numbers that missed a call today")
    in_time_share: float | None = Field(
        description="of today's entries done or past their deadline, the share done in time"
    )


class DialCheckBody(Input):
    number: str = Field(min_length=1, max_length=40)


class DialCheck(BaseModel):
    allowed: bool
    number: str
    rule: str | None
    message: str
    presented_number: str = Field(description="the number the citizen will see")


class DialBody(Input):
    number: str = Field(min_length=1, max_length=40, description="the number to call")


class DialStarted(BaseModel):
    call_id: str = Field(description="the call out: rings my seat first, then the number")
    number: str = Field(description="the number as it is dialled")
    presented_number: str = Field(description="the number the citizen sees")
    callback: str | None = Field(default=None, description="the callback entry the call works")
    return_visit: str | None = Field(
        default=None, description="the ticket id of the return visit the call makes"
    )


class OutboundSettings(BaseModel):
    presented_number: str = Field(description="the number citizens see on calls out")
    work_order_url: str | None = Field(
        description="opened on answer; placeholders {call_id} {caller} {line} {department} {repeat}"
    )
    skip_reasons: list[str]
    outcomes: list[str]


# -- helpers ------------------------------------------------------------------


def config_of(request: web.Request) -> Config:
    return request.app[CONFIG].current


def now_of(request: web.Request) -> dt.datetime:
    engine = request.app.get(ENGINE)
    return engine.now_dt() if engine is not None else dt.datetime.now(dt.UTC)


def refused_error(exc: cb.Refusal) -> ApiError:
    status = 404 if exc.code == "unknown" else 409
    return ApiError(status, exc.code, exc.message)


def entry_model(entry: cb.Entry, config: Config, now: dt.datetime) -> CallbackEntry:
    policy = config.callback_policy()
    return CallbackEntry(
        key=entry.key,
        number=entry.number,
        day=entry.day,
        status=entry.status.value,
        queue=entry.misses[-1].queue,
        style=config.callback_style(entry.misses[-1].queue).value,
        misses=[
            MissOut(call_id=m.call_id, at=m.at, line=m.line, reason=m.reason.value, queue=m.queue)
            for m in entry.misses
        ],
        attempts=[
            AttemptOut(
                at=a.at,
                agent=a.agent,
                outcome=a.outcome.value if a.outcome else None,
                call_id=a.call_id,
            )
            for a in entry.attempts
        ],
        skips=[SkipOut(at=k.at, agent=k.agent, reason=k.reason) for k in entry.skips],
        claimed_by=entry.claimed_by,
        deadline=entry.deadline(policy),
        overdue=entry.overdue(policy, now),
        next_try_at=entry.next_try_at(policy),
        due=entry.due(policy, now),
        closed_at=entry.closed_at,
        cleared_by=entry.cleared_by,
    )


def _acting_agent(who: Principal, named: str | None, config: Config) -> str:
    """The agent a request acts for: an agent for themself, a supervisor for the one named."""
    if who.role is Role.AGENT:
        if named is not None and named != who.id:
            raise ApiError(403, "forbidden", "agent: an agent acts for themself only")
        return who.id
    if named is None:
        raise bad_request("agent", "name the agent to assign")
    if config.agent(named) is None:
        raise ApiError(404, "unknown_agent", f"agent: no agent {named!r}")
    return named


def _holder_check(who: Principal, entry: cb.Entry) -> None:
    if who.role is Role.AGENT and entry.claimed_by not in (None, who.id):
        raise cb.Refusal("not_yours", f"the callback is held by {entry.claimed_by}")


# -- callback list ----------------------------------------------------------


async def list_entries(request: web.Request) -> web.Response:
    principal(request, *WORKERS)
    query = query_of(request, EntryQuery)
    config, now = config_of(request), now_of(request)
    if query.status is EntryStatus.OPEN:
        status: list[str] | None = [st.value for st in cb.OPEN]
    elif query.status is EntryStatus.ALL:
        status = None
    else:
        status = [query.status.value]
    where = entries.EntryFilter(
        status=status,
        queue=query.queue,
        claimed_by=query.claimed_by,
        day=query.day,
        due_only=False,
        limit=1000 if query.due else query.limit,
    )
    async with request.app[DATABASE].connection() as conn:
        found = await entries.listing(conn, where, now)
    policy = config.callback_policy()
    if query.due:
        found = [e for e in found if e.due(policy, now)][: query.limit]
    return reply([entry_model(e, config, now) for e in found], kind=list[CallbackEntry])


async def _act(request: web.Request, change: Any, what: str) -> web.Response:
    who = principal(request, *WORKERS)
    key = path_of(request, EntryPath).key
    config, now = config_of(request), now_of(request)
    policy = config.callback_policy()

    def guarded(entry: cb.Entry) -> cb.Entry:
        if what != "claim":
            _holder_check(who, entry)
        result: cb.Entry = change(entry, now, policy)
        return result

    try:
        async with request.app[DATABASE].connection() as conn:
            entry = await entries.act(conn, key, guarded, policy)
    except cb.Refusal as exc:
        raise refused_error(exc) from None
    log.info(f"callback_{what}", by=who.id, caller=mask_number(entry.number),
             status=entry.status.value)  # fmt: skip
    return reply(entry_model(entry, config, now))


async def claim(request: web.Request) -> web.Response:
    who = principal(request, *WORKERS)
    body = await body_of(request, ClaimBody)
    agent = _acting_agent(who, body.agent, config_of(request))
    return await _act(request, lambda e, now, _p: cb.claim(e, agent, now), "claim")


async def release(request: web.Request) -> web.Response:
    return await _act(request, lambda e, _now, _p: cb.release(e), "release")


async def skip(request: web.Request) -> web.Response:
    who = principal(request, *WORKERS)
    body = await body_of(request, SkipBody)
    reasons = config_of(request).outbound.callbacks.skip_reasons
    if body.reason not in reasons:
        raise bad_request("reason", f"not a skip reason (configured: {', '.join(reasons)})")

    def change(entry: cb.Entry, now: dt.datetime, _policy: Any) -> cb.Entry:
        agent = entry.claimed_by if who.role is not Role.AGENT and entry.claimed_by else who.id
        return cb.skip(entry, agent, body.reason, now)

    return await _act(request, change, "skip")


async def outcome(request: web.Request) -> web.Response:
    who = principal(request, *WORKERS)
    body = await body_of(request, OutcomeBody)
    agent = who.id if who.role is Role.AGENT else None

    def change(entry: cb.Entry, now: dt.datetime, policy: cb.CallbackPolicy) -> cb.Entry:
        return cb.record_outcome(entry, body.outcome, now, policy, agent)

    return await _act(request, change, "outcome")


def _load(engine: Any, agent: str, active: int) -> tuple[bool, cb.Load]:
    """Whether ``agent`` is ready and free, and the centre's load (inbound first)."""
    views = engine.acd.agent_views()
    idle = [v for v in views if v.status is acd.AgentStatus.READY and v.state.value == "idle"]
    now = engine.now()
    waiting = 0
    for queue in engine.config.queues.queues:
        view = engine.acd.queue_view(acd.QueueId(queue), now)
        waiting += view.waiting if view is not None else 0
    me_idle = any(str(v.agent) == agent for v in idle)
    return me_idle, cb.Load(idle_agents=len(idle), inbound_waiting=waiting, outbound_active=active)


async def next_callback(request: web.Request) -> web.Response:
    """The callback to offer this agent now, inbound calls first (see :mod:`callbacks.pacing`)."""
    who = principal(request, Role.AGENT)
    config, now = config_of(request), now_of(request)
    policy = config.callback_policy()
    engine = request.app[ENGINE]
    async with request.app[DATABASE].connection() as conn:
        active = await conn.fetchval(
            "SELECT (SELECT count(*) FROM callback_entries WHERE status = 'dialling')"
            " + (SELECT count(*) FROM return_visits WHERE status = 'calling')"
        )
        me_idle, load = _load(engine, who.id, int(active))
        if not me_idle:
            return reply(NextCallback(entry=None, reason="not_idle"))
        if cb.agent_slots(load, config.visit_policy()) == 0:
            reason = "inbound_first" if load.inbound_waiting else "lines_full"
            return reply(NextCallback(entry=None, reason=reason))
        where = entries.EntryFilter(status=["pending"], due_only=True, limit=200)
        found = await entries.listing(conn, where, now)
    eligible = _eligible_queues(engine, who.id)
    for entry in found:
        queue = entry.misses[-1].queue
        if entry.due(policy, now) and (queue is None or queue in eligible):
            return reply(NextCallback(entry=entry_model(entry, config, now), reason=None))
    return reply(NextCallback(entry=None, reason="none_due"))


def _eligible_queues(engine: Any, agent: str) -> set[str]:
    return {queue for queue, agents in eligible_agents(engine).items() if agent in agents}


async def figures(request: web.Request) -> web.Response:
    principal(request, *FIGURE_READERS)
    config, now = config_of(request), now_of(request)
    async with request.app[DATABASE].connection() as conn:
        found = await entries.figures(conn, config.callback_policy(), now)
    return reply(
        CallbackFigures(
            pending=found.pending,
            overdue=found.overdue,
            done_today=found.done_today,
            listed_today=found.listed_today,
            in_time_share=found.in_time_share,
        )
    )


# -- dialling -------------------------------------------------------------------


async def settings(request: web.Request) -> web.Response:
    principal(request, Role.AGENT)
    config = config_of(request)
    return reply(
        OutboundSettings(
            presented_number=config.presented_number,
            work_order_url=config.outbound.work_order_url,
            skip_reasons=list(config.outbound.callbacks.skip_reasons),
            outcomes=[o.value for o in cb.Outcome],
        )
    )


async def dial_check(request: web.Request) -> web.Response:
    who = principal(request, Role.AGENT)
    body = await body_of(request, DialCheckBody)
    config = config_of(request)
    verdict = config.may_dial(who.id, body.number)
    if not verdict.allowed:
        writer = request.app.get(WRITER)
        if writer is not None:
            writer.submit(
                "audit",
                {
                    "at": now_of(request),
                    "actor": who.id,
                    "role": who.role.value,
                    "action": "dial_refused",
                    "target": f"number:{mask_number(verdict.number)}",
                    "allowed": False,
                    "detail": {"rule": verdict.rule, "message": verdict.message},
                },
            )
        mark_audited(request)
        log.info("dial_refused", agent=who.id, number=mask_number(verdict.number),
                 rule=verdict.rule)  # fmt: skip
    return reply(
        DialCheck(
            allowed=verdict.allowed,
            number=verdict.number,
            rule=verdict.rule,
            message=verdict.message,
            presented_number=config.presented_number,
        )
    )


def dial_refused(request: web.Request, exc: TransferRefused) -> ApiError:
    if exc.code == "dial_refused":
        mark_audited(request)  # the switchboard wrote the audit row
    return ApiError(exc.status, exc.code, exc.message)


async def dial(request: web.Request) -> web.Response:
    """Click-to-dial: my seat rings; once I answer, the number is dialled."""
    who = principal(request, Role.AGENT)
    body = await body_of(request, DialBody)
    config = config_of(request)
    try:
        call_id = request.app[ENGINE].dial(who.id, body.number, role=who.role.value)
    except TransferRefused as exc:
        raise dial_refused(request, exc) from None
    verdict = config.may_dial(who.id, body.number)
    log.info("click_to_dial", agent=who.id, number=mask_number(verdict.number), call_id=call_id)
    return reply(
        DialStarted(
            call_id=call_id, number=verdict.number, presented_number=config.presented_number
        )
    )


async def call_entry(request: web.Request) -> web.Response:
    """Preview's Call: the entry's attempt starts and my seat rings, then the citizen.

    The attempt is written before the call starts (so the call's end always
    finds it); when the engine refuses the call, the attempt is dropped again.
    """
    who = principal(request, Role.AGENT)
    key = path_of(request, EntryPath).key
    config, now = config_of(request), now_of(request)
    policy = config.callback_policy()
    engine = request.app[ENGINE]
    call_id = engine.executor.new_call_id()

    def start(entry: cb.Entry) -> cb.Entry:
        _holder_check(who, entry)
        return cb.dial(entry, who.id, now, policy, call_id)

    db = request.app[DATABASE]
    try:
        async with db.connection() as conn:
            entry = await entries.act(conn, key, start, policy)
    except cb.Refusal as exc:
        raise refused_error(exc) from None
    last = entry.misses[-1]
    try:
        engine.dial(
            who.id, entry.number, role=who.role.value, callback=key,
            missed_call_id=last.call_id, queue=last.queue, call_id=call_id,
        )  # fmt: skip
    except TransferRefused as exc:
        async with db.connection() as conn:
            await entries.act(conn, key, lambda e: cb.drop_attempt(e, call_id), policy)
        raise dial_refused(request, exc) from None
    log.info("callback_call", by=who.id, caller=mask_number(entry.number), call_id=call_id)
    return reply(
        DialStarted(
            call_id=call_id,
            number=entry.number,
            presented_number=config.presented_number,
            callback=key,
        )
    )


def add_routes(app: web.Application) -> None:
    entry = "/api/callbacks/{key}"
    ops = [
        Operation("GET", "/api/callbacks", list_entries, "callbacks_list",
                  "The missed-call callback list (漏接回拨), nearest deadline first", TAG,
                  WORKERS, query=EntryQuery, response=list[CallbackEntry], errors=(503,)),
        Operation("GET", "/api/callbacks/figures", figures, "callbacks_figures",
                  "Pending, overdue, done today, and the share called back in time", TAG,
                  FIGURE_READERS, response=CallbackFigures, errors=(503,)),
        Operation("GET", "/api/agents/me/next-callback", next_callback, "agent_next_callback",
                  "The callback to offer me now: only when I am free and no caller waits",
                  TAG, (Role.AGENT,), response=NextCallback, errors=(503,)),
        Operation("POST", f"{entry}/claim", claim, "callbacks_claim",
                  "Claim an entry (an agent for themself; a supervisor assigns an agent)", TAG,
                  WORKERS, path_params=EntryPath, body=ClaimBody, response=CallbackEntry,
                  errors=(404, 409, 503)),
        Operation("POST", f"{entry}/release", release, "callbacks_release",
                  "Give a claimed entry back to the list", TAG, WORKERS,
                  path_params=EntryPath, response=CallbackEntry, errors=(404, 409, 503)),
        Operation("POST", f"{entry}/skip", skip, "callbacks_skip",
                  "Skip an entry with a configured reason (preview's Skip)", TAG, WORKERS,
                  path_params=EntryPath, body=SkipBody, response=CallbackEntry,
                  errors=(404, 409, 503)),
        Operation("POST", f"{entry}/outcome", outcome, "callbacks_outcome",
                  "Record how the call to the citizen ended", TAG, WORKERS,
                  path_params=EntryPath, body=OutcomeBody, response=CallbackEntry,
                  errors=(404, 409, 503)),
        Operation("POST", f"{entry}/call", call_entry, "callbacks_call",
                  "Call the entry's citizen (preview's Call): my seat rings, then the number;"
                  " the call's outcome is written to the attempt", TAG, (Role.AGENT,),
                  path_params=EntryPath, response=DialStarted,
                  errors=(403, 404, 409, 503)),
        Operation("POST", "/api/agents/me/dial", dial, "agent_dial",
                  "Click-to-dial: my seat rings, then the number (outbound.yaml dial rules;"
                  " a refusal is audited)", TAG, (Role.AGENT,), body=DialBody,
                  response=DialStarted, errors=(403, 409, 503)),
        Operation("GET", "/api/agents/me/outbound", settings, "agent_outbound_settings",
                  "The toolbar's calls-out settings: work-order URL template, skip reasons",
                  TAG, (Role.AGENT,), response=OutboundSettings),
        Operation("POST", "/api/agents/me/dial-check", dial_check, "agent_dial_check",
                  "May I dial this number? (outbound.yaml dial rules; a refusal is audited)",
                  TAG, (Role.AGENT,), body=DialCheckBody, response=DialCheck),
    ]  # fmt: skip
    for op in ops:
        register(app, op)
