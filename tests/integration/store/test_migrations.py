"""Alembic: one head, and the models match the migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from mcpctl.store import Base, current_revision, head_revision, make_engine, upgrade
from mcpctl.store.migrating import alembic_config

pytestmark = pytest.mark.integration


def test_the_migrations_have_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_the_models_match_the_migrated_schema(database_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def check() -> tuple[str | None, list[object]]:
        engine = make_engine(database_url)
        try:
            await upgrade(engine)
            await upgrade(engine)  # a second run is a no-op
            async with engine.connect() as connection:
                found = await connection.run_sync(differences)
            return await current_revision(engine), found
        finally:
            await engine.dispose()

    revision, found = asyncio.run(check())

    assert revision == head_revision()
    assert found == []
