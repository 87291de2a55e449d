"""The engine's settings: the ticket backoff from engine.yaml and its environment override."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cti.app import TICKETS, Settings, build_app, ticket_backoff
from cti.config import ConfigManager
from cti.errors import ConfigError

pytestmark = pytest.mark.foundation

REPO = Path(__file__).resolve().parent.parent


def _config_dir(tmp_path: Path, retry: str | None) -> Path:
    """A copy of the shipped config/ with ``tickets.retry`` replaced (None: as shipped)."""
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    if retry is not None:
        engine = target / "engine.yaml"
        text = engine.read_text(encoding="utf-8")
        shipped = "  retry:\n    initial: 1\n    cap: 300\n"
        assert shipped in text
        engine.write_text(text.replace(shipped, f"  retry: {retry}\n"), encoding="utf-8")
    return target


def _settings(directory: Path, environ: dict[str, str]) -> tuple[Settings, ConfigManager]:
    manager = ConfigManager(directory)
    settings = Settings.from_config(str(directory), manager.current, environ=environ)
    return settings, manager


def test_the_shipped_backoff_is_one_second_doubling_to_five_minutes(tmp_path: Path) -> None:
    settings, manager = _settings(_config_dir(tmp_path, None), {})
    assert settings.tickets_retry_cap is None
    assert ticket_backoff(settings, manager.current) == (1.0, 300.0)


def test_fractions_of_a_second_are_accepted(tmp_path: Path) -> None:
    settings, manager = _settings(_config_dir(tmp_path, "{initial: 0.25, cap: 7.5}"), {})
    assert ticket_backoff(settings, manager.current) == (0.25, 7.5)


def test_the_environment_cap_wins_over_the_yaml_cap(tmp_path: Path) -> None:
    directory = _config_dir(tmp_path, "{initial: 0.5, cap: 60}")
    settings, manager = _settings(directory, {"HOTLINE_TICKETS_RETRY_CAP": "2"})
    assert settings.tickets_retry_cap == 2.0
    assert ticket_backoff(settings, manager.current) == (0.5, 2.0)


def test_an_environment_cap_below_the_initial_wait_lowers_the_initial_wait(
    tmp_path: Path,
) -> None:
    directory = _config_dir(tmp_path, "{initial: 10, cap: 600}")
    settings, manager = _settings(directory, {"HOTLINE_TICKETS_RETRY_CAP": "3"})
    assert ticket_backoff(settings, manager.current) == (3.0, 3.0)
    # The sender's settings refuse base > cap; the wiring must not hand it one.
    settings = settings.with_(
        database_url="postgresql://nobody@127.0.0.1:1/none", state_dir=str(tmp_path / "state")
    )
    app = build_app(settings, manager)
    assert app[TICKETS].running is False


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_environment_cap_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="HOTLINE_TICKETS_RETRY_CAP"):
        _settings(_config_dir(tmp_path, None), {"HOTLINE_TICKETS_RETRY_CAP": value})


def test_an_empty_environment_cap_means_unset(tmp_path: Path) -> None:
    settings, manager = _settings(_config_dir(tmp_path, None), {"HOTLINE_TICKETS_RETRY_CAP": ""})
    assert ticket_backoff(settings, manager.current) == (1.0, 300.0)
