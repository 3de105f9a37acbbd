"""Fixtures shared by every test folder: a PostgreSQL server, mcpd processes, files.

`database_url` is parametrized over SQLite and PostgreSQL, so a test using it
(or `mcpd`) runs on both databases. `write` (from tests/support/manifests.py)
writes a file into the test's temp dir, which becomes the current directory.

Hypothesis runs with the profile `mcpctl`: a fixed number of examples and no
clock (no deadline per example, no `too_slow` health check), so that a busy
machine makes a run slower, never red. A test's own `settings` build on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.leftovers import containers_left, processes_left
from tests.support.manifests import write as write
from tests.support.mcpd import Mcpd, running_mcpd
from tests.support.postgres import PostgresServer, running_postgres

settings.register_profile("mcpctl", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mcpctl")


@pytest.fixture(scope="session", autouse=True)
def no_leftovers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the whole session, no MCP server process nor container that a test (or an
    mcpd a test ran) started may still run."""
    started = datetime.now(UTC)
    yield
    processes = processes_left(tmp_path_factory.getbasetemp())
    containers = containers_left(started)
    assert not processes, f"processes the tests started still run: {processes}"
    assert not containers, f"containers the tests started still run: {containers}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mcpd.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def mcpd(database_url: str, tmp_path: Path) -> Iterator[Mcpd]:
    """A fresh mcpd (new state dir, new database) on SQLite and on PostgreSQL."""
    with running_mcpd(tmp_path / "state", database_url) as server:
        yield server
