"""Threshold alarms for the wallboard (风险预警): when each figure crossed a threshold.

Theory of operation
-------------------
Each time the wallboard's figures are computed, every watched figure of
every scope gives one :class:`Reading`: its value and its level (``ok``,
``amber`` or ``red``) against the configured thresholds.  The
:class:`AlarmBook` compares the readings with the alarms it holds open:

- a figure that leaves ``ok`` opens an alarm (``raised_at`` = now);
- a figure whose level changes (amber to red, or back) closes its open alarm
  and opens one at the new level, so the list shows when each threshold was
  crossed;
- a figure back at ``ok``, or no longer read at all (the queue was removed,
  the agent is no longer paused), closes its alarm (``cleared_at`` = now).

The book keeps the latest ``keep`` alarms, open or closed.  It is pure: the
caller passes ``now``; nothing here reads a clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

OK, AMBER, RED = "ok", "amber", "red"


@dataclass(frozen=True)
class Reading:
    """One figure of one scope now: ``threshold`` is the one crossed, if any."""

    figure: str
    scope: str
    value: float | None
    level: str
    threshold: float | None = None


@dataclass
class AlarmRecord:
    id: int
    figure: str
    scope: str
    level: str
    value: float | None
    threshold: float | None
    raised_at: float
    cleared_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None

    def __repr__(self) -> str:
        state = "open" if self.cleared_at is None else "cleared"
        return f"<Alarm {self.id} {self.figure}@{self.scope} {self.level} {state}>"


def level_of(value: float | None, amber: float, red: float, *, lower_is_worse: bool) -> Reading:
    """The level of ``value`` against ``amber``/``red`` (a reading with no figure/scope)."""
    if value is None:
        return Reading("", "", None, OK)
    if lower_is_worse:
        if value < red:
            return Reading("", "", value, RED, red)
        if value < amber:
            return Reading("", "", value, AMBER, amber)
    else:
        if value > red:
            return Reading("", "", value, RED, red)
        if value > amber:
            return Reading("", "", value, AMBER, amber)
    return Reading("", "", value, OK)


class AlarmBook:
    """Open and recent alarms (see the module docstring)."""

    def __init__(self, keep: int = 100) -> None:
        self.keep = keep
        self._ids = itertools.count(1)
        self._open: dict[tuple[str, str], AlarmRecord] = {}
        self.records: list[AlarmRecord] = []

    def __repr__(self) -> str:
        return f"<AlarmBook open={len(self._open)} kept={len(self.records)}>"

    @property
    def open(self) -> list[AlarmRecord]:
        return list(self._open.values())

    def update(self, readings: Iterable[Reading], now: float) -> list[AlarmRecord]:
        """Apply a complete set of readings; return the alarms opened or closed."""
        changed: list[AlarmRecord] = []
        seen: set[tuple[str, str]] = set()
        for reading in readings:
            key = (reading.figure, reading.scope)
            seen.add(key)
            current = self._open.get(key)
            if current is not None and current.level == reading.level:
                continue
            if current is not None:
                changed.append(self._close(key, now))
            if reading.level != OK:
                changed.append(self._raise(reading, now))
        for key in [k for k in self._open if k not in seen]:
            changed.append(self._close(key, now))
        return changed

    def _raise(self, reading: Reading, now: float) -> AlarmRecord:
        record = AlarmRecord(
            id=next(self._ids),
            figure=reading.figure,
            scope=reading.scope,
            level=reading.level,
            value=reading.value,
            threshold=reading.threshold,
            raised_at=now,
        )
        self._open[(reading.figure, reading.scope)] = record
        self.records.append(record)
        # Drop the oldest closed alarms beyond ``keep``; open ones always stay.
        excess = len(self.records) - self.keep
        if excess > 0:
            drop = {r.id for r in self.records if r.cleared_at is not None}
            drop = set(sorted(drop)[:excess])
            self.records = [r for r in self.records if r.id not in drop]
        return record

    def acknowledge(self, alarm_id: int, who: str, now: float) -> AlarmRecord | None:
        """``who`` has seen alarm ``alarm_id``; the record, or ``None`` when it is not kept.

        The first acknowledgement stands; an alarm stays open until its figure recovers.
        """
        for record in self.records:
            if record.id == alarm_id:
                if record.acked_by is None:
                    record.acked_by, record.acked_at = who, now
                return record
        return None

    def _close(self, key: tuple[str, str], now: float) -> AlarmRecord:
        record = self._open.pop(key)
        record.cleared_at = now
        return record
