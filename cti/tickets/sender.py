"""The sender: a background task that posts outbox rows to the work-order backend.

Theory of operation
-------------------
One loop claims due rows (see :mod:`cti.tickets.rows`: a lease taken with
``FOR UPDATE SKIP LOCKED``) up to ``max_in_flight`` at a time and starts one
delivery task per row.  Between rounds it waits for whichever comes first: a
``NOTIFY`` from a new row (a listener connection), a delivery finishing, the
next row coming due, or the poll interval.

A delivery posts the row once and settles it in the database:

* create: ``POST {backend}/tickets`` with ``Idempotency-Key: <call id>``;
* rating update: ``POST {backend}/tickets/{ticket_id}/updates`` with
  ``Idempotency-Key: <call id>:rating``, only after the create was delivered
  and its ticket id stored.

Exactly once rests on the Idempotency-Key.  All state is in PostgreSQL, so a
restarted engine sends every undelivered row.  A row whose POST may have
reached the backend before a crash (posted, but not yet marked delivered) is
posted again with the same key, and the backend answers with the ticket it
already made.  The sender never sends a row twice at the same time: a row
it still works on is not claimed again, even when its lease ran out (a
stalled loop, a result waiting for the database).  But it cannot know
whether a lost request arrived.  That is why the key exists.

Faults: 5xx, timeouts and refused connections are retried with exponential
backoff and full jitter, for as long as it takes; a 4xx parks the row as
``rejected``.  A database that goes away (``StoreError``) is waited out with
the same backoff; the sender keeps the result of a finished POST in memory
and retries writing it, so the database being down does not cause a
re-send.  Nothing a backend or database does ends the loop.  An unexpected
exception is logged, kept, and raised by :meth:`TicketSender.stop` as
:class:`SenderFailed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from cti.errors import StoreError
from cti.logs import mask_text
from cti.store import Database
from cti.tickets import rows
from cti.tickets.client import Attempt, BackendClient, describe
from cti.tickets.errors import SenderConfigError, SenderFailed
from cti.tickets.policy import Verdict, backoff_delay
from cti.tickets.settings import SenderSettings

log = structlog.get_logger("cti.tickets")

_MIN_IDLE_S = 0.01
_GIVE_BACK_TIMEOUT_S = 2.0


@dataclass(slots=True)
class SenderCounters:
    """What this sender did since it started, for ``/metrics``."""

    delivered: int = 0
    retried: int = 0
    rejected: int = 0
    store_errors: int = 0


def _setter(event: asyncio.Event) -> Callable[..., None]:
    return lambda *_: event.set()


class TicketSender:
    """Posts outbox rows to the backend until stopped.  Use as an async context or
    call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        db: Database,
        settings: SenderSettings,
        *,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._rand = rand or random.Random().random
        self._client = BackendClient(settings)
        self.engine_id = settings.engine_id or (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self.counters = SenderCounters()
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._held: dict[int, rows.Claim] = {}  # leases this sender holds
        self._tasks: list[asyncio.Task[None]] = []
        self._faults: list[BaseException] = []
        self.listening = False  # a NOTIFY listener is active: new rows go out at once

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<TicketSender {self.engine_id} {state} in_flight={len(self._in_flight)}>"

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not all(t.done() for t in self._tasks)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wake(self) -> None:
        """Look for due rows now (the NOTIFY listener calls this too)."""
        self._wake.set()

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Read the token, open the HTTP session, start the loop and the listener."""
        if self._tasks:
            raise SenderConfigError("the sender is already started")
        self._client.open()
        if self._settings.engine_id:
            await self._release_lapsed_claims()
        self._tasks = [
            asyncio.create_task(self._run(), name="ticket-sender"),
            asyncio.create_task(self._listen(), name="ticket-sender-listen"),
        ]
        log.info("ticket_sender_started", engine=self.engine_id, backend=self._client.base_url)

    async def stop(self) -> None:
        """Stop; rows in flight are given back to be sent again with the same key.

        Raises :class:`SenderFailed` if an unexpected fault happened while running.
        """
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.close()
        if tasks:
            log.info("ticket_sender_stopped", engine=self.engine_id)
        if self._faults:
            raise SenderFailed(list(self._faults))

    async def __aenter__(self) -> TicketSender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _release_lapsed_claims(self) -> None:
        try:
            async with rows.connection(self._db) as conn:
                count = await rows.release_lapsed_claims(conn, self.engine_id)
        except StoreError as exc:
            # Not fatal: those rows come due when their lease runs out.
            log.warning("ticket_store_unavailable", during="start", error=str(exc))
            return
        if count:
            log.info("ticket_claims_released", engine=self.engine_id, rows=count)

    # -- the loop --------------------------------------------------------------

    async def _run(self) -> None:
        store_failures = 0
        try:
            while True:
                self._wake.clear()
                timeout = self._settings.poll_interval_s
                free = self._settings.max_in_flight - len(self._in_flight)
                if free > 0:
                    try:
                        claims, due_in = await self._claim(free)
                    except StoreError as exc:
                        store_failures += 1
                        self.counters.store_errors += 1
                        timeout = self._backoff(store_failures)
                        log.warning(
                            "ticket_store_unavailable",
                            during="claim",
                            error=str(exc),
                            retry_in_s=round(timeout, 3),
                        )
                    except Exception as exc:  # a defect: keep it, keep running
                        store_failures += 1
                        self._fault(exc, "claim")
                        timeout = self._backoff(store_failures)
                    else:
                        store_failures = 0
                        for claim in claims:
                            self._spawn(claim)
                        if len(claims) == free:
                            continue
                        if due_in is not None:
                            timeout = min(timeout, max(due_in, _MIN_IDLE_S))
                await self._idle(timeout)
        finally:
            await self._cancel_in_flight()

    async def _claim(self, limit: int) -> tuple[list[rows.Claim], float | None]:
        # A claim cancelled half-way may still have committed on the server:
        # let it finish, then hand its rows back, so that no lease outlives us.
        claiming = asyncio.ensure_future(self._claim_now(limit))
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            try:
                async with asyncio.timeout(_GIVE_BACK_TIMEOUT_S):
                    claims, _ = await claiming
            except Exception:  # StoreError, TimeoutError, or a defect: stop regardless
                raise asyncio.CancelledError from None
            for claim in claims:
                await self._give_back(claim, None)
            raise

    async def _claim_now(self, limit: int) -> tuple[list[rows.Claim], float | None]:
        async with rows.connection(self._db) as conn:
            held = list(self._held)
            claims = await rows.claim(conn, limit, self._settings.lease_s, self.engine_id, held)
            due_in = None if len(claims) == limit else await rows.next_due_in(conn, held)
        return claims, due_in

    async def _idle(self, timeout: float) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {waiter, *self._in_flight}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()

    def _spawn(self, claim: rows.Claim) -> None:
        self._held[claim.outbox_id] = claim
        task = asyncio.create_task(self._deliver(claim), name=f"ticket-{claim.outbox_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._delivery_done)

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._fault(task.exception(), "deliver")  # type: ignore[arg-type]

    async def _cancel_in_flight(self) -> None:
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A task cancelled before it ever ran never gave its lease back.
        for claim in list(self._held.values()):
            await self._give_back(claim, None)
        self._held.clear()

    def _fault(self, exc: BaseException, during: str) -> None:
        self._faults.append(exc)
        log.error("ticket_sender_fault", during=during, error=describe(exc), exc_info=exc)

    def _backoff(self, attempt: int) -> float:
        s = self._settings
        return backoff_delay(attempt, s.backoff_base_s, s.backoff_cap_s, self._rand)

    # -- the NOTIFY listener ---------------------------------------------------

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with rows.connection(self._db) as conn:
                    lost = asyncio.Event()
                    conn.add_termination_listener(_setter(lost))
                    await conn.add_listener(rows.NOTIFY_CHANNEL, self._on_notify)
                    failures = 0
                    self.listening = True
                    # Rows may have been written while nobody listened.
                    self._wake.set()
                    try:
                        await lost.wait()
                    finally:
                        self.listening = False
                        if not conn.is_closed():
                            with contextlib.suppress(Exception):
                                await conn.remove_listener(rows.NOTIFY_CHANNEL, self._on_notify)
            except StoreError as exc:
                failures += 1
                delay = self._backoff(failures)
                log.warning(
                    "ticket_store_unavailable",
                    during="listen",
                    error=str(exc),
                    retry_in_s=round(delay, 3),
                )
                await asyncio.sleep(delay)  # backoff before reconnecting, not synchronisation
            except Exception as exc:  # a defect: keep it, keep listening
                failures += 1
                self._fault(exc, "listen")
                await asyncio.sleep(self._backoff(failures))

    # -- one delivery ----------------------------------------------------------

    async def _deliver(self, claim: rows.Claim) -> None:
        try:
            try:
                attempt = await self._client.post(claim)
            except asyncio.CancelledError:
                await self._give_back(claim, None)
                raise
            try:
                await self._settle(claim, attempt)
            except asyncio.CancelledError:
                await self._give_back(claim, attempt)
                raise
        finally:
            self._held.pop(claim.outbox_id, None)

    async def _settle(self, claim: rows.Claim, attempt: Attempt) -> None:
        delay = self._backoff(claim.attempts) if attempt.verdict is Verdict.RETRY else 0.0
        failures = 0
        while True:
            try:
                async with rows.connection(self._db) as conn:
                    await self._write(conn, claim, attempt, delay)
                    self._report(claim, attempt, delay)  # committed: each write commits itself
                return
            except StoreError as exc:
                failures += 1
                self.counters.store_errors += 1
                wait = self._backoff(failures)
                log.warning(
                    "ticket_store_unavailable",
                    during="settle",
                    call_id=claim.call_id,
                    outbox_id=claim.outbox_id,
                    error=str(exc),
                    retry_in_s=round(wait, 3),
                )
                await asyncio.sleep(wait)  # backoff before writing again

    async def _write(self, conn: Any, claim: rows.Claim, attempt: Attempt, delay: float) -> None:
        if attempt.verdict is Verdict.DELIVERED:
            assert attempt.http_status is not None
            await rows.mark_delivered(
                conn, claim, attempt.http_status, attempt.body, attempt.ticket_id
            )
        elif attempt.verdict is Verdict.RETRY:
            await rows.mark_retry(
                conn,
                claim,
                delay,
                attempt.error or "",
                attempt.http_status,
                attempt.body or None,
            )
        else:
            await rows.mark_rejected(
                conn, claim, attempt.http_status, attempt.body, attempt.error or ""
            )

    def _report(self, claim: rows.Claim, attempt: Attempt, delay: float) -> None:
        fields: dict[str, Any] = {
            "call_id": claim.call_id,
            "outbox_id": claim.outbox_id,
            "kind": claim.kind,
            "attempt": claim.attempts,
            "caller": claim.caller_masked,
        }
        if attempt.verdict is Verdict.DELIVERED:
            self.counters.delivered += 1
            log.info(
                "ticket_delivered",
                ticket_id=attempt.ticket_id,
                status=attempt.http_status,
                **fields,
            )
            if claim.kind == rows.CREATE and attempt.ticket_id is None:
                log.warning("ticket_delivered_without_id", **fields)
        elif attempt.verdict is Verdict.RETRY:
            self.counters.retried += 1
            log.warning(
                "ticket_retry",
                status=attempt.http_status,
                error=attempt.error,
                retry_in_s=round(delay, 3),
                **fields,
            )
        else:
            self.counters.rejected += 1
            log.error(
                "ticket_rejected",
                status=attempt.http_status,
                error=attempt.error,
                response=mask_text(attempt.body[:300]),
                **fields,
            )

    async def _give_back(self, claim: rows.Claim, attempt: Attempt | None) -> None:
        """On stop: record a finished delivery, or release the lease so the row goes out
        again (same key) from the next sender.  Best effort: if the database is away the
        lease simply runs out."""
        try:
            async with asyncio.timeout(_GIVE_BACK_TIMEOUT_S), rows.connection(self._db) as conn:
                if attempt is not None and attempt.verdict is Verdict.DELIVERED:
                    await self._write(conn, claim, attempt, 0.0)
                else:
                    await rows.release(conn, claim)
        except (StoreError, TimeoutError, asyncio.CancelledError) as exc:
            log.warning(
                "ticket_give_back_failed",
                call_id=claim.call_id,
                outbox_id=claim.outbox_id,
                error=describe(exc),
            )
