"""Cancellation at every await of the executor: the call still ends cleanly.

The executor awaits only in its request lanes (:class:`cti.executor.Lanes`):
a lane waits for the request before it, for a slot of the gate, and for the
request itself.  These tests run an answered call once to count those
awaits, then once more for each of them, cancelling exactly that one (the
lane's task is cancelled while it waits there, as a shutdown or a timeout
would).  Whatever was cancelled, the call must end cleanly: exactly one final
record, every channel of the call hung up, no request lane and no timer of
the call left behind.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any

import pytest

from cti.executor import Lanes
from pbxsim import CallerScript, PhoneScript
from switchboard import CallId
from tests.executor_support import Rig, running_executor

pytestmark = pytest.mark.switchboard

LANE_STEP = Lanes._step.__code__


class CancelOneAwait:
    """A task factory: the ``k``-th suspension of a lane's task is cancelled (0: none).

    At that suspension the task itself is cancelled, so the future it awaits
    is cancelled with it, exactly as ``Task.cancel()`` does at any await.
    """

    def __init__(self) -> None:
        self.k = 0
        self.seen = 0
        self.hit: str | None = None

    def arm(self, k: int) -> None:
        self.k, self.seen, self.hit = k, 0, None

    def __call__(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kw: Any
    ) -> asyncio.Task[Any]:
        if getattr(coro, "cr_code", None) is LANE_STEP:
            coro = self._counted(coro)
        return asyncio.Task(coro, loop=loop, **kw)

    async def _counted(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return await self._steps(coro)

    @types.coroutine
    def _steps(self, coro: Coroutine[Any, Any, Any]) -> Generator[Any, Any, Any]:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                yielded = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as stop:
                return stop.value
            self.seen += 1
            if self.seen == self.k:
                self.hit = repr(yielded)
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
            try:
                value, error = (yield yielded), None
            except BaseException as exc:
                value, error = None, exc


async def _one_call(rig: Rig, index: int) -> CallId:
    """An answered call; the caller hangs up after talking, or gives up in the end
    (3 s at the rig's time scale: a call whose answer or bridging was cancelled waits
    for that, and an answered call on a loaded machine ends cleanly either way)."""
    rig.sim.place_call(
        CallerScript(number=f"1380013{index:04d}", hangup_after_bridged=0.4, hangup_after=30.0)
    )
    (final,) = (await rig.wait_ended(index + 1, timeout=30.0))[index:]
    return final.record.call_id


async def _clean(rig: Rig, call_id: CallId) -> None:
    ex = rig.executor
    await ex.drain(10.0)
    assert len(ex.lanes) == 0, ex.lanes.open()
    assert rig.call_timers(call_id) == []
    assert ex.board.call(call_id) is None
    assert [f.record.call_id for f in rig.finals].count(call_id) == 1
    await rig.sim.wait_for(lambda: not rig.live_channels(), 10.0, "every channel hung up")
    row = await rig.call_row(call_id)
    assert row["ended_at"] is not None and row["outcome"] is not None


async def test_every_await_of_the_executor_cancelled_in_turn_ends_the_call_cleanly(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.3)
    factory = CancelOneAwait()
    loop = asyncio.get_running_loop()
    async with running_executor(tmp_path, empty_dsn, phones=[phone]) as rig:
        rig.login("1001", "s01")
        loop.set_task_factory(factory)  # type: ignore[arg-type]
        try:
            await _clean(rig, await _one_call(rig, 0))
            awaits = factory.seen
            assert awaits >= 10, "an answered call awaits in its lanes"
            hits: list[str] = []
            for k in range(1, awaits + 1):
                factory.arm(k)
                call_id = await _one_call(rig, k)
                await _clean(rig, call_id)
                # The agent may be in wrap-up: ready again for the next call.
                rig.ready("1001")
                if factory.hit is not None:
                    hits.append(factory.hit)
            assert len(hits) >= awaits // 2, "most of the awaits were reached and cancelled"
        finally:
            loop.set_task_factory(None)
