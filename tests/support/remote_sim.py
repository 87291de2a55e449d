"""pbxsim in a process of its own, driven through its ``/sim`` control API.

A test that measures the engine's latency must not share the engine's event
loop with the simulator: the simulator's own work under a burst would be
counted as the engine's.  :class:`SimProcess` runs ``hotline sim`` as a child
process with the given phones and offers the few driving calls such tests
need, each an HTTP request to the child.  Times it reports (``at``) are the
child's ``time.time()``, the same clock as the engine's on this machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp

from bench.loadsupport import Child, free_port, start_pbxsim
from pbxsim import CallerScript, PhoneScript
from pbxsim.scripts import to_dict


class SimProcess:
    """``hotline sim`` in a child process; ``await SimProcess(...).start()``, then ``stop()``."""

    def __init__(
        self,
        workdir: Path,
        *,
        user: str,
        secret: str,
        time_scale: float,
        phones: Iterable[PhoneScript] = (),
    ) -> None:
        self.workdir = workdir
        self.user = user
        self.secret = secret
        self.time_scale = time_scale
        self.phones = tuple(phones)
        self.ari_port = free_port()
        self.ami_port = free_port()
        self.url = f"http://127.0.0.1:{self.ari_port}"
        self.ari_url = f"{self.url}/ari"
        self._child: Child | None = None
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<SimProcess {self.url}>"

    async def start(self, timeout: float = 30.0) -> SimProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._child = await start_pbxsim(
            self.workdir,
            ari_port=self.ari_port,
            ami_port=self.ami_port,
            user=self.user,
            secret=self.secret,
            time_scale=self.time_scale,
            phones=[to_dict(p) for p in self.phones],
        )
        self._http = aiohttp.ClientSession(
            headers={"Authorization": aiohttp.encode_basic_auth(self.user, self.secret)},
            timeout=aiohttp.ClientTimeout(total=30),
        )
        deadline = time.monotonic() + timeout
        while True:
            self._child.check_alive()
            try:
                await self.call("GET", "/sim/state")
                return self
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pbxsim did not come up:\n{self._child.tail()}") from None
                await asyncio.sleep(0.1)  # a process starting up: nothing to wait on but time

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._child is not None:
            await self._child.stop()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        assert self._http is not None, "start() first"
        async with self._http.request(method, self.url + path, json=body) as reply:
            if reply.status >= 300:
                raise AssertionError(f"pbxsim {method} {path}: {reply.status} {await reply.text()}")
            return await reply.json() if reply.status != 204 else None

    # -- driving ---------------------------------------------------------------

    async def place_calls(self, scripts: Iterable[CallerScript]) -> list[str]:
        """Place every call at once (one scenario); their ids in order."""
        loaded = await self.call(
            "POST", "/sim/scenario", {"callers": [to_dict(s) for s in scripts]}
        )
        return [str(i) for i in loaded["calls"]]

    async def hangup_phone(self, endpoint: str) -> None:
        await self.call("POST", f"/sim/phones/{endpoint}/hangup")

    async def hangup_call(self, call: str) -> None:
        await self.call("POST", f"/sim/calls/{call}/hangup")

    # -- what happened ---------------------------------------------------------

    async def events(self, *types: str) -> list[dict[str, Any]]:
        """Delivered ARI events of these types, ``[{"at": emitted, "event": ...}]``."""
        query = "&".join(f"type={t}" for t in types)
        return list(await self.call("GET", f"/sim/events?timed=1&{query}"))

    async def requests(self) -> list[dict[str, Any]]:
        """ARI requests received, in order, each with ``at``, ``method``, ``path``, ``params``."""
        return list(await self.call("GET", "/sim/requests"))
