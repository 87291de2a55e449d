"""A new user's first hour: mistakes get one line, never a traceback.

Impossible dates in the YAML are reported at their key path and refused on
reload; every command ``hotline --help`` lists runs, and refuses bad input
with one line; the holiday calendar warns before it runs out; the demo leaves
nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cti.config import ConfigManager, check_config
from cti.config.cli import check_config_main
from tests.faces_support import parse_exposition, role_env
from tests.support.stack import running_stack

pytestmark = pytest.mark.hardening

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "fixtures" / "configs" / "minimal"
HOTLINE = str(Path(sys.executable).parent / "hotline")


def _edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(MINIMAL, target)
    return target


# --- impossible values in the YAML ------------------------------------------------------

IMPOSSIBLE: list[tuple[str, str, str, str]] = [
    # file, text in the minimal fixture, replacement, expected "key.path: message"
    (
        "platform.yaml",
        "go_live: 2024-01-01",
        "go_live: 2015-13-01",
        "transition.go_live: '2015-13-01' is not a calendar date",
    ),
    (
        "calendar.yaml",
        "start: 2024-05-01",
        "start: 2026-04-31",
        "holidays[0].start:",
    ),
    (
        "calendar.yaml",
        "workdays: [2024-05-11]",
        "workdays: [2024-02-30]",
        "holidays[0].workdays[0]:",
    ),
    (
        "platform.yaml",
        "go_live: 2024-01-01",
        "go_live: 2026-01-01 25:61:00",
        "transition.go_live:",
    ),
    ("platform.yaml", "go_live: 2024-01-01", "go_live: !!int abc", "'abc' cannot be read as !!int"),
    ("platform.yaml", "go_live: 2024-01-01", "go_live: !!bool maybe", "cannot be read as !!bool"),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), IMPOSSIBLE)
def test_an_impossible_value_is_one_line_at_its_place(
    minimal: Path, name: str, old: str, new: str, expected: str
) -> None:
    _edit(minimal, name, old, new)
    line = 1 + next(
        i
        for i, text in enumerate((minimal / name).read_text(encoding="utf-8").splitlines())
        if new.split(":", 1)[1].strip() in text
    )
    done = subprocess.run(
        [HOTLINE, "check-config", str(minimal)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [x for x in done.stderr.splitlines() if ": warning: " not in x]
    assert errors[0].startswith(f"{minimal / name}:{line}: "), errors
    assert expected in errors[0]
    assert errors[-1] == f"{minimal}: invalid — 1 error"


def test_a_reload_with_an_impossible_date_is_refused_and_the_old_config_serves(
    minimal: Path,
) -> None:
    manager = ConfigManager(minimal)
    before = manager.current
    _edit(minimal, "platform.yaml", "go_live: 2024-01-01", "go_live: 2015-13-01")
    result = manager.reload("admin:li")
    assert result.status == "refused"
    assert any("'2015-13-01' is not a calendar date" in str(i) for i in result.issues)
    assert manager.current is before


async def test_a_reload_through_the_api_with_an_impossible_date_answers_422(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with running_stack(tmp_path, empty_dsn) as stack:
        config_dir = Path(stack.engine_process.manager.directory)
        before = stack.engine_process.manager.version.digest
        text = (config_dir / "platform.yaml").read_text(encoding="utf-8")
        day = next(x for x in text.splitlines() if "go_live:" in x).split(":", 1)[1].strip()
        _edit(config_dir, "platform.yaml", f"go_live: {day}", "go_live: 2015-13-01")
        async with stack.http.post(stack.url + "/api/admin/config/reload", headers=admin) as r:
            assert r.status == 422
            body = await r.json()
        assert body["status"] == "refused"
        assert any("is not a calendar date" in issue for issue in body["issues"])
        assert stack.engine_process.manager.version.digest == before


# --- every listed command runs, and refuses bad input with one line ------------------


def _listed_commands() -> list[str]:
    done = subprocess.run([HOTLINE, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    listed = done.stdout.split("commands:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in listed.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _bad_inputs(tmp: Path, port: int) -> dict[str, list[list[str]]]:
    """For each command, invocations a user gets wrong (missing, unreadable, invalid)."""
    a_file = tmp / "a-file"
    a_file.write_text("not a directory\n", encoding="utf-8")
    missing = str(tmp / "missing")
    return {
        "run": [["--config", missing], ["--config", str(a_file)]],
        "check-config": [[missing], [str(a_file)], ["--today", "2026-02-30"]],
        "config-schema": [["--file", "nosuch"], ["-o", f"{missing}/x.json"]],
        "sim": [
            ["--ari-port", "x", "--ami-port", "0", "--user", "u"],
            [
                "--ari-port",
                "0",
                "--ami-port",
                "0",
                "--user",
                "u",
                "--secret",
                "s",
                "--scenario",
                missing,
            ],
            ["--ari-port", str(port), "--ami-port", "0", "--user", "u", "--secret", "s"],
        ],
        "demo": [["--config", missing], ["--duration", "soon"], ["--agents", "0"]],
        "bench": [["nosuch"], ["acd", "--seed", "x"], ["load", "--config", missing]],
        "render-asterisk-conf": [["--config", missing], ["--passwords", missing]],
        "simulate": [
            ["--config", missing, "--traffic", missing],
            ["--config", str(a_file), "--seats", "40"],
            ["--traffic", missing],
            ["--config", missing, "--days", "x"],
        ],
        "report": [
            ["--month", "2026-13"],
            ["--from", "2026-02-30", "--to", "2026-03-01"],
            ["--format", "pdf"],
            ["--by", "nosuch"],
            ["--month", "2026-11", "--config", missing],
        ],
    }


def _run_all(argvs: list[list[str]], **options: Any) -> list[subprocess.CompletedProcess[str]]:
    """Run every command line to its end, a few at a time (each is a process of its own),
    and give the results in the order of ``argvs``."""
    workers = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(workers) as pool:
        runs = [
            pool.submit(subprocess.run, argv, capture_output=True, text=True, **options)
            for argv in argvs
        ]
        return [run.result() for run in runs]


def test_help_lists_only_commands_that_run() -> None:
    listed = _listed_commands()
    assert "simulate" in listed
    helps = _run_all([[HOTLINE, command, "--help"] for command in listed], timeout=60)
    for command, done in zip(listed, helps, strict=True):
        assert done.returncode == 0, (command, done.stderr)
        assert "not available" not in done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr


def test_every_command_refuses_bad_input_with_one_line(tmp_path: Path, busy_port: int) -> None:
    listed = _listed_commands()
    cases = _bad_inputs(tmp_path, busy_port)
    assert sorted(cases) == sorted(listed), "every listed command needs its bad inputs here"
    runs = [
        (command, args) for command in listed for args in [["--no-such-option"], *cases[command]]
    ]
    results = _run_all(
        [[HOTLINE, command, *args] for command, args in runs],
        timeout=120,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    for (command, args), done in zip(runs, results, strict=True):
        shown = f"hotline {command} {' '.join(args)}"
        assert done.returncode != 0, shown
        assert "Traceback" not in done.stderr + done.stdout, (shown, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(("hotline", "render-asterisk-conf", "bench")), (shown, last)


# --- calendar coverage -------------------------------------------------------------------


def _shanghai_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_check_config_warns_when_the_holiday_list_ends_within_the_warning_days(
    minimal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = _shanghai_today() + dt.timedelta(days=20)
    _edit(minimal, "calendar.yaml", "covered_until: 2099-12-31", f"covered_until: {soon}")
    assert check_config_main([str(minimal)]) == 0
    out, err = capsys.readouterr()
    assert "valid" in out
    (warning,) = err.splitlines()
    assert warning.startswith(f"{minimal / 'calendar.yaml'}:")
    assert ": warning: covered_until: the holiday list ends in " in warning
    assert str(soon) in warning

    # Far enough ahead: quiet.  As of a chosen day (a go-live date): judged then.
    assert check_config_main([str(minimal), "--today", str(soon - dt.timedelta(days=90))]) == 0
    assert capsys.readouterr()[1] == ""
    assert check_config_main([str(minimal), "--today", str(soon + dt.timedelta(days=3))]) == 0
    assert "ended 3 days ago" in capsys.readouterr()[1]


def test_without_covered_until_the_list_covers_its_latest_year(minimal: Path) -> None:
    _edit(minimal, "calendar.yaml", "covered_until: 2099-12-31\n", "")
    config = check_config(minimal).config
    assert config is not None
    assert config.calendar.coverage_end() == dt.date(2024, 12, 31)


async def test_the_engine_alarms_and_exports_a_calendar_running_out(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = role_env(monkeypatch)
    headers = {"Authorization": f"Bearer {tokens['wallboard']}"}
    first = _shanghai_today()
    ends = first + dt.timedelta(days=10)

    def covered(data: Any) -> None:
        data["covered_until"] = ends

    async with running_stack(tmp_path, empty_dsn, patches={"calendar.yaml": covered}) as stack:
        async with stack.http.get(stack.url + "/api/wallboard", headers=headers) as r:
            board = await r.json()
        async with stack.http.get(stack.url + "/metrics", headers=headers) as r:
            metrics = parse_exposition(await r.text())
    expected = {(ends - first).days, (ends - _shanghai_today()).days}
    alarms = [a for a in board["alarms"] if a["figure"] == "calendar_days"]
    assert len(alarms) == 1 and alarms[0]["cleared_at"] is None
    assert alarms[0]["level"] == "red" and alarms[0]["threshold"] == 30
    assert alarms[0]["value"] in expected
    assert "calendar.yaml" in alarms[0]["message"]
    assert metrics["hotline_calendar_days_covered"].value() in expected


# --- the demo cleans up --------------------------------------------------------------


@pytest.fixture
def demo_tmp() -> Iterator[Path]:
    """A TMPDIR the ``postgres`` user can traverse (the demo's server runs as it)."""
    path = Path(tempfile.mkdtemp(prefix="hotline-test-tmp-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


DEMO = ["demo", "--http-port", "0", "--agents", "2", "--talk-min", "1", "--talk-max", "2"]


def _demo(tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen(
        [HOTLINE, *DEMO, *args],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _left(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("hotline-"))


def _wait_for_line(proc: subprocess.Popen[str], predicate: Callable[[str], bool]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if predicate(line):
            return line
    raise AssertionError(f"the demo ended first: {proc.wait(30)} {proc.stderr.read()}")  # type: ignore[union-attr]


@dataclass(frozen=True)
class Finished:
    """A demo run to its end in a TMPDIR of its own."""

    folder: Path
    returncode: int
    out: str
    err: str


@pytest.fixture(scope="module")
def finished_demos() -> Iterator[dict[str, Finished]]:
    """The demos that run to their end (its duration; kept with ``--keep``), side by side.

    Each is a process tree of its own (PostgreSQL, pbxsim, the engine) in its
    own TMPDIR; the tests below read the one they are about.
    """
    runs = {"duration": ("--duration", "3", "--json"), "keep": ("--duration", "1", "--keep")}
    folders = {name: Path(tempfile.mkdtemp(prefix="hotline-test-tmp-")) for name in runs}
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for folder in folders.values():
            folder.chmod(0o755)
        procs.update((name, _demo(folders[name], *args)) for name, args in runs.items())
        with ThreadPoolExecutor(len(procs)) as pool:
            talks = {
                name: pool.submit(proc.communicate, timeout=240) for name, proc in procs.items()
            }
            ended = {name: talk.result() for name, talk in talks.items()}
        yield {name: Finished(folders[name], procs[name].returncode, *ended[name]) for name in runs}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)


def test_the_demo_removes_its_folder_at_the_end_of_its_duration(
    finished_demos: dict[str, Finished],
) -> None:
    demo = finished_demos["duration"]
    assert demo.returncode == 0, demo.err
    assert '"adds_up": true' in demo.out
    assert _left(demo.folder) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_demo_removes_its_folder_when_interrupted(demo_tmp: Path, sig: signal.Signals) -> None:
    proc = _demo(demo_tmp)
    try:
        _wait_for_line(proc, lambda line: "agents ready" in line)
        assert any(name.startswith("hotline-demo-") for name in _left(demo_tmp))
        proc.send_signal(sig)
        proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _left(demo_tmp) == []


_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", "*_cache", "test-artifacts", "var"
)


def test_the_demo_runs_from_an_installed_wheel_in_any_directory(
    tmp_path: Path, demo_tmp: Path
) -> None:
    """Build the wheel, install it in a fresh virtualenv, run the demo from elsewhere."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_NOT_SOURCE)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("hotline_cti-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The libraries come from the test environment; the project only from the wheel.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "test-libraries.pth").write_text(ours + "\n", encoding="utf-8")
    shipped = subprocess.run(
        [str(python), "-c", "import cti.shipped as s; print(s.config_dir())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=demo_tmp,
    ).stdout.strip()
    assert shipped.startswith(str(venv)) and Path(shipped, "routing.yaml").is_file()

    env = {**os.environ, "TMPDIR": str(demo_tmp)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(venv / "bin" / "hotline"), *DEMO, "--duration", "5", "--json"],
        cwd=demo_tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["adds_up"] and summary["errors"] == 0 and summary["calls"] >= 1
    assert _left(demo_tmp) == []


def test_the_demo_keeps_its_folder_when_asked(finished_demos: dict[str, Finished]) -> None:
    demo = finished_demos["keep"]
    assert demo.returncode == 0, demo.err
    kept = [p for p in _left(demo.folder) if p.startswith("hotline-demo-")]
    assert len(kept) == 1 and f"working folder kept: {demo.folder / kept[0]}" in demo.out
