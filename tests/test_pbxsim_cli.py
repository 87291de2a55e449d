"""``hotline sim`` as a separate process: given ports, ARI and AMI answer, SIGTERM stops it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.sim import basic_auth

pytestmark = pytest.mark.bridge

HOTLINE = [sys.executable, "-m", "cti.cli"]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *HOTLINE,
        "sim",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_hotline_sim_serves_ari_and_ami_until_signalled(
    stop_signal: signal.Signals, tmp_path: Path
) -> None:
    ari_port, ami_port = free_port(), free_port()
    scenario = tmp_path / "scenario.json"
    scenario.write_text(
        json.dumps(
            {
                "phones": [{"endpoint": "8001"}],
                "remotes": [{"number": "12319", "trunk": "hotline-12319"}],
            }
        ),
        encoding="utf-8",
    )
    process = await start(
        "--ari-port",
        str(ari_port),
        "--ami-port",
        str(ami_port),
        "--user",
        "hotline",
        "--app",
        "hotline",
        "--time-scale",
        "0.1",
        "--scenario",
        str(scenario),
        env={"PBXSIM_SECRET": "s3cret"},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        assert f"127.0.0.1:{ari_port}/ari" in line and str(ami_port) in line
        async with aiohttp.ClientSession(headers=basic_auth("hotline", "s3cret")) as http:
            async with http.get(f"http://127.0.0.1:{ari_port}/ari/endpoints/PJSIP") as response:
                assert response.status == 200
                resources = {e["resource"] for e in await response.json()}
                assert {"8001", "carrier", "hotline-12319"} <= resources
            ws = await http.ws_connect(f"ws://127.0.0.1:{ari_port}/ari/events?app=hotline")
            async with http.post(
                f"http://127.0.0.1:{ari_port}/sim/calls",
                json={"number": "13800138000", "name": "张三市民"},
            ) as response:
                assert response.status == 200
            async with asyncio.timeout(5):
                event = json.loads((await ws.receive()).data)
            assert event["type"] == "StasisStart"
            assert event["channel"]["caller"]["name"] == "张三市民"
            await ws.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", ami_port)
        async with asyncio.timeout(5):
            assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
            writer.write(b"Action: Login\r\nUsername: hotline\r\nSecret: s3cret\r\n\r\n")
            reply = await reader.readuntil(b"\r\n\r\n")
        assert b"Authentication accepted" in reply
        writer.close()
        process.send_signal(stop_signal)
        async with asyncio.timeout(10):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_hotline_sim_without_a_secret_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PBXSIM_SECRET"}
    process = await asyncio.create_subprocess_exec(
        *HOTLINE,
        "sim",
        "--ari-port",
        "0",
        "--ami-port",
        "0",
        "--user",
        "u",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"secret" in err


async def test_hotline_sim_reports_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"callers": [{"number": "1", "dialed": "12345"}]}), encoding="utf-8")
    process = await start(
        "--ari-port", "0", "--ami-port", "0", "--user", "u", "--secret", "s", "--scenario", str(bad)
    )
    async with asyncio.timeout(20):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"dialed" in err


@pytest.mark.fidelity
async def test_hotline_sim_reports_a_bad_dialplan(tmp_path: Path) -> None:
    bad = tmp_path / "extensions.conf"
    bad.write_text("[probe]\nexten => in,first,NoOp()\n", encoding="utf-8")
    process = await start(
        "--ari-port", "0", "--ami-port", "0", "--user", "u", "--secret", "s", "--dialplan", str(bad)
    )
    async with asyncio.timeout(20):
        _, err = await process.communicate()
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "extensions.conf:2: bad priority 'first'" in lines[0]


@pytest.mark.fidelity
async def test_hotline_sim_runs_the_dialplan_it_is_given(tmp_path: Path) -> None:
    """--dialplan FILE is run, and an ari.conf beside it gives the channelvars."""
    (tmp_path / "extensions.conf").write_text(
        "[probe]\nexten => in,1,Set(HOTLINE_CALL_ID=c-cli)\n same => n,Wait(30)\n",
        encoding="utf-8",
    )
    (tmp_path / "ari.conf").write_text(
        "[general]\nenabled = yes\nchannelvars = HOTLINE_CALL_ID\n", encoding="utf-8"
    )
    ari_port, ami_port = free_port(), free_port()
    process = await start(
        "--ari-port",
        str(ari_port),
        "--ami-port",
        str(ami_port),
        "--user",
        "u",
        "--secret",
        "s",
        "--dialplan",
        str(tmp_path / "extensions.conf"),
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            await process.stdout.readline()
        base = f"http://127.0.0.1:{ari_port}/ari"
        async with aiohttp.ClientSession(headers=basic_auth("u", "s")) as http:
            params = {
                "endpoint": "Local/in@probe",
                "context": "probe",
                "extension": "park",
                "channelId": "in-1",
                "otherChannelId": "in-1b",
            }
            async with http.post(f"{base}/channels", params=params) as reply:
                assert reply.status == 200
                assert (await reply.json())["channelvars"] == {"HOTLINE_CALL_ID": ""}
            async with asyncio.timeout(10):
                while True:
                    async with http.get(f"{base}/channels/in-1b") as reply:
                        body = await reply.json()
                    if body["channelvars"]["HOTLINE_CALL_ID"] == "c-cli":
                        break
                    await asyncio.sleep(0.05)  # polling another process over HTTP
            assert body["dialplan"]["app_name"] == "Wait"
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await process.wait()
