"""The monthly assessment sheet (月度考核表): the figures a city reports upward.

Each line is one figure of the month's total (:func:`cti.reports.report.build`
grouped by queue), with its target from ``engine.yaml`` ``assessment`` and
whether it was met; a missed target is shown red in XLSX and HTML.  The
completion rate (办结率) belongs to the work-order system and is listed with
no value.  Per-queue lines follow the centre's.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from cti.config import Config
from cti.reports.report import Report, Row

RED = "C00000"


@dataclass(frozen=True)
class Line:
    scope: str
    title: str
    value: float | int | None
    kind: str  # count | rate | seconds | text
    target: float | None = None
    higher_is_better: bool = True

    @property
    def missed(self) -> bool:
        if self.target is None or self.value is None:
            return False
        if self.higher_is_better:
            return self.value < self.target
        return self.value > self.target

    def shown(self) -> str:
        if self.value is None:
            return "—"
        if self.kind == "rate":
            return f"{self.value * 100:.2f}%"
        if self.kind == "seconds":
            return f"{self.value:.1f}"
        return str(self.value)

    def target_shown(self) -> str:
        if self.target is None:
            return ""
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {self.target * 100:.0f}%"


def _lines(scope: str, row: Row, config: Config) -> list[Line]:
    a = config.engine.assessment
    t = row.calls
    in_time = row.callbacks_in_time / row.callbacks_requested if row.callbacks_requested else None
    return [
        Line(scope, "人工服务请求量", t.offered, "count"),
        Line(scope, "人工接通量", t.answered, "count"),
        Line(scope, "接通率", t.connection_rate, "rate", a.connection_rate),
        Line(scope, "人工应答及时率", t.answer_rate_sl, "rate", a.answer_rate_sl),
        Line(scope, "放弃量", t.abandoned, "count"),
        Line(scope, "短时放弃量", t.short_abandoned, "count"),
        Line(scope, "放弃率", t.abandon_rate, "rate", a.abandon_rate, higher_is_better=False),
        Line(scope, "平均应答速度（秒）", t.asa_s, "seconds"),
        Line(scope, "最长等待（秒）", t.wait_max_s, "seconds"),
        Line(
            scope,
            "满意率（非常满意+满意）/评价量",
            t.satisfaction_rate,
            "rate",
            a.satisfaction_rate,
        ),
        Line(scope, "评价量", t.rated, "count"),
        Line(scope, "漏接回拨按时率", in_time, "rate"),
        Line(scope, "回访完成量", row.return_visits_done, "count"),
    ]


def lines(report: Report, config: Config) -> list[Line]:
    """The centre's lines (with 办结率 as the work-order system's), then each queue's."""
    out = _lines(config.platform.name, report.total, config)
    out.insert(4, Line(config.platform.name, "办结率（工单系统提供）", None, "text"))
    for row in report.rows:
        out += _lines(row.label, row, config)
    return out


def _title(report: Report, config: Config) -> str:
    return f"{config.platform.name} 月度考核表 {report.period.first:%Y年%m月}"


def as_xlsx(report: Report, config: Config) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "考核表"
    sheet.append([_title(report, config)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["范围", "指标", "数值", "目标", "达标"])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    red = PatternFill("solid", fgColor="FFC7CE")
    for line in lines(report, config):
        value: Any = line.value
        if line.kind == "seconds" and value is not None:
            value = round(value, 1)
        met = "" if line.target is None or line.value is None else ("否" if line.missed else "是")
        sheet.append([line.scope, line.title, value, line.target_shown(), met])
        row = sheet.max_row
        if line.kind == "rate":
            sheet.cell(row, 3).number_format = "0.00%"
        if line.missed:
            for col in range(1, 6):
                sheet.cell(row, col).fill = red
                sheet.cell(row, col).font = Font(color=RED, bold=True)
    for letter, width in zip("ABCDE", (30, 34, 14, 10, 8), strict=True):
        sheet.column_dimensions[letter].width = width
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def as_html(report: Report, config: Config) -> str:
    """A printable page of the same sheet (print to PDF from the browser)."""
    rows = []
    for line in lines(report, config):
        cls = ' class="missed"' if line.missed else ""
        met = "" if line.target is None or line.value is None else ("否" if line.missed else "是")
        rows.append(
            f"<tr{cls}><td>{html.escape(line.scope)}</td><td>{html.escape(line.title)}</td>"
            f"<td class=num>{html.escape(line.shown())}</td>"
            f"<td>{html.escape(line.target_shown())}</td><td>{met}</td></tr>"
        )
    title = html.escape(_title(report, config))
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px 8px}.num{text-align:right}"
        f".missed td{{color:#{RED};background:#FFC7CE;font-weight:bold}}"
        "@media print{body{margin:0}}</style></head><body>"
        f"<h1>{title}</h1><table><thead><tr><th>范围</th><th>指标</th><th>数值</th>"
        "<th>目标</th><th>达标</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        "<p>满意率 = (非常满意 + 满意) / 评价量；接通率 = 人工接通量 / 人工服务请求量。</p>"
        "</body></html>"
    )


def as_json(report: Report, config: Config) -> dict[str, Any]:
    return {
        "month": f"{report.period.first:%Y-%m}",
        "lines": [
            {
                "scope": line.scope,
                "title": line.title,
                "value": line.value,
                "target": line.target,
                "higher_is_better": line.higher_is_better,
                "missed": line.missed,
            }
            for line in lines(report, config)
        ],
    }
