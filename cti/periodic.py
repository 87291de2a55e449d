"""One pass of some work every period, on its own task, until stopped.

The return-visit dialler, the progressive callback dialler and the
return-visit sweeper each run a pass on a period.  A pass that fails is said
in the log (``<event>_failed`` for the errors the work expects, such as a
database away; ``<event>_error`` with its traceback for a defect) and the next
pass comes on time: the work catches up then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("cti.periodic")


class Periodic:
    def __init__(
        self,
        name: str,
        one_pass: Callable[[], Awaitable[object]],
        every_s: Callable[[], float],
        *,
        expected: tuple[type[Exception], ...],
        event: str,
    ) -> None:
        self.name = name
        self.event = event
        self._one_pass = one_pass
        self._every_s = every_s
        self._expected = expected
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        running = self._task is not None and not self._task.done()
        return f"<Periodic {self.name} every={self._every_s()}s running={running}>"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        event = self.event
        while True:
            try:
                await self._one_pass()
            except self._expected as exc:
                log.warning(f"{event}_failed", error=str(exc))
            except Exception:  # a defect: keep going, say so
                log.exception(f"{event}_error")
            await asyncio.sleep(self._every_s())  # the period, not a wait for an outcome
