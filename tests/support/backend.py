"""A work-order backend for tests: an aiohttp server on 127.0.0.1 that records every request.

It speaks the ticket contract (``POST /tickets``, ``POST /tickets/{id}/updates``,
``Idempotency-Key`` on both) and de-duplicates by key like a well-behaved
backend should: a key it already accepted gets the same ticket back with a 200
and makes nothing new.  Tests count what it received (``received``,
``keys_received()``) and what it accepted (``accepted_creates``) to prove
exactly-once.

Faults on demand: :meth:`fail_with` (any status, for a number of requests or
until :meth:`recover`), :meth:`hang` (requests wait until released, then
are processed, like a slow backend whose answer came too late),
:meth:`refuse` (stop listening and drop open connections) and
:meth:`reject_if` (a 422 for the bodies a predicate picks).

Also here: :func:`eventually` (wait for a condition under a deadline),
:func:`open_db` and :func:`sample_ticket` for the ticket tests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
from aiohttp import web

from cti.store import Database
from cti.tickets import (
    Agents,
    Caller,
    LegOutcome,
    MenuStep,
    MergedLine,
    Rating,
    Ticket,
    TicketKind,
    Timestamps,
    TransferKind,
    TransferLeg,
    call_started_json_schema,
    rating_update_json_schema,
    recording_url,
    return_visit_json_schema,
    ticket_json_schema,
)


@dataclass
class Received:
    """One request as the backend saw it; ``status`` is None while it is unanswered."""

    method: str
    path: str
    key: str | None
    body: Any
    authorization: str | None
    at: float = field(default_factory=time.monotonic)
    status: int | None = None


@dataclass
class BackendTicket:
    id: str
    key: str
    body: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)


class TicketBackend:
    """The test backend.  ``async with TicketBackend() as backend: backend.url``."""

    def __init__(self, *, token: str | None = None, id_field: str = "id") -> None:
        self.token = token
        self.id_field = id_field
        self.received: list[Received] = []
        self.tickets: dict[str, BackendTicket] = {}
        self.accepted_creates = 0
        self.accepted_updates = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.overlapping_keys: list[str] = []  # a key received while the same key was in flight
        self._keys_in_flight: Counter[str] = Counter()
        self._by_key: dict[str, tuple[str, str]] = {}  # key -> (ticket id, body digest)
        self._ids = itertools.count(1)
        self._fail_status: int | None = None
        self._fail_left: int | None = None
        self._hang = asyncio.Event()
        self._hang.set()
        self._reject: Callable[[dict[str, Any]], str | None] | None = None
        self.before_create: Callable[[Received], Awaitable[None]] | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._validators = {
            "create": jsonschema_rs.validator_for(ticket_json_schema()),
            "update": jsonschema_rs.validator_for(rating_update_json_schema()),
            "return_visit": jsonschema_rs.validator_for(return_visit_json_schema()),
            "call_started": jsonschema_rs.validator_for(call_started_json_schema()),
        }
        self.calls_started: dict[str, dict[str, Any]] = {}  # call id -> the notice
        self.return_visits: dict[str, list[dict[str, Any]]] = {}  # ticket id -> results

    def __repr__(self) -> str:
        return f"<TicketBackend :{self.port} received={len(self.received)}>"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life ------------------------------------------------------------------

    async def start(self) -> TicketBackend:
        await self._listen()
        return self

    async def stop(self) -> None:
        self._hang.set()
        await self._close()

    async def __aenter__(self) -> TicketBackend:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post("/tickets", self._tracked(self._create))
        app.router.add_post("/tickets/{ticket_id}/updates", self._tracked(self._update))
        app.router.add_post("/tickets/{ticket_id}/return-visits", self._tracked(self._return_visit))
        app.router.add_post("/calls/{call_id}/started", self._tracked(self._call_started))
        runner = web.AppRunner(app, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        if not self.port:
            self.port = runner.addresses[0][1]
        self._runner = runner

    async def _close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- faults ----------------------------------------------------------------

    def fail_with(self, status: int, times: int | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (all, if None)."""
        self._fail_status, self._fail_left = status, times

    def hang(self) -> None:
        """Hold every request until :meth:`recover`, then process it (too late for the client)."""
        self._hang.clear()

    async def refuse(self) -> None:
        """Stop listening and drop open connections: clients get 'connection refused'."""
        await self._close()

    def reject_if(self, predicate: Callable[[dict[str, Any]], str | None] | None) -> None:
        """A 422 with the predicate's reason for the create bodies it returns a reason for."""
        self._reject = predicate

    async def recover(self) -> None:
        """Back to normal: no failures, held requests released, listening."""
        self._fail_status = self._fail_left = None
        self._hang.set()
        if self._runner is None:
            await self._listen()

    # -- what was received -----------------------------------------------------

    def keys_received(self, path_prefix: str = "/tickets") -> Counter[str]:
        return Counter(r.key or "" for r in self.received if r.path.startswith(path_prefix))

    def creates_received(self) -> list[Received]:
        return [r for r in self.received if r.path == "/tickets"]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait, under a deadline, until ``predicate()`` holds after some request."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def _note(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- handlers --------------------------------------------------------------

    def _tracked(
        self, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def counted(request: web.Request) -> web.Response:
            key = request.headers.get("Idempotency-Key", "")
            if self._keys_in_flight[key]:
                self.overlapping_keys.append(key)
            self._keys_in_flight[key] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1
                self._keys_in_flight[key] -= 1

        return counted

    async def _admit(self, request: web.Request, kind: str) -> tuple[Received, web.Response | None]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        seen = Received(
            request.method,
            request.path,
            request.headers.get("Idempotency-Key"),
            body,
            request.headers.get("Authorization"),
        )
        self.received.append(seen)
        await self._note()
        await self._hang.wait()
        if self._fail_status is not None:
            status = self._fail_status
            if self._fail_left is not None:
                self._fail_left -= 1
                if self._fail_left <= 0:
                    self._fail_status = self._fail_left = None
            return seen, web.json_response({"error": "injected"}, status=status)
        if self.token is not None and seen.authorization != f"Bearer {self.token}":
            return seen, web.json_response({"error": "unauthorised"}, status=401)
        if not seen.key:
            return seen, web.json_response({"error": "Idempotency-Key missing"}, status=400)
        if not isinstance(body, dict):
            return seen, web.json_response({"error": "body is not a JSON object"}, status=400)
        errors = [e.message for e in self._validators[kind].iter_errors(body)]
        if errors:
            return seen, web.json_response({"error": "schema", "details": errors}, status=422)
        return seen, None

    async def _answer(self, seen: Received, response: web.Response) -> web.Response:
        seen.status = response.status
        await self._note()
        return response

    async def _create(self, request: web.Request) -> web.Response:
        seen, refusal = await self._admit(request, "create")
        if refusal is not None:
            return await self._answer(seen, refusal)
        if self.before_create is not None:
            await self.before_create(seen)
        assert seen.key is not None
        digest = json.dumps(seen.body, sort_keys=True)
        if seen.key in self._by_key:
            ticket_id, first = self._by_key[seen.key]
            if first != digest:
                body = {"error": "Idempotency-Key reused with another body"}
                return await self._answer(seen, web.json_response(body, status=422))
            return await self._answer(seen, web.json_response({self.id_field: ticket_id}))
        reason = self._reject(seen.body) if self._reject is not None else None
        if reason is not None:
            body = {"error": "invalid", "reason": reason}
            return await self._answer(seen, web.json_response(body, status=422))
        ticket_id = f"WO{next(self._ids):06d}"
        self._by_key[seen.key] = (ticket_id, digest)
        self.tickets[ticket_id] = BackendTicket(ticket_id, seen.key, seen.body)
        self.accepted_creates += 1
        answer = {self.id_field: ticket_id} if self.id_field else {"ok": True}
        return await self._answer(seen, web.json_response(answer, status=201))

    async def _update(self, request: web.Request) -> web.Response:
        seen, refusal = await self._admit(request, "update")
        if refusal is not None:
            return await self._answer(seen, refusal)
        assert seen.key is not None
        ticket = self.tickets.get(request.match_info["ticket_id"])
        if ticket is None:
            return await self._answer(seen, web.json_response({"error": "no ticket"}, status=404))
        if seen.key in self._by_key:
            return await self._answer(seen, web.json_response({"ticket_id": ticket.id}))
        self._by_key[seen.key] = (ticket.id, json.dumps(seen.body, sort_keys=True))
        ticket.updates.append(seen.body)
        self.accepted_updates += 1
        return await self._answer(seen, web.json_response({"ticket_id": ticket.id}, status=201))

    async def _return_visit(self, request: web.Request) -> web.Response:
        """A return visit's result for a ticket of the backend's own (any id is accepted)."""
        seen, refusal = await self._admit(request, "return_visit")
        if refusal is not None:
            return await self._answer(seen, refusal)
        assert seen.key is not None and isinstance(seen.body, dict)
        ticket_id = request.match_info["ticket_id"]
        if seen.key in self._by_key:
            return await self._answer(seen, web.json_response({"ticket_id": ticket_id}))
        self._by_key[seen.key] = (ticket_id, json.dumps(seen.body, sort_keys=True))
        self.return_visits.setdefault(ticket_id, []).append(seen.body)
        return await self._answer(seen, web.json_response({"ticket_id": ticket_id}, status=201))

    async def _call_started(self, request: web.Request) -> web.Response:
        seen, refusal = await self._admit(request, "call_started")
        if refusal is not None:
            return await self._answer(seen, refusal)
        assert isinstance(seen.body, dict)
        self.calls_started.setdefault(request.match_info["call_id"], seen.body)
        return await self._answer(seen, web.json_response({"ok": True}, status=202))


# -- for the ticket tests ---------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, every: float = 0.02
) -> None:
    """Poll ``check`` until it holds; fail with TimeoutError at the deadline.

    For outcomes that live in the database, which offers no event to await here.
    """
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling the database under a deadline
            await asyncio.sleep(every)


@asynccontextmanager
async def open_db(dsn: str) -> AsyncIterator[Database]:
    db = Database(dsn, min_size=1, max_size=8)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


BASE_TIME = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


def sample_ticket(call_id: str, **changes: Any) -> Ticket:
    """A complete answered-call ticket for a merged line, with one transfer leg."""
    arrived = BASE_TIME
    fields: dict[str, Any] = {
        "kind": TicketKind.CALL,
        "call_id": call_id,
        "caller": Caller(number="13800138000", name="王女士"),
        "dialled": "85098110",
        "merged_line": MergedLine(
            original_number="85098110", department="文广旅局", line_name="旅游投诉"
        ),
        "menu_path": [
            MenuStep(menu="main", node="welcome", result="played", at=arrived),
            MenuStep(
                menu="main",
                node="topics",
                result="chosen",
                keys="2",
                at=arrived + timedelta(seconds=4),
            ),
        ],
        "tags": {"channel": "merged"},
        "queue": "general",
        "agents": Agents(first_contact="a1001", others=["a1002"]),
        "times": Timestamps(
            arrived_at=arrived,
            queued_at=arrived + timedelta(seconds=5),
            answered_at=arrived + timedelta(seconds=12),
            ended_at=arrived + timedelta(seconds=200),
        ),
        "rating": None,
        "transfers": [
            TransferLeg(
                kind=TransferKind.ATTENDED,
                target="a1002",
                started_by="a1001",
                started_at=arrived + timedelta(seconds=90),
                outcome=LegOutcome.COMPLETED,
                duration_s=20.5,
            )
        ],
        "recording_url": recording_url("https://cti.test/api/recordings", call_id),
    }
    fields.update(changes)
    return Ticket(**fields)


def sample_rating(level: int = 5) -> Rating:
    return Rating(level=level, label="非常满意", rated_at=BASE_TIME + timedelta(seconds=230))
