"""Reloading: a bad config is refused, a good one serves new calls only, versions are recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest

from cti.config import CONFIG_FILES, Config, ConfigInvalid, ConfigManager, ConfigVersion

pytestmark = pytest.mark.foundation

MINIMAL = Path(__file__).resolve().parent / "fixtures" / "configs" / "minimal"
T0 = dt.datetime(2024, 2, 5, 10, 0, tzinfo=dt.UTC)


class Clock:
    """A settable clock for loaded_at."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(MINIMAL, target)
    return target


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def digest(directory: Path) -> str:
    """The documented version hash, computed independently of the loader."""
    sha = hashlib.sha256()
    for name in sorted(CONFIG_FILES):
        raw = (directory / name).read_bytes()
        sha.update(f"{name}\0{len(raw)}\0".encode())
        sha.update(raw)
    return sha.hexdigest()


MONDAY_NOON = dt.datetime(2024, 2, 5, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_startup_version_is_recorded(cfg_dir: Path) -> None:
    clock = Clock()
    manager = ConfigManager(cfg_dir, requested_by="startup", clock=clock)
    version = manager.version
    assert version.digest == digest(cfg_dir)
    assert (version.requested_by, version.loaded_at) == ("startup", T0)
    assert manager.history == (version,)


def test_startup_with_an_invalid_config_raises(cfg_dir: Path) -> None:
    replace(cfg_dir / "queues.yaml", "strategy:", "stratgy:")
    with pytest.raises(ConfigInvalid) as caught:
        ConfigManager(cfg_dir)
    assert "queues.general.stratgy" in str(caught.value.issues[0])


def test_bad_config_is_refused_and_the_old_one_keeps_serving(cfg_dir: Path) -> None:
    manager = ConfigManager(cfg_dir, clock=Clock())
    before, version = manager.snapshot()
    seen: list[ConfigVersion] = []
    manager.on_change.append(lambda config, v: seen.append(v))
    replace(
        cfg_dir / "routing.yaml",
        "    queue: general\n    closed_route",
        "    queue: nope\n    closed_route",
    )
    result = manager.reload("admin:li")
    assert result.status == "refused" and not result.accepted
    assert [str(i).split(": ", 1)[1] for i in result.issues] == [
        "routes.main.queue: unknown queue 'nope' (defined: general)"
    ]
    assert result.candidate_digest == digest(cfg_dir) != version.digest
    assert manager.current is before and manager.version is version
    assert result.current is version
    assert manager.history == (version,) and seen == []
    # The old config still routes calls.
    assert manager.current.resolve("12345", MONDAY_NOON).route.queue == "general"


def test_good_config_serves_new_calls_only(cfg_dir: Path) -> None:
    clock = Clock()
    manager = ConfigManager(cfg_dir, clock=clock)
    call_in_progress = manager.current  # a call captured its config when it started
    old_version = manager.version
    calls: list[tuple[Config, ConfigVersion]] = []
    manager.on_change.append(lambda config, v: calls.append((config, v)))

    replace(cfg_dir / "queues.yaml", "ring_timeout: 15", "ring_timeout: 25")
    replace(
        cfg_dir / "routing.yaml",
        "    announcement: merged_line_notice\n    skippable: true\n",
        "    announcement: merged_line_notice\n",
    )
    clock.now = T0 + dt.timedelta(minutes=5)
    result = manager.reload("sighup")

    assert result.status == "accepted"
    new_call = manager.current
    assert new_call is not call_in_progress
    assert call_in_progress.queues.queues["general"].ring_timeout == 15
    assert new_call.queues.queues["general"].ring_timeout == 25
    assert call_in_progress.resolve("85000001", MONDAY_NOON).route.skippable is True
    assert new_call.resolve("85000001", MONDAY_NOON).route.skippable is False
    version = manager.version
    assert version.digest == digest(cfg_dir) != old_version.digest
    assert (version.requested_by, version.loaded_at) == ("sighup", clock.now)
    assert manager.history == (old_version, version)
    assert calls == [(new_call, version)]


def test_reload_of_unchanged_files_changes_nothing(cfg_dir: Path) -> None:
    manager = ConfigManager(cfg_dir)
    before = manager.current
    result = manager.reload("admin:li")
    assert result.status == "unchanged"
    assert manager.current is before and len(manager.history) == 1


def test_a_failing_hook_neither_blocks_the_reload_nor_other_hooks(cfg_dir: Path) -> None:
    manager = ConfigManager(cfg_dir)
    later: list[str] = []

    def broken(config: Config, version: ConfigVersion) -> None:
        raise RuntimeError("listener bug")

    manager.on_change += [broken, lambda config, v: later.append(v.requested_by)]
    replace(cfg_dir / "queues.yaml", "ring_timeout: 15", "ring_timeout: 16")
    assert manager.reload("api").accepted
    assert later == ["api"]


async def test_concurrent_async_reloads_are_serialised(cfg_dir: Path) -> None:
    manager = ConfigManager(cfg_dir)
    replace(cfg_dir / "queues.yaml", "ring_timeout: 15", "ring_timeout: 30")
    async with asyncio.timeout(20):
        first, second = await asyncio.gather(manager.areload("a"), manager.areload("b"))
    assert sorted([first.status, second.status]) == ["accepted", "unchanged"]
    assert manager.current.queues.queues["general"].ring_timeout == 30
    assert len(manager.history) == 2


def test_config_cannot_be_changed_in_place(cfg_dir: Path) -> None:
    config = ConfigManager(cfg_dir).current
    queue = config.queues.queues["general"]
    with pytest.raises(AttributeError):
        config.queues = config.queues  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        queue.ring_timeout = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.queues.queues["x"] = queue  # type: ignore[index]
    with pytest.raises(TypeError):
        config.agents.agents[0].skills["general"] = 1  # type: ignore[index]
    assert isinstance(config.lines.merged, tuple)


def test_history_is_bounded(cfg_dir: Path) -> None:
    manager = ConfigManager(cfg_dir, history_limit=2)
    for timeout in (16, 17, 18):
        text = (cfg_dir / "queues.yaml").read_text(encoding="utf-8")
        (cfg_dir / "queues.yaml").write_text(
            text.replace(f"ring_timeout: {timeout - 1}", f"ring_timeout: {timeout}"),
            encoding="utf-8",
        )
        assert manager.reload(f"r{timeout}").accepted
    assert [v.requested_by for v in manager.history] == ["r17", "r18"]
