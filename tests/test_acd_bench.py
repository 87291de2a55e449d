"""The benchmark runs at tiny sizes, prints its figures, and replays deterministically.

No timing is asserted: figures depend on the machine.  What is asserted is
that the command works end to end, that its JSON has the keys other tools
read, and that the indexed and the scan selectors make identical decisions
on a realistic simulated stream (a differential test of the indices).
"""

from __future__ import annotations

import json

import pytest

from acd import Acd, IndexedSelector, ScanSelector
from bench.acd import DECISIONS, centre_80, prefix, record, replay
from bench.cli import main as bench_main
from cti.cli import main as hotline_main

pytestmark = pytest.mark.acd

KEYS = {
    "decisions_per_s_80",
    "p99_us_80",
    "decisions_per_s_5000",
    "p99_us_5000",
    "naive_decisions_per_s_5000",
    "ratio_5000",
}


def test_hotline_bench_acd_json_has_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "acd", "--json", "--events", "150", "--naive-events", "20", "--warmup", "5"]
    code = hotline_main(argv)
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) >= KEYS
    assert figures["same_commands"] is True
    assert figures["decisions_80"] == 150 and figures["naive_decisions_5000"] == 20


def test_bench_prints_a_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["acd", "--events", "100", "--naive-events", "10", "--seed", "3", "--warmup", "5"]
    assert bench_main(argv) == 0
    text = capsys.readouterr().out
    assert "decisions/s" in text and "naive scan" in text and "identical commands: True" in text


def test_bench_lists_its_benchmarks_and_refuses_unknown_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_main([]) == 0
    assert "acd" in capsys.readouterr().out
    assert bench_main(["nope"]) == 2


def test_recording_is_seeded_and_counts_decisions() -> None:
    first = record(centre_80(5), 5, 300, warmup_s=60)
    again = record(centre_80(5), 5, 300, warmup_s=60)
    assert first.stream == again.stream and first.setup == again.setup
    assert sum(isinstance(e, DECISIONS) for e, _ in first.stream) == 300
    assert len(prefix(first, 40).stream) < len(first.stream)


def test_indexed_and_scan_selectors_decide_alike_on_simulated_traffic() -> None:
    scenario = centre_80(11)
    rec = record(scenario, 11, 3000, warmup_s=300)
    indexed = replay(scenario, rec, IndexedSelector)
    scan = replay(scenario, rec, ScanSelector)
    assert indexed.digest == scan.digest
    assert indexed.decisions == scan.decisions == 3000


def test_replayed_stream_gives_the_recorded_commands() -> None:
    scenario = centre_80(2)
    rec = record(scenario, 2, 500, warmup_s=60)
    a, b = Acd(scenario.config), Acd(scenario.config)
    for event, now in rec.setup + rec.stream:
        assert a.handle(event, now) == b.handle(event, now)
    totals = a.totals()
    assert totals.entered == (
        totals.answered + totals.abandoned + totals.overflowed + totals.waiting + totals.offering
    )
