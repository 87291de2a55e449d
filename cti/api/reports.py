"""``/api/reports/...``: the figures of a period and the monthly assessment sheet.

- ``GET /api/reports/figures`` (``.csv``, ``.xlsx``): ``from`` and ``to``
  (local days, both included), ``by`` (queue, hour, day, skill, agent, line,
  department, kind); the same report as ``hotline report``.
- ``GET /api/reports/assessment`` (``.xlsx``, ``.html``): ``month``
  (``YYYY-MM``); the sheet with the targets of ``engine.yaml`` ``assessment``.

Readers: supervisors, administrators and quality inspectors.  A period that
cannot be read is a 400 naming the field; a database that does not answer
within ``DEADLINE_S`` seconds is a 503.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.api.agents import ENGINE
from cti.api.auth import Role
from cti.api.http import ApiError, bad_request, principal, query_of
from cti.api.spec import Operation, register
from cti.appkeys import DATABASE
from cti.errors import StoreError
from cti.reports import assessment, export
from cti.reports.periods import PeriodError, days, month
from cti.reports.report import GROUPINGS, Report, build

READERS = (Role.SUPERVISOR, Role.ADMIN, Role.QUALITY_INSPECTOR)
DEADLINE_S = 30.0
_DATE = r"^\d{4}-\d{2}-\d{2}$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FiguresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    first: str = Field(alias="from", pattern=_DATE, description="first local day, YYYY-MM-DD")
    last: str = Field(alias="to", pattern=_DATE, description="last local day (included)")
    by: str = Field(default="queue", pattern="^(" + "|".join(GROUPINGS) + ")$")


class MonthQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")


async def _report(request: web.Request, period_of: Callable[[Any], Any], by: str) -> Report:

    config = request.app[ENGINE].config
    try:
        period = period_of(config.timezone)
    except PeriodError as exc:
        text = str(exc)
        field = "month" if "month" in text else "to" if text.startswith("--to") else "from"
        raise bad_request(field, text.split(": ", 1)[-1]) from exc
    try:
        async with asyncio.timeout(DEADLINE_S):
            return await build(request.app[DATABASE], config, period, by)
    except (StoreError, TimeoutError) as exc:
        raise ApiError(503, "database_unavailable", "the call records cannot be read now") from exc


async def _figures(request: web.Request) -> Report:
    principal(request, *READERS)
    q = query_of(request, FiguresQuery)
    return await _report(request, lambda zone: days(q.first, q.last, zone), q.by)


async def _month(request: web.Request) -> Report:
    principal(request, *READERS)
    q = query_of(request, MonthQuery)
    return await _report(request, lambda zone: month(q.month, zone), "queue")


def _download(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def figures_json(request: web.Request) -> web.Response:
    report = await _figures(request)
    return web.json_response(export.as_json(report), dumps=_dumps)


async def figures_csv(request: web.Request) -> web.Response:
    report = await _figures(request)
    name = f"report-{report.period.first}-{report.period.last}-{report.by}.csv"
    response = _download(export.as_csv(report), "text/csv", name)
    response.charset = "utf-8"
    return response


async def figures_xlsx(request: web.Request) -> web.Response:
    report = await _figures(request)
    name = f"report-{report.period.first}-{report.period.last}-{report.by}.xlsx"
    return _download(export.as_xlsx(report), XLSX, name)


async def assessment_json(request: web.Request) -> web.Response:
    report = await _month(request)
    config = request.app[ENGINE].config
    return web.json_response(assessment.as_json(report, config), dumps=_dumps)


async def assessment_xlsx(request: web.Request) -> web.Response:
    report = await _month(request)
    config = request.app[ENGINE].config
    name = f"assessment-{report.period.first:%Y-%m}.xlsx"
    return _download(assessment.as_xlsx(report, config), XLSX, name)


async def assessment_html(request: web.Request) -> web.Response:
    report = await _month(request)
    html = assessment.as_html(report, request.app[ENGINE].config)
    return web.Response(text=html, content_type="text/html")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_ROW = {"type": "object", "additionalProperties": True}
_FIGURES_SCHEMA = {
    "type": "object",
    "required": ["from", "to", "by", "columns", "rows", "total", "handoffs"],
    "properties": {
        "from": {"type": "string"},
        "to": {"type": "string"},
        "by": {"type": "string"},
        "columns": {"type": "array", "items": _ROW},
        "rows": {"type": "array", "items": _ROW},
        "total": _ROW,
        "handoffs": {"type": "array", "items": _ROW},
    },
}
_SHEET_SCHEMA = {
    "type": "object",
    "required": ["month", "lines"],
    "properties": {"month": {"type": "string"}, "lines": {"type": "array", "items": _ROW}},
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_routes(app: web.Application) -> None:
    routes: list[tuple[str, Handler, str, str, type[BaseModel], dict[str, Any]]] = [
        ("/api/reports/figures", figures_json, "report_figures", "application/json",
         FiguresQuery, _FIGURES_SCHEMA),
        ("/api/reports/figures.csv", figures_csv, "report_figures_csv", "text/csv",
         FiguresQuery, {"type": "string"}),
        ("/api/reports/figures.xlsx", figures_xlsx, "report_figures_xlsx", XLSX,
         FiguresQuery, {"type": "string", "format": "binary"}),
        ("/api/reports/assessment", assessment_json, "report_assessment", "application/json",
         MonthQuery, _SHEET_SCHEMA),
        ("/api/reports/assessment.xlsx", assessment_xlsx, "report_assessment_xlsx", XLSX,
         MonthQuery, {"type": "string", "format": "binary"}),
        ("/api/reports/assessment.html", assessment_html, "report_assessment_html", "text/html",
         MonthQuery, {"type": "string"}),
    ]  # fmt: skip
    for path, handler, op_id, produces, query, schema in routes:
        sheet = "assessment" in path
        register(
            app,
            Operation(
                "GET",
                path,
                handler,
                op_id,
                "The monthly assessment sheet, targets from engine.yaml, red where missed"
                if sheet
                else "A period's figures grouped one way (formulas in docs/reports.md)",
                "reports",
                READERS,
                query=query,
                response_schema=schema,
                produces=produces,
                errors=(503,),
            ),
        )
