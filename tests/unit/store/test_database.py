"""The readiness probe of the database: reached, and its schema at the code's head; the
revision `mcpd admin-reset` asks for, and the URL helpers it uses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mcpctl.errors import BackendUnavailable
from mcpctl.store import display_url, head_revision, make_engine, sqlite_path, sqlite_url, upgrade
from mcpctl.store.database import DatabaseHealth, check_database, schema_revision


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


def revision_of(url: str, *, migrate: bool = False) -> str | None:
    async def run() -> str | None:
        engine = make_engine(url)
        try:
            if migrate:
                await upgrade(engine)
            return await schema_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_schema_revision_is_none_for_a_database_mcpd_never_made(tmp_path: Path) -> None:
    assert revision_of(sqlite_url(tmp_path / "empty.db")) is None
    assert revision_of(sqlite_url(tmp_path / "mcpd.db"), migrate=True) == head_revision()


def test_schema_revision_of_a_database_out_of_reach_says_why() -> None:
    with pytest.raises(BackendUnavailable) as refused:
        revision_of("postgresql://nobody@127.0.0.1:1/none")

    assert str(refused.value).startswith("the database does not answer: connection failed: ")


def test_the_file_of_a_sqlite_url_and_a_url_fit_to_show(tmp_path: Path) -> None:
    assert sqlite_path(sqlite_url(tmp_path / "mcpd.db")) == tmp_path / "mcpd.db"
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://u@h/db") is None
    assert display_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
