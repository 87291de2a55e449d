"""Retention: how long recordings are kept, and the job that purges the rest.

No national rule fixes how long a 12345 platform keeps its recordings, so each
deployment configures it in months.  A recording is expired when it started
before the same wall-clock moment ``months`` calendar months ago in the
deployment's time zone (the 31st falls back to the month's last day).

The purge job deletes expired ``stored`` and ``failed`` recordings: for each,
it first writes an audit row (``recording_purged``, with the call, segment,
path and hash), then deletes the file, then the metadata.  So no deletion
ever happens without its audit row; if the job dies in between, the next run
finds the row again, writes another audit row and finishes (a file already
gone counts as deleted).  Pending recordings are never purged: their only
copy may still be on Asterisk.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import structlog

from recordings.errors import MetadataUnavailable
from recordings.lifecycle import Recording, RecordingEvent, RecordingName
from recordings.protocols import AuditEntry, AuditSink, RecordingStore
from recordings.storage import FileStore

log = structlog.get_logger("recordings.retention")

PURGE_ACTION = "recording_purged"


def months_before(moment: datetime, months: int, zone: tzinfo = UTC) -> datetime:
    """``moment`` minus ``months`` calendar months, computed on ``zone``'s calendar."""
    if months < 0:
        raise ValueError("months must not be negative")
    local = moment.astimezone(zone)
    index = local.year * 12 + (local.month - 1) - months
    year, month0 = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
    return local.replace(year=year, month=month0 + 1, day=day).astimezone(moment.tzinfo)


def is_expired(started_at: datetime, now: datetime, months: int, zone: tzinfo = UTC) -> bool:
    return started_at < months_before(now, months, zone)


@dataclass
class PurgeReport:
    cutoff: datetime
    purged: list[RecordingName] = field(default_factory=list)
    files_already_gone: int = 0  # stored rows whose file was no longer on disk
    errors: dict[str, str] = field(default_factory=dict)


async def purge_expired(
    store: RecordingStore,
    files: FileStore,
    audit: AuditSink,
    *,
    now: datetime,
    months: int,
    zone: tzinfo = UTC,
    actor: str = "retention",
    batch: int = 100,
) -> PurgeReport:
    """Purge every expired recording; return what was done.

    A recording whose file cannot be deleted (``OSError``) is skipped and
    reported; a store or audit outage stops the run (raising
    :class:`MetadataUnavailable`) so nothing is deleted unaudited.
    """
    report = PurgeReport(cutoff=months_before(now, months, zone))
    while True:
        expired = await store.list_expired(report.cutoff, batch)
        todo = [r for r in expired if r.name not in report.errors]
        if not todo:
            return report
        for recording in todo:
            try:
                file_was_there = await _purge_one(
                    store, files, audit, recording, months=months, actor=actor
                )
            except OSError as exc:
                report.errors[recording.name] = str(exc)
                log.error("recording_purge_failed", recording=recording.name, error=str(exc))
                continue
            except MetadataUnavailable:
                log.error("recording_purge_interrupted", purged=len(report.purged))
                raise
            report.purged.append(recording.name)
            if not file_was_there:
                report.files_already_gone += 1


async def _purge_one(
    store: RecordingStore,
    files: FileStore,
    audit: AuditSink,
    recording: Recording,
    *,
    months: int,
    actor: str,
) -> bool:
    """Audit, delete the file, delete the row; whether the file was still there."""
    purged = recording.apply(RecordingEvent.PURGED)
    await audit.record(
        AuditEntry(
            actor=actor,
            role="system",
            action=PURGE_ACTION,
            target=recording.name,
            detail={
                "call_id": recording.call_id,
                "segment": recording.segment,
                "state": recording.state.value,
                "file": recording.file_path,
                "sha256": recording.sha256,
                "size_bytes": recording.size_bytes,
                "started_at": recording.started_at.isoformat(),
                "retention_months": months,
            },
        )
    )
    file_was_there = True
    if recording.file_path:
        file_was_there = await files.delete(recording.file_path)
    await store.purge(purged.name)
    log.info("recording_purged", recording=recording.name, call_id=recording.call_id)
    return file_was_there
