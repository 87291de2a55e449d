"""The configuration of a deployment: YAML files in one directory, checked as a whole.

Public API (nothing else of this package is imported from outside it):

* :func:`load_config` (``Config`` or :class:`ConfigInvalid`) and
  :func:`check_config` (a :class:`CheckResult` listing every issue).
* :class:`Config`: immutable; ``resolve(dialled, now)`` -> :class:`RouteDecision`,
  ``line_phase(number, today)`` -> :class:`LinePhase`, the file models as
  attributes (``config.queues.queues["general"]``).
* :class:`ConfigManager`: the current config, reload with history and hooks.
* :func:`hash_pin` / :func:`verify_pin`: agent PINs (PBKDF2-SHA256).
* :func:`json_schema`: the JSON Schema of a file or of the whole directory.
"""

from __future__ import annotations

from cti.config.config import Config, RouteDecision, Summary
from cti.config.errors import ConfigDirectoryMissing, ConfigInvalid, ConfigIssue
from cti.config.loader import CONFIG_FILES, CheckResult, check_config, load_config
from cti.config.phase import LineDates, LinePhase
from cti.config.pins import hash_pin, verify_pin
from cti.config.reload import ConfigManager, ConfigVersion, ReloadResult
from cti.config.schema import json_schema
from cti.config.sections.lines import AfterCutover, Mode, Presented

__all__ = [
    "CONFIG_FILES",
    "AfterCutover",
    "CheckResult",
    "Config",
    "ConfigDirectoryMissing",
    "ConfigInvalid",
    "ConfigIssue",
    "ConfigManager",
    "ConfigVersion",
    "LineDates",
    "LinePhase",
    "Mode",
    "Presented",
    "ReloadResult",
    "RouteDecision",
    "Summary",
    "check_config",
    "hash_pin",
    "json_schema",
    "load_config",
    "verify_pin",
]
