"""The HTTP faces' audit trail: rows that can always be stored, bounded for strangers.

Every refusal, every ``4xx`` on a protected resource and every supervisor
or administrator action becomes one row of ``audit_log`` (writer kind
``audit``), with the outcome as it was.  Three rules keep the trail whole
and small:

- **storable**: PostgreSQL text holds no NUL and no unpaired surrogate, so
  input with either is refused at the API boundary (:func:`unstorable`
  finds it; the handlers answer ``400``) before any action is taken; the
  row of that refusal itself carries the text with those characters
  replaced (:func:`storable`).
- **bounded for strangers**: a row for a request without a valid token
  keeps at most ``text_max`` characters of any text, and at most
  ``per_minute`` such rows are written a minute; the ones left out are
  counted in the next row written (``detail.suppressed``).
- **one row per request**: a handler that writes its own row marks the
  request (:func:`mark_audited`); the :func:`audit_refusals` middleware
  writes one for any other ``4xx`` of a protected resource.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cti.api.auth import Principal

AUDITED = web.RequestKey("audited", bool)

_BAD = "\ufffd"


def unstorable(value: Any, where: str = "body") -> str | None:
    """The first place in ``value`` whose text PostgreSQL cannot store, or ``None``."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        place, item = stack.pop()
        if isinstance(item, str):
            if _bad_text(item):
                return place
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    stack.append((place, inner))
                    continue
                # The place is echoed in a 400's message: a bad key is shown escaped.
                name = f"{place}.{key.encode('utf-8', 'backslashreplace').decode('utf-8')}"
                if _bad_text(key):
                    return name
                stack.append((name, inner))
        elif isinstance(item, list | tuple):
            stack.extend((f"{place}.{i}", inner) for i, inner in enumerate(item))
    return None


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def storable(value: Any, limit: int | None = None) -> Any:
    """``value`` with NUL and unpaired surrogates replaced, texts cut to ``limit``."""
    if isinstance(value, str):
        text = value.replace("\x00", _BAD).encode("utf-8", "replace").decode("utf-8")
        if limit is not None and len(text) > limit:
            text = text[:limit] + "…"
        return text
    if isinstance(value, dict):
        items = list(value.items())
        if limit is not None:
            items = items[:32]
        return {str(storable(k, limit)): storable(v, limit) for k, v in items}
    if isinstance(value, list | tuple):
        return [storable(v, limit) for v in (value[:32] if limit is not None else value)]
    return value


def mark_audited(request: web.Request) -> None:
    """The handler wrote (or deliberately skipped) the request's row."""
    request[AUDITED] = True


class Auditor:
    """Writes audit rows through a writer-like ``submit(kind, payload)``."""

    def __init__(
        self,
        submit: Callable[[str, dict[str, Any]], None],
        *,
        per_minute: int,
        text_max: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._submit = submit
        self.per_minute = per_minute
        self.text_max = text_max
        self._clock = clock
        self._tokens = float(per_minute)
        self._last = clock()
        self.suppressed = 0
        self.written = 0

    def __repr__(self) -> str:
        return f"<Auditor written={self.written} suppressed={self.suppressed}>"

    def anonymous_allowed(self) -> bool:
        """Take one of this minute's rows for a request without a valid token."""
        now = self._clock()
        self._tokens = min(
            float(self.per_minute), self._tokens + (now - self._last) * self.per_minute / 60.0
        )
        self._last = now
        if self._tokens < 1.0:
            self.suppressed += 1
            return False
        self._tokens -= 1.0
        return True

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count

    def record(
        self,
        who: Principal | None,
        action: str,
        target: str | None,
        *,
        allowed: bool,
        detail: dict[str, Any],
        actor: str | None = None,
        role: str | None = None,
        rate_limited: bool = True,
    ) -> bool:
        """Write one row; ``False`` when it is a stranger's row over this minute's bound.

        ``rate_limited=False`` is for rows bounded otherwise (one per lock-out).
        """
        limit = None
        detail = dict(detail)
        if who is None:
            if rate_limited and not self.anonymous_allowed():
                return False
            limit = self.text_max
            missed = self.take_suppressed()
            if missed:
                detail["suppressed"] = missed
        self._submit(
            "audit",
            {
                "at": datetime.now(UTC),
                "actor": storable(actor or (who.id if who else "anonymous"), limit),
                "role": storable(role or (who.role.value if who else ""), limit),
                "action": action,
                "target": storable(target, limit) if target is not None else None,
                "allowed": allowed,
                "detail": storable(detail, limit),
            },
        )
        self.written += 1
        return True


AUDITOR = web.AppKey("auditor", Auditor)
