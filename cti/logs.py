"""Structured logging: JSON lines in production, readable console in development.

Log records are events: a snake_case fact as the event name, with the call's
identity (``call_id``, ``queue``, ``agent``) bound through contextvars at the
root of a call's work.  Two processors run on every record before it is
rendered:

* caller numbers are masked (``13800138000`` -> ``138****8000``) wherever a
  key names a number (see :data:`NUMBER_KEYS`) and inside free text;
* secrets (keys containing password, secret, token, pin, authorization) are
  replaced by ``***``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

NUMBER_KEYS = frozenset(
    {
        "caller",
        "caller_number",
        "caller_num",
        "callerid",
        "number",
        "from_number",
        "connected",
        "callback_number",
        "presented",
        "caller_id",
    }
)
SECRET_MARKERS = ("password", "secret", "token", "pin", "authorization", "passwd")
# A telephone number stands alone: digits inside a hash or an id are not one.
_LONG_DIGITS = re.compile(r"(?<![\w])(\d{3})(\d{4,})(\d{4})(?![\w])")


def mask_number(number: str | None) -> str:
    """Mask a telephone number for logs: keep the first 3 and last 4 digits.

    Short service numbers (12345, 110, extensions) are not personal data and
    are kept as they are; anything of 8 digits or more is masked.
    """
    if not number:
        return ""
    digits = number.strip()
    if len(digits) < 8:
        return digits
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_text(text: str) -> str:
    """Mask every run of 11+ digits inside free text."""
    return _LONG_DIGITS.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def mask_target(target: str) -> str:
    """A request target (path and query) for the access log.

    The value of any query parameter whose name marks a secret (token, pin,
    ...) is dropped, numbers of 8 digits or more are masked, and the rest
    of the text goes through :func:`mask_text`.
    """
    from urllib.parse import parse_qsl, quote, urlsplit

    parts = urlsplit(target)
    path = mask_text(parts.path)
    if not parts.query:
        return path
    shown = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        lowered = key.lower()
        if any(marker in lowered for marker in SECRET_MARKERS):
            value = "***"
        elif _NUMBERISH.fullmatch(value):
            value = mask_number(value)
        else:
            value = mask_text(value)
        shown.append(f"{quote(key, safe='')}={quote(value, safe='*')}")
    return f"{path}?{'&'.join(shown)}"


_NUMBERISH = re.compile(r"\+?[0-9][0-9 -]{7,}")


class _Counts:
    errors = 0
    warnings = 0


COUNTS = _Counts()
"""How many error and warning events this process logged (the demo reports them)."""


def _scrub(_: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if method in ("error", "critical", "exception"):
        COUNTS.errors += 1
    elif method in ("warning", "warn"):
        COUNTS.warnings += 1
    for key, value in list(event_dict.items()):
        lowered = key.lower()
        if any(marker in lowered for marker in SECRET_MARKERS):
            event_dict[key] = "***"
        elif lowered in NUMBER_KEYS and isinstance(value, str):
            event_dict[key] = mask_number(value)
        elif isinstance(value, str) and key != "timestamp":
            event_dict[key] = mask_text(value)
    return event_dict


def configure(*, json: bool | None = None, level: str = "INFO") -> None:
    """Configure structlog and the standard library root logger once per process.

    ``json=None`` chooses JSON when stderr is not a terminal (production,
    systemd, CI) and the console renderer otherwise.
    """
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(name)s %(message)s")


def scrub_processor() -> Any:
    """The masking processor, for tests that capture log events."""
    return _scrub
