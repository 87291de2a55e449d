"""May this agent dial this number?  Allow and deny patterns, first match decides.

Each rule is a name, a regular expression the whole number must match, a
verdict (allow or deny) and, optionally, the agent roles it is for.  Rules
are tried in order and the first that matches the number (and the agent's
role) decides; a number no rule matches is refused.  The shipped rules allow
local, mobile, the partner and parallel lines, and deny premium and
international numbers before anything else is tried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[\s\-()]")
_DIALLABLE = re.compile(r"^\+?[0-9*#]{1,32}$")


@dataclass(frozen=True, slots=True)
class DialRule:
    name: str
    pattern: str
    allow: bool
    roles: frozenset[str] | None = None
    """Agent roles the rule applies to; None: every role."""

    def __post_init__(self) -> None:
        re.compile(self.pattern)  # a bad pattern fails when the rules are built

    def matches(self, number: str, role: str) -> bool:
        if self.roles is not None and role not in self.roles:
            return False
        return re.fullmatch(self.pattern, number) is not None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    number: str
    """The number as it will be dialled (separators removed)."""
    rule: str | None
    message: str


@dataclass(frozen=True, slots=True)
class DialRules:
    rules: tuple[DialRule, ...]

    def check(self, number: str, role: str = "agent") -> Verdict:
        """The verdict for an agent of ``role`` dialling ``number`` (never raises)."""
        cleaned = _SEPARATORS.sub("", number)
        if not _DIALLABLE.match(cleaned):
            return Verdict(False, cleaned, None, "not a number that can be dialled")
        for rule in self.rules:
            if rule.matches(cleaned, role):
                if rule.allow:
                    return Verdict(True, cleaned, rule.name, f"allowed ({rule.name})")
                return Verdict(
                    False, cleaned, rule.name, f"this number may not be dialled ({rule.name})"
                )
        return Verdict(False, cleaned, None, "this number is in no allowed range")
