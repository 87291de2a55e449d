"""``hotline bench load`` runs end to end at a tiny size and prints every figure it promises.

Benchmarks are never timed in tests: these check that the figures exist and
add up (calls placed = completed = ticketed), that the pieces computing them
pair the right observations, and that pbxsim's timestamps (the observation
hook the latency figures rest on) are present and in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.load import STEPS, Phase, arrivals, freshness, table
from bench.loadrig import Sample, board_sample
from bench.loadsupport import bench_config, cpu_seconds, percentile, rss_mb
from cti.config import ConfigManager
from pbxsim import CallerScript, PbxSim, SimConfig

pytestmark = pytest.mark.resilience

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--json",
    "--rates=2,3",
    "--duration=1",
    "--concurrent=2",
    "--talk=0.5",
    "--answer-after=0.2",
    "--time-scale=0.2",
    "--ingest-seconds=0.1",
]


def test_the_benchmark_runs_and_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cti.cli", "bench", "load", *TINY],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    for key in ("queue_to_ring_p50_ms", "queue_to_ring_p99_ms"):
        assert set(result[key]) == {"2", "3"}
        assert all(isinstance(v, float) for v in result[key].values())
    for key in ("cpu_ms_per_call", "rss_mb_500_calls", "events_per_s", "wallboard_p99_ms"):
        assert isinstance(result[key], int | float) and result[key] > 0, key
    assert set(result["queue_to_ring_steps_p50_ms"]["3"]) == set(STEPS)
    calls = result["calls"]
    assert calls["placed"] == calls["completed"] == calls["tickets"] == 2 + 2 + 3
    assert calls["not_rung_by_rate"] == {"2": 0, "3": 0}
    assert result["memory"]["concurrent"] == 2 and result["memory"]["extrapolated"] is True
    assert result["ingest"]["engine_errors"] == 0
    assert result["engine_log_errors"] == 0
    assert result["wallboard_source"]
    assert set(result["targets"]) == {
        "queue_to_ring_p99_ms",
        "cpu_ms_per_call",
        "rss_mb_500_calls",
        "events_per_s",
        "wallboard_p99_ms",
    }
    assert all(t["met"] in (True, False) for t in result["targets"].values())
    shown = table(result)
    assert "queue-to-ring latency at 3 calls/s" in shown
    assert "(MISSED)" in shown or "(met)" in shown


def _request(method: str, path: str, at: float, **params: Any) -> dict[str, Any]:
    return {"method": method, "path": path, "params": params, "at": at}


def _start(channel: str, number: str, at: float, role: str = "inbound") -> dict[str, Any]:
    event = {
        "type": "StasisStart",
        "args": [role, "12345"],
        "channel": {"id": channel, "caller": {"number": number}},
    }
    return {"at": at, "event": event}


def test_each_caller_is_paired_with_the_requests_of_its_own_call() -> None:
    starts = [
        _start("ch-a", "13100000000", 100.0),
        _start("ch-b", "13100000001", 100.5),
        _start("leg-x", "13100000000", 101.0, role="agent"),  # not a caller
        _start("ch-c", "18912345678", 102.0),  # not a benchmark caller
    ]
    requests = [
        _request(
            "POST", "/channels/ch-b/variable", 100.501, variable="HOTLINE_CALL_ID", value="c-2"
        ),
        _request(
            "POST", "/channels/ch-a/variable", 100.002, variable="HOTLINE_CALL_ID", value="c-1"
        ),
        _request("GET", "/channels/ch-a/variable", 100.003, variable="REDIRECTING(from-num)"),
        _request("POST", "/channels/ch-a/answer", 100.004),
        _request("POST", "/channels/ch-a/moh", 100.005, mohClass="default"),
        _request("POST", "/channels", 100.009, appArgs="agent,c-1,5000", endpoint="PJSIP/70000"),
        _request("POST", "/channels", 100.020, appArgs="agent,c-1,5001", endpoint="PJSIP/70001"),
        _request("POST", "/channels", 100.600, appArgs="consultee,c-2", endpoint="PJSIP/1"),
    ]
    (found,) = arrivals(starts, requests).values()
    a, b = sorted(found, key=lambda x: x.at)
    assert a.at == 100.0 and b.at == 100.5
    assert a.steps == pytest.approx(
        {
            "call_id_set": 0.002,
            "diversion_read": 0.003,
            "answered": 0.004,
            "moh_started": 0.005,
            "agent_rung": 0.009,  # the first offer, not the second
        }
    )
    assert b.steps == pytest.approx({"call_id_set": 0.001})  # never rung


def test_freshness_counts_the_kth_arrival_when_offered_reaches_base_plus_k() -> None:
    phase = Phase(1, "rate", 2.0, 3, started_at=50.0, offered_before=10)
    samples = [Sample(49.0, 10, 5, 0), Sample(50.4, 11, 4, 0), Sample(51.2, 13, 2, 0)]
    assert freshness(phase, [50.3, 50.9, 50.1], samples) == pytest.approx([0.3, 0.9, 0.3])
    # An arrival no update ever counted is left out, not guessed.
    assert freshness(phase, [50.1, 50.2, 50.3, 50.4], samples) == pytest.approx([0.3, 1.0, 0.9])


def test_wallboard_documents_of_either_shape_give_the_same_sample() -> None:
    pushed = {"total": {"today": {"offered": 7}, "agents": {"ready": 3, "on_call": 2}}}
    polled = {"today": {"offered": 7}, "agents": {"by_state": {"idle": 3, "on_call": 2}}}
    assert board_sample(1.0, pushed) == board_sample(1.0, polled) == Sample(1.0, 7, 3, 2)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_the_bench_configuration_goes_straight_to_a_queue_with_enough_agents(
    tmp_path: Path,
) -> None:
    staff = bench_config(REPO / "config", tmp_path / "config", 12, pin="2468")
    config = ConfigManager(tmp_path / "config").current
    route = config.routing.routes[config.routing.main]
    assert route.notice is None and route.announcement is None and route.queue == "general"
    assert config.queues.queues["general"].max_length is None
    assert [a.number for a in config.agents.agents] == list(staff.agents)
    assert {s.endpoint for s in config.seats.seats} == {f"PJSIP/{e}" for e in staff.endpoints}
    assert len(set(staff.endpoints)) == 12


def test_process_figures_come_from_proc() -> None:
    before = cpu_seconds(os.getpid())
    resident = rss_mb(os.getpid())
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    assert rss_mb(os.getpid()) - resident >= 48
    assert cpu_seconds(os.getpid()) >= before > 0
    del block


async def test_pbxsim_stamps_events_and_requests_with_the_time() -> None:
    secret = "bench-test"
    async with PbxSim(SimConfig(user="u", secret=secret, time_scale=0.01)) as sim:
        headers = {"Authorization": aiohttp.encode_basic_auth("u", secret)}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.ws_connect(sim.ws_url()) as ws,
        ):
            first = time.time()
            handle = sim.place_call(CallerScript(number="13100000000"))
            await sim.wait_for_event("StasisStart")
            base = sim.ari_url
            async with http.post(f"{base}/channels/{handle.channel_id}/answer") as r:
                assert r.status == 204
            last = time.time()
            async with http.get(f"http://127.0.0.1:{sim.ari_port}/sim/events") as r:
                plain = await r.json()
            url = f"http://127.0.0.1:{sim.ari_port}/sim/events?type=StasisStart&timed=1"
            async with http.get(url) as r:
                timed = await r.json()
            async with http.get(f"http://127.0.0.1:{sim.ari_port}/sim/requests") as r:
                requests = await r.json()
            await ws.close()
    assert plain[0]["type"] == "StasisStart" and "at" not in plain[0]
    assert len(plain) > len(timed) == 1
    assert timed[0]["event"]["channel"]["id"] == handle.channel_id
    assert first <= timed[0]["at"] <= last
    (answer,) = [r for r in requests if r["path"].endswith("/answer")]
    assert timed[0]["at"] <= answer["at"] <= last
