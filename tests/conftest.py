"""Shared fixtures: a real private PostgreSQL server for the whole session,
and a fresh, empty database per test that asks for one; Hypothesis without
per-example deadlines."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from hypothesis import settings

from cti.pgserver import PrivatePostgres

# Property tests judge what the code does, not how fast: an example stalled by a
# loaded machine is no failure (speed lives in the benchmarks).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PrivatePostgres]:
    """One PostgreSQL cluster for the test session, started as the `postgres`
    user when the tests run as root."""
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def empty_dsn(pg_server: PrivatePostgres) -> AsyncIterator[str]:
    """The DSN of a new, empty database, dropped after the test."""
    name = f"t{next(_db_counter)}"
    admin = await asyncpg.connect(pg_server.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield pg_server.dsn.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(pg_server.dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
