"""``hotline bench nodes`` runs end to end at a tiny size: every call placed completes, each
node rings the agents of its own callers, and every figure it promises is printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.availability

REPO = Path(__file__).resolve().parents[1]


def test_the_nodes_benchmark_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "cti.cli", "bench", "nodes", "--json", "--nodes=2",
            "--rate=4", "--duration=1", "--talk=0.5", "--answer-after=0.2", "--time-scale=0.2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    (run,) = result["runs"]
    assert run["nodes"] == 2
    assert run["calls"] == run["tickets"] == run["completed"] == 4
    assert run["calls_by_node"] == {"ast-1": 2, "ast-2": 2}
    for figure in ("queue_to_ring_p50_ms", "queue_to_ring_p99_ms", "cpu_ms_per_call"):
        assert isinstance(run[figure], float) and run[figure] > 0, (figure, run)


def test_bad_node_counts_are_one_line_errors() -> None:
    for bad in ("--nodes=0", "--nodes=two", "--rate=-1"):
        done = subprocess.run(
            [sys.executable, "-m", "cti.cli", "bench", "nodes", bad],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, (bad, done.stderr)
        assert "Traceback" not in done.stderr
        assert "hotline bench nodes: error:" in done.stderr, done.stderr
