"""Broken configurations: every error is reported, each at file:line with its key path."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cti.config import ConfigInvalid, check_config, load_config
from cti.config.cli import check_config_main

pytestmark = pytest.mark.foundation

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path("tests/fixtures/configs")


def run_check(directory: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = check_config_main([directory])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    """A private, writable copy of the minimal valid configuration."""
    target = tmp_path / "cfg"
    shutil.copytree(FIXTURES / "minimal", target)
    return target


Edit = Callable[[str, str, str], None]


@pytest.fixture
def edit(minimal: Path) -> Edit:
    def apply(name: str, old: str, new: str) -> None:
        path = minimal / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def errors_of(directory: Path) -> list[str]:
    return [str(issue) for issue in check_config(directory).errors]


def test_minimal_fixture_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_check(str(FIXTURES / "minimal"), capsys)
    assert (code, err) == (0, "")
    assert out.startswith("tests/fixtures/configs/minimal: valid — 6 routed numbers")


def test_unknown_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_check(str(FIXTURES / "unknown_key"), capsys)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "tests/fixtures/configs/unknown_key/queues.yaml:8: queues.general.stratgy: "
        "unknown key 'stratgy'; did you mean 'strategy'?",
        "tests/fixtures/configs/unknown_key: invalid — 1 error",
    ]


def test_queue_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_check(str(FIXTURES / "unknown_queue"), capsys)
    assert code == 1
    assert err.splitlines()[0] == (
        "tests/fixtures/configs/unknown_queue/routing.yaml:12: routes.main.queue: "
        "unknown queue 'complaints' (defined: general)"
    )


def test_number_routed_twice(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_check(str(FIXTURES / "routed_twice"), capsys)
    assert code == 1
    assert err.splitlines()[0] == (
        "tests/fixtures/configs/routed_twice/lines.yaml:7: merged[3].numbers[1]: "
        "number 85000001 is routed twice (first at lines.yaml:5)"
    )


def test_several_errors_in_several_files_are_all_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_check(str(FIXTURES / "several_errors"), capsys)
    assert code == 1 and out == ""
    base = "tests/fixtures/configs/several_errors"
    lines = err.splitlines()
    assert lines == [
        f"{base}/lines.yaml:14: emergency[1].number: a phone number must be a quoted string, "
        "e.g. '85098110' (got 120)",
        f"{base}/queues.yaml:8: queues.general.stratgy: unknown key 'stratgy'; "
        "did you mean 'strategy'?",
        f"{base}/seats.yaml:4: YAML syntax: while parsing a flow mapping "
        "expected ',' or '}', but got '<stream end>'",
        f"{base}/engine.yaml:1: ari.password_env: required key is missing",
        f"{base}/engine.yaml:1: ari.password: unknown key 'password'; did you mean "
        "'password_env'?; secrets never go in YAML: name an environment variable in a *_env key",
        f"{base}/survey.yaml:1: required file is missing",
        f"{base}: invalid — 6 errors",
    ]


def test_missing_directory_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_check(str(tmp_path / "nope"), capsys)
    assert (code, out) == (2, "")
    assert err == f"hotline check-config: {tmp_path / 'nope'}: no such configuration directory\n"


def test_load_config_raises_with_every_issue() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(FIXTURES / "several_errors")
    assert len(caught.value.issues) == 6
    assert caught.value.directory == "tests/fixtures/configs/several_errors"


def test_duplicate_yaml_key_is_a_parse_error_at_its_line(minimal: Path, edit: Edit) -> None:
    edit("queues.yaml", "    ring_timeout: 15\n", "    ring_timeout: 15\n    ring_timeout: 20\n")
    [error] = errors_of(minimal)
    assert error.startswith(f"{minimal}/queues.yaml:10: YAML syntax:")
    assert "duplicate key" in error


def test_cross_file_errors_are_all_reported(minimal: Path, edit: Edit) -> None:
    edit("queues.yaml", "  - skill: general", "  - skill: generall")
    edit("agents.yaml", "home_seat: s01", "home_seat: s09")
    edit("routing.yaml", "    announcement: merged_line_notice", "    announcement: merged_notice")
    edit("lines.yaml", "department: 城管局", "department: 城管局, dial: PJSIP/12319@t")
    errors = errors_of(minimal)
    assert errors == [
        f"{minimal}/routing.yaml:15: routes.merged_line.announcement: "
        "unknown prompt 'merged_notice' (prompts.yaml)",
        f"{minimal}/queues.yaml:5: queues.general.skills[0].skill: "
        "unknown skill 'generall' (defined: general)",
        f"{minimal}/agents.yaml:10: agents[0].home_seat: unknown seat 's09' (seats.yaml)",
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "routing.yaml",
            "route: main, description: 英文服务专线}",
            'route: main}\n  - {number: "110", route: main}',
            "routing.yaml:9: numbers[1].number: number 110 is an emergency number (hand-off "
            "only) (lines.yaml:13) and must never be routed",
        ),
        (
            "routing.yaml",
            "route: main, description: 英文服务专线}",
            'route: main}\n  - {number: "12319", route: main}',
            "routing.yaml:9: numbers[1].number: number 12319 is a parallel line (three-way "
            "target) (lines.yaml:9) and must never be routed",
        ),
        (
            "lines.yaml",
            "batch: wave2, after_cutover: withdrawn}",
            "batch: wave2, cut_over: 2024-02-01, after_cutover: withdrawn}",
            "lines.yaml:7: merged[3].cut_over: cut_over 2024-02-01 (from line) is before "
            "go_live 2024-03-01 (from batch wave2)",
        ),
        (
            "lines.yaml",
            "batch: wave2,",
            "batch: wave3,",
            "lines.yaml:7: merged[3].batch: unknown batch 'wave3'",
        ),
        (
            "lines.yaml",
            "go_live: 2024-03-01,",
            "go_live: 2023-12-01,",
            "lines.yaml:7: merged[3].batch: go_live 2023-12-01 is before the platform goes "
            "live (2024-01-01)",
        ),
        (
            "lines.yaml",
            'numbers: ["12345"], department: 信访局, name: 政府服务热线, after_cutover: main_number',
            'numbers: ["12345"], department: 信访局, name: 政府服务热线, after_cutover: kept',
            "lines.yaml:4: merged[0].after_cutover: the line of the main number 12345 must "
            "say after_cutover: main_number",
        ),
        (
            "queues.yaml",
            "overflow: {action: callback}",
            "overflow: {action: queue, target: general}",
            "queues.yaml:11: queues.general.overflow.target: a queue cannot overflow to itself",
        ),
        (
            "queues.yaml",
            "overflow: {action: callback}",
            "overflow: {action: queue}",
            "queues.yaml:11: queues.general.overflow.target: required key is missing",
        ),
        (
            "queues.yaml",
            "relax: [{after: 20, min_level: 1}]",
            "relax: [{after: 20, min_level: 4}]",
            "queues.yaml:5: queues.general.skills[0]: relax step after 20s must lower "
            "min_level below 3",
        ),
        (
            "agents.yaml",
            "skills: {general: 5}",
            "skills: {general: 11}",
            "agents.yaml:9: agents[0].skills.general: Input should be less than or equal to 10",
        ),
        (
            "agents.yaml",
            "pbkdf2_sha256$100000$0001",
            "pbkdf2_sha256$1000$0001",
            "agents.yaml:11: agents[0].pin_hash: pin_hash must be "
            "pbkdf2_sha256$<iterations>$<32 hex salt>$<64 hex hash>",
        ),
        (
            "platform.yaml",
            "go_live: 2024-01-01",
            "go_live: 20240101",
            "platform.yaml:7: transition.go_live: a date must be written YYYY-MM-DD (got 20240101)",
        ),
        (
            "routing.yaml",
            "    closed_route: after_hours",
            "    menu: main\n    closed_route: after_hours",
            "routing.yaml:10: routes.main: a route needs exactly one of queue, menu, hangup "
            "(got queue, menu)",
        ),
        (
            "seats.yaml",
            "endpoint: PJSIP/8002}",
            "endpoint: PJSIP/8001}",
            "seats.yaml:3: seats[1].endpoint: duplicate endpoint 'PJSIP/8001' (first at "
            "seats.yaml:2)",
        ),
        (
            "menus.yaml",
            "menus: {}",
            "menus:\n  m:\n    entry: q\n    nodes:\n      q: {type: queue, queue: desk}",
            "menus.yaml:6: menus.m.nodes.q.queue: unknown queue 'desk' (not defined in "
            "queues.yaml)",
        ),
        (
            "survey.yaml",
            "question_prompts: [survey_question]",
            "question_prompts: [survey_ask]",
            "survey.yaml:1: question_prompts[0]: unknown prompt 'survey_ask' (not defined in "
            "prompts.yaml)",
        ),
        (
            "prompts.yaml",
            "survey_question: {sounds: {zh: hotline/zh/survey-question}}",
            "survey_question: {sounds: {fr: hotline/fr/survey-question}}",
            "prompts.yaml:6: prompts.survey_question.sounds: no sound in the primary language 'zh'",
        ),
    ],
)
def test_each_mistake_is_placed(
    minimal: Path, edit: Edit, name: str, old: str, new: str, expected: str
) -> None:
    edit(name, old, new)
    errors = errors_of(minimal)
    assert f"{minimal}/{expected}" in errors, errors


def test_overflow_loop(minimal: Path) -> None:
    path = minimal / "queues.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "overflow: {action: callback}", "overflow: {action: queue, target: other}"
    )
    text += (
        "  other:\n    name: 其他\n    skills: [{skill: general}]\n"
        "    max_wait: 60\n    overflow: {action: queue, target: general}\n"
    )
    path.write_text(text, encoding="utf-8")
    errors = errors_of(minimal)
    assert (
        f"{minimal}/queues.yaml:11: queues.general.overflow.target: overflow loop: "
        "general -> other -> general" in errors
    )


def test_a_queue_nobody_can_serve_is_a_warning(minimal: Path, edit: Edit) -> None:
    edit("queues.yaml", "relax: [{after: 20, min_level: 1}]", "relax: []")
    edit("queues.yaml", "min_level: 3", "min_level: 9")
    result = check_config(minimal)
    assert result.ok
    assert [str(w) for w in result.warnings] == [
        f"{minimal}/queues.yaml:2: warning: queues.general: no agent has the skills this queue "
        "needs"
    ]


def test_stray_yaml_file_is_a_warning(minimal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (minimal / "queue.yaml").write_text("x: 1\n", encoding="utf-8")
    code, out, err = run_check(str(minimal), capsys)
    assert code == 0 and out.startswith(f"{minimal}: valid")
    assert err == (
        f"{minimal}/queue.yaml:1: warning: not a configuration file; did you mean queues.yaml?\n"
    )


def test_empty_and_non_mapping_files(minimal: Path) -> None:
    (minimal / "seats.yaml").write_text("# nothing yet\n", encoding="utf-8")
    (minimal / "prompts.yaml").write_text("- a\n- b\n", encoding="utf-8")
    errors = errors_of(minimal)
    assert f"{minimal}/seats.yaml:1: the file is empty" in errors
    assert any(e.startswith(f"{minimal}/prompts.yaml:1: Input should be") for e in errors)


def test_not_utf8(minimal: Path) -> None:
    (minimal / "seats.yaml").write_bytes(b"seats:\n  - {id: s01, area: \xff}\n")
    assert errors_of(minimal) == [f"{minimal}/seats.yaml:2: the file is not UTF-8 text"]


def test_ticket_retry_is_positive_and_ordered(minimal: Path, edit: Edit) -> None:
    tickets = 'tickets: {url: "http://127.0.0.1:8090"}'
    assert load_config(minimal).engine.tickets.retry.model_dump() == {"initial": 1, "cap": 300}
    edit("engine.yaml", tickets, 'tickets: {url: "http://127.0.0.1:8090", retry: {initial: 400}}')
    assert errors_of(minimal) == [
        f"{minimal}/engine.yaml:6: tickets.retry: need initial <= cap (got initial 400, cap 300)"
    ]
    edit("engine.yaml", "retry: {initial: 400}", "retry: {initial: 0, cap: '5', max: 9}")
    assert errors_of(minimal) == [
        f"{minimal}/engine.yaml:6: tickets.retry.initial: Input should be greater than 0",
        f"{minimal}/engine.yaml:6: tickets.retry.cap: Input should be a valid number",
        f"{minimal}/engine.yaml:6: tickets.retry.max: unknown key 'max' (allowed: cap, initial)",
    ]
