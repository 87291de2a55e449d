"""One engine among several: standing by, active, or deposed.

Theory of operation
-------------------
Engines configured with ``availability:`` in ``engine.yaml`` share one
PostgreSQL and compete for a :class:`~cti.lease.Lease` named after their Stasis
application.  Each starts as a **standby**: configuration loaded, database
connected, HTTP up, and *not* subscribed to the ARI application — Asterisk
gives an application to one WebSocket at a time, and a second one replaces the
first (``ApplicationReplaced``, ``application_replaced.jsonl``).  Every
``renew_seconds`` it asks for the lease.

The engine that gets it becomes **active**: it renews the lease every
``renew_seconds`` and runs ``activate`` — the same start a restarted engine
makes (agents restored, the ARI and AMI links opened, the calls in progress
adopted from Asterisk's channels).

The active engine is **deposed** when it can no longer prove it holds the
lease: a renewal finds another holder, its own view of the lease ran out
(:meth:`Lease.held`: after a freeze, before it hears from the database), the
ARI application was taken by another WebSocket (``ApplicationReplaced``), or
the links could not be opened.  From that moment :meth:`Availability.fence`,
which the ARI client asks before each ``POST``/``PUT``/``DELETE``, refuses every
request that changes a call, and :attr:`Availability.deposed` is set: the process
stops this engine and starts again as a standby, with a fresh state.
It never reconnects to the application on its own.

The roles and their moves are the table :data:`MOVES`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from enum import StrEnum

import structlog

from cti.errors import CtiError, StoreError
from cti.lease import Lease

log = structlog.get_logger("cti.availability")


class Role(StrEnum):
    STANDBY = "standby"
    ACTIVE = "active"
    DEPOSED = "deposed"
    STOPPED = "stopped"


MOVES: dict[Role, frozenset[Role]] = {
    Role.STANDBY: frozenset({Role.ACTIVE, Role.STOPPED}),
    Role.ACTIVE: frozenset({Role.DEPOSED, Role.STOPPED}),
    Role.DEPOSED: frozenset({Role.STOPPED}),
    Role.STOPPED: frozenset(),
}


class IllegalRoleMove(CtiError):
    def __init__(self, old: Role, new: Role) -> None:
        super().__init__(f"illegal role move {old} -> {new}")
        self.old, self.new = old, new


class Availability:
    """The role of this engine; ``activate`` starts its links once it is active (the
    process closes them when it stops the engine)."""

    def __init__(
        self,
        lease: Lease,
        *,
        renew_seconds: float,
        activate: Callable[[], Awaitable[None]],
    ) -> None:
        self.lease = lease
        self.renew_seconds = renew_seconds
        self.role = Role.STANDBY
        self.reason = ""
        self.deposed = asyncio.Event()
        self.active = asyncio.Event()
        self._activate = activate
        self._task: asyncio.Task[None] | None = None
        self._activation: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Availability {self.role} {self.lease!r}>"

    # -- the fence ---------------------------------------------------------------

    def fence(self) -> int | None:
        """The fencing token, when this engine may change calls now; ``None`` otherwise
        (and an active engine whose lease ran out is deposed on the spot).  The ARI
        client asks before every request that changes a call."""
        if self.role is Role.ACTIVE and self.lease.held() and self.lease.token is not None:
            return self.lease.token
        if self.role is Role.ACTIVE:
            self.depose("the lease ran out before it was renewed")
        return None

    def may_write(self) -> bool:
        """Whether what this engine records still counts: not once it was deposed, nor
        when an active engine's lease ran out (it is deposed on the spot)."""
        if self.role is Role.ACTIVE:
            return self.fence() is not None
        return self.role is not Role.DEPOSED

    def depose(self, reason: str) -> None:
        """Stop acting as the active engine at once (idempotent)."""
        if self.role is not Role.ACTIVE:
            return
        self.lease.forget()
        self._move(Role.DEPOSED)
        self.reason = reason
        log.warning("engine_deposed", reason=reason, token=self.lease.token)
        self.deposed.set()

    @property
    def holder_address(self) -> str:
        """The HTTP address of the active engine, as far as this one knows ('' if none)."""
        current = self.lease.current
        return current.address if current is not None and current.live else ""

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="availability")

    async def stop(self) -> None:
        """Stop: an active engine gives its lease up so that a standby takes over at once."""
        was = self.role
        if self.role is not Role.STOPPED:
            self._move(Role.STOPPED)
        for task in (self._activation, self._task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if was is Role.ACTIVE:
            await self.lease.release()
        await self.lease.close()

    async def _run(self) -> None:
        while self.role is Role.STANDBY:
            try:
                if await self.lease.try_acquire():
                    break
            except StoreError as exc:
                log.info("lease_unavailable", error=str(exc))
            await asyncio.sleep(self.renew_seconds)  # the next ask: a period, not a wait
        if not self._still(Role.STANDBY):
            return
        self._move(Role.ACTIVE)
        log.info("engine_active", token=self.lease.token, holder=self.lease.holder)
        self.active.set()
        self._activation = asyncio.create_task(self._start_links(), name="activation")
        while self._still(Role.ACTIVE):
            await asyncio.sleep(self.renew_seconds)  # the renewal period
            if not self._still(Role.ACTIVE):
                return
            if not self.lease.held():
                self.depose("the lease ran out before it was renewed")
                return
            try:
                if not await self.lease.renew():
                    self.depose("another engine holds the lease")
                    return
            except StoreError as exc:
                log.warning("lease_renewal_failed", error=str(exc), left=self.lease.remaining())

    async def _start_links(self) -> None:
        try:
            await self._activate()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("activation_failed", error=str(exc))
            self.depose(f"the links could not be opened: {exc}")

    def _still(self, role: Role) -> bool:
        """Whether the role is ``role`` now (others move it while this task awaits)."""
        return self.role is role

    def _move(self, new: Role) -> None:
        if new not in MOVES[self.role]:
            raise IllegalRoleMove(self.role, new)
        self.role = new
