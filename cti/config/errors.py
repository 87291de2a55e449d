"""What a configuration check reports: issues with a place, and the exception carrying them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cti.errors import ConfigError

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a configuration directory.

    ``file`` is the path as the administrator named it (``config/lines.yaml``),
    ``line`` is 1-based, ``path`` the key path inside the file
    (``queues.general.skills[0].skill``; empty for the whole file).  Printed
    as ``file:line: path: message``, the form editors and CI logs link to.
    """

    file: str
    line: int
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        prefix = "" if self.severity == "error" else "warning: "
        if self.path:
            return f"{where}: {prefix}{self.path}: {self.message}"
        return f"{where}: {prefix}{self.message}"


class ConfigInvalid(ConfigError):
    """The directory does not hold a valid configuration; ``issues`` says where and why."""

    def __init__(self, directory: str, issues: tuple[ConfigIssue, ...]) -> None:
        errors = [i for i in issues if i.severity == "error"]
        first = str(errors[0]) if errors else "no details"
        super().__init__(f"{directory}: {len(errors)} configuration error(s); first: {first}")
        self.directory = directory
        self.issues = issues


class ConfigDirectoryMissing(ConfigError):
    """The configuration directory does not exist or is not a directory."""

    def __init__(self, directory: str) -> None:
        super().__init__(f"{directory}: no such configuration directory")
        self.directory = directory
