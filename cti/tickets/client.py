"""The HTTP side of a delivery: one POST of one claimed row, and what came of it.

* create: ``POST {backend}/tickets``, ``Idempotency-Key: <call id>``;
* return-visit result: ``POST {backend}/tickets/{ticket_id}/return-visits``,
  ``Idempotency-Key: return-visit:<ticket id>:<attempt>``;
* call started (optional): ``POST {backend}/calls/{call_id}/started``,
  ``Idempotency-Key: <call id>:started``;
* rating update: ``POST {backend}/tickets/{ticket_id}/updates``,
  ``Idempotency-Key: <call id>:rating``.

Redirects are not followed: a 3xx means the configured URL is wrong, and the
row is parked for an administrator like any other refusal.  aiohttp's errors
end here: a failed request is an :class:`Attempt` with verdict ``retry``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from cti.tickets import rows
from cti.tickets.errors import SenderConfigError
from cti.tickets.policy import Verdict, classify, parse_ticket_id
from cti.tickets.settings import SenderSettings


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one POST."""

    verdict: Verdict
    http_status: int | None
    body: str
    error: str | None
    ticket_id: str | None = None


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class BackendClient:
    """An aiohttp session to the work-order backend, opened by :meth:`open`."""

    def __init__(self, settings: SenderSettings) -> None:
        self._settings = settings
        self.base_url = settings.backend_url.rstrip("/")
        self._headers: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "closed"
        return f"<BackendClient {self.base_url} {state}>"

    def open(self) -> None:
        """Read the bearer token from the named variable and open the session."""
        headers = {"Content-Type": "application/json"}
        if self._settings.token_env:
            token = os.environ.get(self._settings.token_env)
            if not token:
                raise SenderConfigError(
                    f"environment variable {self._settings.token_env} (backend token) is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=self._settings.request_timeout_s,
                connect=self._settings.connect_timeout_s,
            ),
            connector=aiohttp.TCPConnector(limit=self._settings.max_in_flight),
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def url(self, claim: rows.Claim) -> str:
        if claim.kind == rows.CREATE:
            return f"{self.base_url}/tickets"
        if claim.kind == rows.CALL_STARTED:
            call = str(claim.payload["call_id"])
            return f"{self.base_url}/calls/{quote(call, safe='')}/started"
        if claim.kind == rows.RETURN_VISIT:
            ticket = str(claim.payload["ticket_id"])
            return f"{self.base_url}/tickets/{quote(ticket, safe='')}/return-visits"
        assert claim.ticket_id is not None
        return f"{self.base_url}/tickets/{quote(claim.ticket_id, safe='')}/updates"

    async def post(self, claim: rows.Claim) -> Attempt:
        """POST the row once; never raises for anything the network or backend does."""
        if claim.kind == rows.UPDATE and claim.ticket_id is None:
            # The create was accepted without a ticket id: there is nothing to update.
            return Attempt(Verdict.REJECTED, None, "", "the backend gave no ticket id")
        if self._session is None:
            raise SenderConfigError("the backend client is not open")
        data = json.dumps(claim.payload, ensure_ascii=False).encode()
        headers = {**self._headers, "Idempotency-Key": claim.idempotency_key}
        try:
            async with self._session.post(
                self.url(claim), data=data, headers=headers, allow_redirects=False
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Attempt(Verdict.RETRY, None, "", describe(exc))
        body = raw.decode("utf-8", "replace")
        verdict = classify(status)
        if verdict is Verdict.DELIVERED:
            ticket_id = parse_ticket_id(raw) if claim.kind == rows.CREATE else claim.ticket_id
            return Attempt(verdict, status, body, None, ticket_id)
        return Attempt(verdict, status, body, f"HTTP {status}")
