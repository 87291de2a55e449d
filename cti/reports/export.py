"""A report written out: JSON, CSV (UTF-8 with a byte-order mark, as spreadsheets want) or XLSX."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from cti.reports.report import COLUMNS, Report

FORMATS = ("json", "csv", "xlsx")


def _round(value: Any, kind: str) -> Any:
    if value is None or kind in ("count", "text"):
        return value
    return round(float(value), 4 if kind == "rate" else 1)


def as_json(report: Report) -> dict[str, Any]:
    """The report as one JSON-safe object: period, grouping, columns, rows, total, hand-offs."""
    records = [
        {c.name: _round(c.get(row), c.kind) for c in COLUMNS}
        for row in [*report.rows, report.total]
    ]
    return {
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "by": report.by,
        "columns": [{"name": c.name, "title": c.title, "kind": c.kind} for c in COLUMNS],
        "rows": records[:-1],
        "total": records[-1],
        "handoffs": report.handoffs,
    }


def as_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.title for c in COLUMNS])
    writer.writerow([c.name for c in COLUMNS])
    for row in [*report.rows, report.total]:
        values = [_round(c.get(row), c.kind) for c in COLUMNS]
        writer.writerow(["" if v is None else v for v in values])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(report: Report) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report.by}"[:31]
    sheet.append([f"话务报表 {report.period.label} · 按 {report.by}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([c.title for c in COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in [*report.rows, report.total]:
        sheet.append([_round(c.get(row), c.kind) for c in COLUMNS])
    last = sheet.max_row
    for cell in sheet[last]:
        cell.font = Font(bold=True)
    for i, c in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = max(10, len(c.title) * 2 + 2)
        if c.kind == "rate":
            for (cell,) in sheet.iter_rows(min_row=3, max_row=last, min_col=i, max_col=i):
                cell.number_format = "0.00%"
    if report.handoffs:
        hand = book.create_sheet("转接")
        hand.append(["类型", "方式", "目标类型", "目标", "名称", "次数"])
        for h in report.handoffs:
            hand.append([h["kind"], h["mode"], h["target_kind"], h["target"], h["label"], h["n"]])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def render(report: Report, fmt: str) -> bytes:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        import json

        return json.dumps(as_json(report), ensure_ascii=False, indent=1).encode()
    if fmt == "csv":
        return as_csv(report)
    if fmt == "xlsx":
        return as_xlsx(report)
    raise ValueError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
