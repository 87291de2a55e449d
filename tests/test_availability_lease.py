"""The leadership lease on a real PostgreSQL, the roles an engine moves through, and the
login sessions another engine recognises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cti.api.auth import Authenticator, Role
from cti.api.sessions import SessionStore
from cti.availability import MOVES, Availability
from cti.availability import Role as EngineRole
from cti.config import ConfigManager
from cti.errors import ConfigError
from cti.lease import Lease
from cti.store import Database
from cti.writer import BufferedWriter
from tests.support.stack import patched_config

pytestmark = pytest.mark.availability

DEADLINE = 10.0


class Clock:
    """A monotonic clock the test moves by hand (this process's view of the lease)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def dsn(empty_dsn: str) -> AsyncIterator[str]:
    db = Database(empty_dsn)
    await db.open()  # the migrations, 0007 among them
    await db.close()
    yield empty_dsn


def _lease(dsn: str, holder: str, seconds: float = 1.0, clock: Clock | None = None) -> Lease:
    kwargs = {} if clock is None else {"clock": clock}
    return Lease(dsn, "hotline", holder, f"http://{holder}", seconds=seconds, **kwargs)


async def test_one_holder_at_a_time_and_the_token_grows_with_each_new_holder(dsn: str) -> None:
    # Long enough that the steps before the expiry hold on a loaded machine.
    first, second = _lease(dsn, "a", seconds=3.0), _lease(dsn, "b", seconds=3.0)
    try:
        assert await first.try_acquire()
        assert first.token == 1 and first.held()
        assert not await second.try_acquire()
        assert second.current is not None and second.current.address == "http://a"
        assert await first.renew()
        # Nobody renews: once PostgreSQL's clock passes the expiry, the other takes it.
        async with asyncio.timeout(DEADLINE):
            while not await second.try_acquire():  # noqa: ASYNC110 (polling PostgreSQL)
                await asyncio.sleep(0.1)
        assert second.token == 2
        assert not await first.renew()
        assert not first.held() and first.token is None
        await second.release()
        assert await first.try_acquire()  # released: taken at once
        assert first.token == 3
    finally:
        await first.close()
        await second.close()


async def test_the_holder_stops_trusting_the_lease_before_postgresql_lets_it_go(
    dsn: str,
) -> None:
    clock = Clock()
    lease = _lease(dsn, "a", seconds=4.0, clock=clock)
    try:
        assert await lease.try_acquire()
        clock.now += 4.0 - lease.margin - 0.01
        assert lease.held()
        clock.now += 0.02  # a freeze: the process wakes after its own view ran out
        assert not lease.held()
        assert await lease.renew()  # PostgreSQL still had it: renewed in time
        assert lease.held()
    finally:
        await lease.close()


async def test_a_frozen_active_engine_is_deposed_by_its_first_fenced_request(dsn: str) -> None:
    clock = Clock()
    started: list[str] = []

    async def activate() -> None:
        started.append("links")

    availability = Availability(
        _lease(dsn, "a", seconds=3.0, clock=clock),
        renew_seconds=1.0,
        activate=activate,
    )
    assert availability.fence() is None  # a standby may not change calls
    assert availability.may_write()  # (but records its configuration reloads)
    availability.start()
    try:
        await asyncio.wait_for(availability.active.wait(), DEADLINE)
        assert availability.fence() == 1 and availability.may_write()
        clock.now += 10  # frozen past the lease
        assert not availability.may_write()
        assert availability.role is EngineRole.DEPOSED and availability.deposed.is_set()
        assert availability.fence() is None and not availability.may_write()
    finally:
        await availability.stop()
    assert started == ["links"]
    assert availability.role is EngineRole.STOPPED
    assert MOVES[EngineRole.DEPOSED] == frozenset({EngineRole.STOPPED})  # never active again


async def test_a_session_opened_on_one_engine_is_recognised_by_another(
    dsn: str, tmp_path: Path
) -> None:
    db = Database(dsn)
    await db.open()
    writer = BufferedWriter(db, tmp_path / "spool.jsonl")
    writer.start()
    try:
        one, other = Authenticator({}), Authenticator({})
        one.store = SessionStore(db, writer)
        other.store = SessionStore(db, writer)
        agent_token, _ = one.open_session("1001", "s01")
        person_token, _ = one.open_person_session("2001 王主任", Role.SUPERVISOR)
        await writer.flushed(DEADLINE)
        rows = await db.fetch("SELECT token_hash FROM api_sessions")
        assert len(rows) == 2
        assert all(agent_token.encode() not in bytes(r["token_hash"]) for r in rows)

        assert other.session(agent_token) is None  # not in this engine's memory
        agent = await other.recall(agent_token)
        assert agent is not None and (agent.id, agent.role, agent.seat) == (
            "1001",
            Role.AGENT,
            "s01",
        )
        person = await other.recall(person_token)
        assert person is not None and (person.id, person.role) == ("2001 王主任", Role.SUPERVISOR)
        assert await other.recall("not-a-token") is None

        one.close_sessions("1001")  # a logout ends the session everywhere
        one.close_person_session(person_token)
        await writer.flushed(DEADLINE)
        third = Authenticator({})
        third.store = SessionStore(db, writer)
        assert await third.recall(agent_token) is None
        assert await third.recall(person_token) is None
    finally:
        await writer.stop()
        await db.close()


def test_a_renewal_period_too_long_for_the_lease_is_refused_with_one_line(tmp_path: Path) -> None:
    def engine(data: Any) -> None:
        data["availability"] = {"lease_seconds": 3, "renew_seconds": 2}

    config_dir = patched_config(tmp_path / "config", {"engine.yaml": engine})
    with pytest.raises(ConfigError) as refused:
        ConfigManager(str(config_dir))
    assert "engine.yaml" in str(refused.value)
    assert "renew_seconds must be at most half of lease_seconds" in str(refused.value)
