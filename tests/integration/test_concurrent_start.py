"""Replicas starting at once on one empty PostgreSQL database: the schema is migrated once,
and nobody fails for it.

The race is run with the store's migrations in several processes let go at once
(`tests/support/racing.py`), a few rounds of fresh databases.
"""

from __future__ import annotations

import pytest

from mcpctl.store import head_revision
from tests.support import racing
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

#: Fresh databases raced on, and processes racing on each.
ROUNDS = 3
RACERS = 4


def test_processes_migrating_one_empty_database_at_once_all_end_at_head(
    postgres: PostgresServer,
) -> None:
    for _ in range(ROUNDS):
        database_url = postgres.create_database()

        outcomes = racing.race(racing.migrate, database_url, *[()] * RACERS)

        assert outcomes == [("migrated", head_revision())] * RACERS
