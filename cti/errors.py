"""The root of every exception that leaves ``cti``.

Library exceptions (aiohttp, panoramisk, asyncpg) are translated at the
boundary of the module that met them and re-raised as a subclass of
:class:`CtiError` with ``raise ... from exc``, so callers handle one family.
Exceptions carry fields (channel id, action id, status), not only text.
"""

from __future__ import annotations


class CtiError(Exception):
    """Base class of the engine's own errors."""


class ConfigError(CtiError):
    """A configuration could not be loaded or did not validate."""


class StoreError(CtiError):
    """The database refused or could not be reached."""
