"""outbound.yaml: dial rules, the presented number, callback and return-visit policy, the URL template."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

import callbacks as cb
from cti.config import check_config, load_config

pytestmark = pytest.mark.outbound

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "fixtures" / "configs" / "minimal"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(MINIMAL, target)
    return target


def errors_of(directory: Path) -> list[str]:
    return [str(issue) for issue in check_config(directory).errors]


def test_shipped_dial_rules_allow_lines_and_citizens_and_refuse_premium_and_abroad() -> None:
    config = load_config(ROOT / "config")
    assert config.presented_number == "12345"
    verdict = config.may_dial("1001", "12319")  # 数字城管, a parallel line
    assert verdict.allowed and verdict.rule == "parallel lines"
    assert config.may_dial("1001", "95566").allowed  # 中国银行, a partner line
    assert config.may_dial("1001", "138 0013 8000").allowed
    assert config.may_dial("1001", "85098110").allowed
    assert config.may_dial("1001", "051385098110").allowed
    abroad = config.may_dial("1001", "0085212345678")
    assert not abroad.allowed and abroad.message == "this number may not be dialled (international)"
    assert not config.may_dial("1001", "16812345").allowed
    assert not config.may_dial("1001", "110").allowed  # hand-offs go through the emergency key
    assert not config.may_dial("1001", "12345;1").allowed
    assert config.may_dial("9999", "13800138000").message == "no agent '9999'"
    assert config.callback_style("senior") is cb.Style.PROGRESSIVE
    assert config.callback_style("general") is cb.Style.PREVIEW
    assert config.callback_style(None) is cb.Style.PREVIEW


def test_shipped_policy() -> None:
    policy = load_config(ROOT / "config").callback_policy()
    assert (policy.attempts, policy.spacing, policy.deadline) == (
        3, dt.timedelta(minutes=30), dt.timedelta(hours=2),
    )  # fmt: skip
    assert policy.quiet == cb.QuietHours(dt.time(21), dt.time(8))
    assert policy.timezone == "Asia/Shanghai"
    visits = load_config(ROOT / "config").visit_policy()
    assert (visits.attempts, visits.max_lines, visits.slow_down_waiting) == (3, 4, 3)


def test_the_file_is_optional(cfg: Path) -> None:
    (cfg / "outbound.yaml").unlink()
    config = load_config(cfg)
    assert config.presented_number == config.platform.main_number
    assert config.callback_policy().attempts == 3
    assert not config.may_dial("1001", "0044123456").allowed
    assert config.may_dial("1001", "13800138000").allowed


def test_minimal_fixture_settings(cfg: Path) -> None:
    config = load_config(cfg)
    policy = config.callback_policy()
    assert (policy.attempts, policy.spacing) == (2, dt.timedelta(minutes=15))
    assert config.callback_style("general") is cb.Style.PROGRESSIVE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'work_order_url: "http://x/{call_id}/{ticket}"\n',
            "outbound.yaml:1: work_order_url: unknown placeholder {ticket} (allowed: {call_id},"
            " {caller}, {department}, {line}, {repeat})",
        ),
        (
            "dial_rules:\n  - {name: bad, action: allow, pattern: '1[3-9'}\n",
            "outbound.yaml:2: dial_rules[0].pattern: not a regular expression:",
        ),
        (
            "dial_rules:\n  - {name: both, action: allow, pattern: '1', lines: parallel}\n",
            "outbound.yaml:2: dial_rules[0]: give either pattern or lines",
        ),
        (
            "queues: {nowhere: preview}\n",
            "outbound.yaml:1: queues.nowhere: unknown queue 'nowhere'",
        ),
        (
            'callbacks:\n  quiet_hours: {start: "25:00"}\n',
            "outbound.yaml:2: callbacks.quiet_hours.start:",
        ),
        ("callbacks: {attempts: 0}\n", "outbound.yaml:1: callbacks.attempts:"),
        ("presented_number: 12345\n", "outbound.yaml:1: presented_number:"),
    ],
)
def test_mistakes_are_reported_at_their_line(cfg: Path, text: str, expected: str) -> None:
    (cfg / "outbound.yaml").write_text(text, encoding="utf-8")
    errors = errors_of(cfg)
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        str(cfg / expected.split(":", 1)[0]) + ":" + expected.split(":", 1)[1]
    ), errors
