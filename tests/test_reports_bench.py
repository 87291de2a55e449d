"""``hotline bench report`` runs on a tiny size and prints its one JSON object (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.reports


def test_bench_report_prints_month_and_year_seconds(empty_dsn: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cti.cli", "bench", "report", "--calls", "3000", "--repeat", "1",
         "--dsn", empty_dsn, "--json"],
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.decode().strip().splitlines()
    result = json.loads(line)
    assert result["calls"] == 3000 and result["year_calls"] == 3000
    assert 0 < result["month_calls"] < 3000
    assert result["month_s"] >= 0 and result["year_s"] >= 0
