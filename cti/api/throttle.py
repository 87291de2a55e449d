"""Failed-login throttling and PIN checks apart from every other work.

Any login path (the agents' PIN login, the bearer tokens of the other roles,
a person's login) uses the same two pieces:

- :class:`LoginThrottle` counts failures per *key* — an account
  (``agent:1003``) and the client address (``address:10.0.0.7``) — and
  refuses further attempts for ``lockout_seconds`` once ``failures`` of them
  happened within ``window_seconds``.  It is asked *before* any PIN is
  hashed or token compared: :meth:`LoginThrottle.admit` answers a
  :class:`Refusal` (the caller answers ``429`` with ``Retry-After``, whatever
  the credentials, so a correct PIN during a lock-out is refused too) or an
  :class:`Attempt`, which the caller closes with :meth:`Attempt.failed` or
  :meth:`Attempt.succeeded`.  Attempts under way count against the limit,
  so a burst of concurrent guesses gets no more tries than a sequence, and
  an account has one attempt under way at a time (a person never needs two).
  A refusal says whether it is the first of its lock-out, so a caller can
  audit one row per lock-out rather than one per guess.
- :class:`PinVerifier` runs the PBKDF2 checks on threads of its own, with a
  bounded number waiting (more are :class:`Busy`), so a flood of logins
  never holds up recordings, configuration checks or anything else on the
  shared thread pool.  An unknown account's answer waits as long as a real
  check takes, without hashing: its timing tells nothing, and guesses at
  made-up accounts cost no CPU, while guesses at real ones are bounded by
  the per-account throttle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cti.config import verify_pin
from cti.config.pins import DEFAULT_ITERATIONS, SCHEME


@dataclass(frozen=True, slots=True)
class Limit:
    """``failures`` within ``window_s`` lock a key for ``lockout_s``."""

    failures: int
    window_s: float
    lockout_s: float


@dataclass(slots=True)
class _Key:
    failures: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    locked_until: float = 0.0
    refusals: int = 0  # refusals during the current lock-out


@dataclass(frozen=True, slots=True)
class Refusal:
    """An attempt refused without checking it: answer 429 with ``Retry-After``."""

    key: str
    retry_after_s: float
    first_of_lockout: bool
    """True for the first refusal of a lock-out (audit it; the later ones are counted)."""

    @property
    def target(self) -> str:
        """What is locked: the account (``agent:1003``) or ``address:...``."""
        return self.key.removeprefix("account:")

    @property
    def retry_after_header(self) -> str:
        return str(max(1, int(self.retry_after_s + 0.999)))


class Attempt:
    """An admitted attempt; close it with :meth:`failed` or :meth:`succeeded`."""

    __slots__ = ("_closed", "_keys", "_throttle")

    def __init__(self, throttle: LoginThrottle, keys: list[tuple[str, Limit]]) -> None:
        self._throttle = throttle
        self._keys = keys
        self._closed = False

    def failed(self) -> list[str]:
        """Count the failure; what it locked (``agent:1003``, ``address:...``; often none)."""
        if self._closed:
            return []
        self._closed = True
        return self._throttle._close(self._keys, failed=True)

    def succeeded(self) -> None:
        """Forget the account's failures (the address's stay counted)."""
        if not self._closed:
            self._closed = True
            self._throttle._close(self._keys, failed=False)

    def abandon(self) -> None:
        """Neither a failure nor a success (the check could not be made)."""
        if not self._closed:
            self._closed = True
            self._throttle._close(self._keys, failed=None)


class LoginThrottle:
    """Failure counts per account and per client address (see the module docstring)."""

    def __init__(
        self,
        per_account: Limit,
        per_address: Limit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self._clock = clock
        self._max_keys = max_keys
        self._keys: OrderedDict[str, _Key] = OrderedDict()
        self.refused = 0

    def __repr__(self) -> str:
        return f"<LoginThrottle keys={len(self._keys)} refused={self.refused}>"

    def admit(self, account: str | None, address: str | None) -> Attempt | Refusal:
        """An :class:`Attempt` to check, or a :class:`Refusal` to answer at once."""
        keys: list[tuple[str, Limit]] = []
        if account is not None:
            keys.append((f"account:{account}", self.per_account))
        if address is not None:
            keys.append((f"address:{address}", self.per_address))
        now = self._clock()
        for key, limit in keys:
            state = self._state(key)
            self._expire(state, limit, now)
            if state.locked_until > now:
                state.refusals += 1
                self.refused += 1
                return Refusal(key, state.locked_until - now, state.refusals == 1)
            concurrent = state.in_flight >= 1 and key.startswith("account:")
            if concurrent or len(state.failures) + state.in_flight >= limit.failures:
                # Attempts under way would reach the limit: not locked yet, try again soon.
                self.refused += 1
                return Refusal(key, 1.0, first_of_lockout=False)
        for key, _ in keys:
            self._keys[key].in_flight += 1
        return Attempt(self, keys)

    def recent_failures(self, account: str | None, address: str | None) -> int:
        """Failures of ``account`` and of ``address`` still inside their windows."""
        now = self._clock()
        total = 0
        for key, limit in (
            (f"account:{account}" if account else None, self.per_account),
            (f"address:{address}" if address else None, self.per_address),
        ):
            state = self._keys.get(key) if key else None
            if state is not None:
                self._expire(state, limit, now)
                total += len(state.failures)
        return total

    def locked(self, account: str | None, address: str | None) -> float:
        """Seconds until both keys are free again (0 when neither is locked)."""
        now = self._clock()
        longest = 0.0
        for key in (f"account:{account}" if account else None, f"address:{address}"):
            state = self._keys.get(key) if key else None
            if state is not None:
                longest = max(longest, state.locked_until - now)
        return longest

    def _state(self, key: str) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
            while len(self._keys) > self._max_keys:
                oldest, old = next(iter(self._keys.items()))
                if old.in_flight:
                    break
                del self._keys[oldest]
        else:
            self._keys.move_to_end(key)
        return state

    @staticmethod
    def _expire(state: _Key, limit: Limit, now: float) -> None:
        while state.failures and state.failures[0] <= now - limit.window_s:
            state.failures.popleft()
        if state.locked_until and state.locked_until <= now:
            state.locked_until = 0.0
            state.refusals = 0

    def _close(self, keys: list[tuple[str, Limit]], *, failed: bool | None) -> list[str]:
        now = self._clock()
        locked: list[str] = []
        for key, limit in keys:
            state = self._state(key)
            state.in_flight = max(0, state.in_flight - 1)
            if failed is None:
                continue
            if not failed:
                if key.startswith("account:"):
                    state.failures.clear()
                continue
            self._expire(state, limit, now)
            state.failures.append(now)
            if len(state.failures) >= limit.failures and state.locked_until <= now:
                state.locked_until = now + limit.lockout_s
                state.refusals = 0
                state.failures.clear()
                locked.append(key.removeprefix("account:"))
        return locked


class Busy(Exception):
    """Too many PIN checks are waiting: answer 429 and let the client retry."""


class PinVerifier:
    """PBKDF2 checks on ``workers`` threads of their own; at most ``queue`` more waiting.

    Waiting checks go in order of ``priority`` (lowest first; the login
    paths give the recent failures of the account and of the client
    address), then of arrival: an agent who has not been failing goes ahead
    of guesses from addresses and at accounts that have.  The threads run
    ``nice`` steps below the rest of the engine (Linux), so that when the
    machine is short of CPU the checks wait, not the calls, recordings or
    configuration work.
    An unknown account costs no CPU: its answer waits as long as a real
    check takes now (a moving average of the real checks, queueing
    included), so its timing tells nothing, and a flood of made-up account
    numbers burns no core.  Until a real check has been timed, the first
    unknown account is checked against a throw-away hash to calibrate.
    Whether a check is :class:`Busy` depends only on the real checks under
    way, the same for a known and an unknown account at that moment.
    """

    def __init__(self, workers: int, queue: int, *, nice: int = 0) -> None:
        self.workers = workers
        self.queue = queue
        self.nice = nice
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="pin-check",
            initializer=_lower_priority,
            initargs=(nice,),
        )
        self._heap: list[tuple[int, int, asyncio.Future[bool], str, str]] = []
        self._order = itertools.count()
        self._running = 0
        self._waiting = 0  # checks running or waiting
        self.typical_s: float | None = None  # moving average of a real check's duration
        self._calibration: asyncio.Future[None] | None = None
        self.checks = 0  # PBKDF2 checks made
        self.decoys = 0  # unknown accounts answered after a wait, without hashing
        self.busy = 0  # checks refused because too many were waiting
        self.peak = 0  # most checks under way or waiting at once

    def __repr__(self) -> str:
        return f"<PinVerifier workers={self.workers} waiting={self._waiting}>"

    async def verify(
        self, pin: str, encoded: str | None, *, like: str | None = None, priority: int = 0
    ) -> bool:
        """Whether ``pin`` matches ``encoded``; ``None`` (an unknown account) is never a match.

        ``like`` is a real account's hash: the first unknown account is
        checked against a throw-away hash of its cost.  Raises :class:`Busy`
        when ``workers + queue`` real checks are under way.
        """
        if self._waiting >= self.workers + self.queue:
            self.busy += 1
            raise Busy()
        if encoded is not None:
            return await self._check(pin, encoded, encoded, priority)
        while self._calibration is not None:
            # Another unknown account is calibrating: wait for it, then as long as it took.
            await asyncio.shield(self._calibration)
        if self.typical_s is not None:
            self.decoys += 1
            await asyncio.sleep(self.typical_s)
            return False
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._calibration = mine
        try:
            return await self._check(pin, None, _decoy(like), priority)
        finally:
            self._calibration = None
            mine.set_result(None)

    async def _check(self, pin: str, encoded: str | None, target: str, priority: int) -> bool:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        heapq.heappush(self._heap, (priority, next(self._order), done, pin, target))
        self._waiting += 1
        self.peak = max(self.peak, self._waiting)
        start = time.perf_counter()
        try:
            self._pump(loop)
            matched = await done
        finally:
            self._waiting -= 1
        took = time.perf_counter() - start
        self.typical_s = took if self.typical_s is None else 0.8 * self.typical_s + 0.2 * took
        return matched and encoded is not None

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._running < self.workers and self._heap:
            _, _, done, pin, target = heapq.heappop(self._heap)
            if done.done():  # its request went away while it waited
                continue
            self._running += 1
            self.checks += 1
            work = loop.run_in_executor(self._executor, verify_pin, pin, target)
            work.add_done_callback(functools.partial(self._finished, loop, done))

    def _finished(
        self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[bool], work: Any
    ) -> None:
        self._running -= 1
        if not done.done():
            if work.cancelled():
                done.cancel()
            elif work.exception() is not None:
                done.set_exception(work.exception())
            else:
                done.set_result(work.result())
        self._pump(loop)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority(nice: int) -> None:
    """Run this thread ``nice`` steps below the rest of the process (Linux threads)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


def _decoy(like: str | None) -> str:
    iterations = DEFAULT_ITERATIONS
    if like is not None:
        parts = like.split("$")
        if len(parts) == 4 and parts[1].isdigit():
            iterations = int(parts[1])
    return f"{SCHEME}${iterations}${secrets.token_hex(16)}${secrets.token_hex(32)}"
