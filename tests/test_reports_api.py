"""``/api/reports/...`` and the ``/reports`` page (Chromium) over a seeded month.

Screenshots are kept under ``test-artifacts/`` (``reports*.png``).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bench.reportdata import month, store
from cti.config import load_config
from cti.store.db import Database
from tests.faces_support import chromium, press, role_env
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.reports

REPO = Path(__file__).resolve().parents[1]
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


async def _seeded(stack: Stack, dsn: str) -> int:
    config = load_config(REPO / "config")
    data = month(7, dt.date(2026, 11, 1), 30, 20, config.timezone)
    db = Database(dsn)
    await db.open()
    try:
        await store(db, data)
    finally:
        await db.close()
    return sum(c["queued_at"] is not None for c in data.calls)


async def _get(stack: Stack, path: str, token: str | None) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.get(stack.url + path, headers=headers) as r:
        return r.status, await r.read(), r.headers.get("Content-Type", "")


async def test_reports_api_answers_json_csv_xlsx_and_the_sheet(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack:
        offered = await _seeded(stack, empty_dsn)
        query = "from=2026-11-01&to=2026-11-30&by=queue"
        status, _, _ = await _get(stack, f"/api/reports/figures?{query}", tokens["supervisor"])
        assert status == 200
        status, data = await stack.api(
            "GET", f"/api/reports/figures?{query}", token=tokens["quality_inspector"]
        )
        assert status == 200 and data["total"]["offered"] == offered
        assert sum(row["offered"] for row in data["rows"]) == offered
        assert {c["name"] for c in data["columns"]} >= {"connection_rate", "satisfaction_rate"}

        status, body, kind = await _get(stack, f"/api/reports/figures.csv?{query}", tokens["admin"])
        assert status == 200 and kind.startswith("text/csv")
        assert body.decode("utf-8-sig").splitlines()[1].startswith("key,label,offered")

        status, body, kind = await _get(
            stack, "/api/reports/figures.xlsx?from=2026-11-01&to=2026-11-30&by=day",
            tokens["supervisor"],
        )  # fmt: skip
        assert status == 200 and kind.startswith("application/vnd.openxml")
        sheet = load_workbook(io.BytesIO(body)).active
        assert sheet is not None and sheet.max_row == 2 + 30 + 1

        status, sheet_data = await stack.api(
            "GET", "/api/reports/assessment?month=2026-11", token=tokens["supervisor"]
        )
        assert status == 200
        rate = next(line for line in sheet_data["lines"] if line["title"] == "接通率")
        assert rate["target"] == 0.9 and rate["missed"] is (rate["value"] < 0.9)
        status, body, kind = await _get(
            stack, "/api/reports/assessment.html?month=2026-11", tokens["supervisor"]
        )
        assert status == 200 and kind.startswith("text/html") and "月度考核表" in body.decode()

        # Bad input is a 400 naming the field; readers only.
        status, err = await stack.api(
            "GET", "/api/reports/figures?from=2026-11-30&to=2026-11-01", token=tokens["admin"]
        )
        assert status == 400 and err["field"] == "to"
        status, err = await stack.api(
            "GET", "/api/reports/assessment?month=2026-13", token=tokens["admin"]
        )
        assert status == 400 and err["field"] == "month"
        status, _, _ = await _get(stack, f"/api/reports/figures?{query}", None)
        assert status == 401
        status, _, _ = await _get(stack, f"/api/reports/figures?{query}", tokens["wallboard"])
        assert status == 403


async def test_reports_page_shows_the_table_and_the_chart(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    async with running_stack(tmp_path, empty_dsn) as stack, chromium() as page:
        offered = await _seeded(stack, empty_dsn)
        await page.goto(stack.url + "/reports")
        await page.wait_for("document.activeElement.id === 'token-input'")
        assert await page.evaluate("document.title") == "话务报表"
        await page.type(tokens["supervisor"])
        await press(page, "Enter")
        await page.wait_for("!document.getElementById('reports').classList.contains('hidden')")
        await page.evaluate(
            "document.getElementById('from').value = '2026-11-01';"
            "document.getElementById('to').value = '2026-11-30';"
            "document.getElementById('by').value = 'queue'; true"
        )
        await page.evaluate("document.getElementById('run').click(); true")
        await page.wait_for("document.body.dataset.loaded === '2026-11-01/2026-11-30/queue'", 10)
        shown = await page.evaluate(
            "document.querySelector('#table tfoot td[data-column=offered]').textContent"
        )
        assert shown == str(offered)
        rows = await page.evaluate("document.querySelectorAll('#table tbody tr').length")
        bars = await page.evaluate("document.querySelectorAll('#chart rect.bar').length")
        assert rows >= 2 and bars == 2 * rows
        assert await page.evaluate("!!document.querySelector('#chart polyline.rate')")
        await page.screenshot("reports.png")
        # The token lives in this tab only, never in the address or localStorage.
        assert await page.evaluate("localStorage.length") == 0
        assert page.exceptions == []
