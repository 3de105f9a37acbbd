"""mcpd processes for the API suite: one shared per database, or one per module.

Starting mcpd costs about a second; the API tests create objects under names
of their own (`Api.name`), so most of them share one process per database
(`api`). A module whose requests should not pay for everything the others
stored (every request evaluates every Rbac) takes `fresh_api` instead. Both
are parametrized over SQLite and PostgreSQL like `mcpd`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api.harness import Api
from tests.support.mcpd import running_mcpd
from tests.support.postgres import PostgresServer


def _serve(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    database: str = request.param
    base = tmp_path_factory.mktemp(f"api-{database}")
    if database == "sqlite":
        url = f"sqlite:///{base / 'mcpd.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    # the API's tests read objects back as they wrote them: no runtime writes statuses
    # beside them (the runtime's own tests are in tests/integration/runtime)
    with (
        running_mcpd(base / "state", url, args=["--runtimes", "none"]) as mcpd,
        Api(mcpd, database) as api,
    ):
        yield api


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An mcpd shared by the whole API suite, on SQLite and on PostgreSQL."""
    yield from _serve(request, tmp_path_factory)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """An mcpd for one test module, on SQLite and on PostgreSQL."""
    yield from _serve(request, tmp_path_factory)


@pytest.fixture(autouse=True)
def release_users(api: Api) -> Iterator[None]:
    """Users lent by `Api.user_client` go back to the pool after each test."""
    yield
    api.release_users()
