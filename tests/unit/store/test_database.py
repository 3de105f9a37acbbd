"""The readiness probe of the database: reached, and its schema at the code's head."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mcpctl.store import head_revision, make_engine, sqlite_url, upgrade
from mcpctl.store.database import DatabaseHealth, check_database


def probe(url: str, *, migrate: bool = False) -> DatabaseHealth:
    async def run() -> DatabaseHealth:
        engine = make_engine(url)
        try:
            if migrate:
                await upgrade(engine)
            return await check_database(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_migrated_database_is_at_head(tmp_path: Path) -> None:
    health = probe(sqlite_url(tmp_path / "mcpd.db"), migrate=True)

    assert health.at_head
    assert health.revision == head_revision()


def test_a_database_never_migrated_is_reached_but_not_at_head(tmp_path: Path) -> None:
    health = probe(sqlite_url(tmp_path / "mcpd.db"))

    assert health.unreachable is None
    assert health.revision is None
    assert not health.at_head


def test_a_database_out_of_reach_is_named_by_its_error() -> None:
    health = probe("postgresql://nobody@127.0.0.1:1/none")  # port 1: refused at once

    assert health.unreachable == "OperationalError"
    assert not health.at_head
