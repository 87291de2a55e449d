"""One PIN check for every login: agents at the toolbar, supervisors at the console.

The throttle is asked before any hashing, so a locked account or address is
refused whatever the PIN (:mod:`cti.api.throttle`).  The PBKDF2 check (about
half a second of CPU by design) runs on the verifier's own threads, never the
event loop or the shared pool, and an unknown account costs the same as a
known one.  Accounts that have not been failing go ahead of guesses.
Refusals are audited: the row that locks a real account out always, the
others within the bound of strangers' rows (:mod:`cti.api.audit`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.api.audit import AUDITOR, mark_audited
from cti.api.http import THROTTLE, error, too_many
from cti.api.throttle import Busy, PinVerifier, Refusal

PINS = web.AppKey("pin_verifier", PinVerifier)


async def check_pin(
    request: web.Request,
    action: str,
    account: str,
    pin: str,
    encoded: str | None,
    *,
    like: str | None,
    wrong: str,
) -> web.Response | None:
    """``None`` when ``pin`` matches ``encoded`` (the account's hash; None for an
    account that does not exist); otherwise the answer to send: 429 (locked
    out, or too many checks at once) or 401 saying ``wrong``, which names
    neither part."""
    throttle = request.app[THROTTLE]
    known = encoded is not None
    admitted = throttle.admit(account, request.remote)
    if isinstance(admitted, Refusal):
        return too_many(request, admitted, action, known_account=known)
    try:
        failures = throttle.recent_failures(account, request.remote)
        matched = await request.app[PINS].verify(pin, encoded, like=like, priority=failures)
    except Busy:
        admitted.abandon()
        response = error(429, "busy", "too many logins at once; try again in a second")
        response.headers["Retry-After"] = "1"
        return response
    except BaseException:
        admitted.abandon()
        raise
    if not matched:
        _audit_refusal(request, action, account, admitted.failed(), known=known)
        return error(401, "bad_credentials", wrong)
    admitted.succeeded()
    return None


def _audit_refusal(
    request: web.Request, action: str, account: str, locked: list[str], *, known: bool
) -> None:
    auditor = request.app.get(AUDITOR)
    mark_audited(request)
    if auditor is None:
        return
    detail: dict[str, Any] = {"reason": "bad_credentials", "address": request.remote or ""}
    if locked:
        detail["locked"] = locked
    # The row that locks a real account out is never left out (there are only so many
    # accounts); the others share the bound of strangers' rows (cti.api.audit).
    auditor.record(
        None,
        action,
        account,
        allowed=False,
        detail=detail,
        actor=account.partition(":")[2],
        rate_limited=not (known and account in locked),
    )
