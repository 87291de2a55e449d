"""The configuration in force, and reloading it without disturbing calls.

Theory of operation: :class:`ConfigManager` holds one ``(Config, ConfigVersion)``
pair and replaces it as a whole.  A call reads :attr:`ConfigManager.current`
once when it starts and keeps that object to its end; since a ``Config`` is
immutable, a reload can never change a call in progress; it only decides what
*new* calls see.  A reload re-reads the whole directory: if any error is
found the candidate is refused with its issues and the current pair stays;
if the files' digest equals the current one nothing changes; otherwise the
new pair becomes current, is appended to :attr:`history` and every
``on_change`` hook is called with it.

The engine triggers :meth:`areload` on SIGHUP and from the admin API; the
lead's store records each accepted :class:`ConfigVersion` (digest, time, who).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from cti.config.config import Config
from cti.config.errors import ConfigInvalid, ConfigIssue
from cti.config.loader import CheckResult, check_config

_log = structlog.get_logger("cti.config")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """An accepted configuration: what (digest), when, and who asked for it."""

    digest: str
    """sha256 hex over the files' names and bytes (:func:`cti.config.loader.digest_of`)."""
    loaded_at: dt.datetime
    requested_by: str
    directory: str
    summary: str


ReloadStatus = Literal["accepted", "unchanged", "refused"]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload did.  ``current`` is the version in force afterwards."""

    status: ReloadStatus
    current: ConfigVersion
    issues: tuple[ConfigIssue, ...] = ()
    candidate_digest: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


ChangeHook = Callable[[Config, ConfigVersion], None]


class ConfigManager:
    """The configuration in force for new calls, with reload, history and hooks.

    Construction loads ``directory`` and raises :class:`ConfigInvalid` if it
    is not valid: an engine does not start without a configuration.
    ``clock`` returns an aware datetime (tests pass a fixed one).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        requested_by: str = "startup",
        clock: Callable[[], dt.datetime] = _utc_now,
        history_limit: int = 100,
    ) -> None:
        self._directory = str(directory)
        self._clock = clock
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None
        self.on_change: list[ChangeHook] = []
        result = check_config(self._directory)
        if result.config is None:
            raise ConfigInvalid(self._directory, result.issues)
        self._state = (result.config, self._version(result, requested_by))
        self._history: deque[ConfigVersion] = deque([self._state[1]], maxlen=history_limit)

    def __repr__(self) -> str:
        return f"<ConfigManager {self._directory} {self._state[1].digest[:12]}>"

    @property
    def directory(self) -> str:
        return self._directory

    @property
    def current(self) -> Config:
        """The configuration a call starting now must capture and keep."""
        return self._state[0]

    @property
    def version(self) -> ConfigVersion:
        return self._state[1]

    def snapshot(self) -> tuple[Config, ConfigVersion]:
        """The current config and its version, read together."""
        return self._state

    @property
    def history(self) -> tuple[ConfigVersion, ...]:
        """Accepted versions, oldest first (bounded by ``history_limit``)."""
        return tuple(self._history)

    def reload(self, requested_by: str) -> ReloadResult:
        """Re-read the directory now, in this thread; see the module docstring."""
        result = check_config(self._directory)
        with self._lock:
            return self._apply(result, requested_by)

    async def areload(self, requested_by: str) -> ReloadResult:
        """:meth:`reload` with the file reading and checking in a worker thread.

        Reloads are serialised; hooks run in the event loop's thread.
        """
        if self._async_lock is None:
            self._async_lock = asyncio.Lock()
        async with self._async_lock:
            result = await asyncio.to_thread(check_config, self._directory)
            with self._lock:
                return self._apply(result, requested_by)

    def _version(self, result: CheckResult, requested_by: str) -> ConfigVersion:
        assert result.config is not None
        return ConfigVersion(
            digest=result.digest,
            loaded_at=self._clock(),
            requested_by=requested_by,
            directory=self._directory,
            summary=str(result.config.summary()),
        )

    def _apply(self, result: CheckResult, requested_by: str) -> ReloadResult:
        current = self._state[1]
        if result.config is None:
            _log.warning(
                "config_reload_refused",
                directory=self._directory,
                requested_by=requested_by,
                errors=len(result.errors),
                first_error=str(result.errors[0]) if result.errors else None,
            )
            return ReloadResult("refused", current, result.issues, result.digest)
        if result.digest == current.digest:
            return ReloadResult("unchanged", current, result.issues, result.digest)
        version = self._version(result, requested_by)
        self._state = (result.config, version)
        self._history.append(version)
        _log.info(
            "config_reloaded",
            directory=self._directory,
            requested_by=requested_by,
            digest=version.digest,
            previous_digest=current.digest,
        )
        for hook in list(self.on_change):
            try:
                hook(result.config, version)
            except Exception:
                # A failing listener must not undo an accepted config or starve the others.
                _log.exception("config_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))
        return ReloadResult("accepted", version, result.issues, result.digest)
