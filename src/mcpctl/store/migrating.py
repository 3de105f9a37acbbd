"""Schema migrations (Alembic), run by mcpd at start and by the tests.

The migration scripts ship inside the package (`store/migrations`); one head,
and a test checks that the models and the migrations agree.

Several mcpd may start at once on one PostgreSQL database (replicas): each
migrates under one advisory lock (`MIGRATION_LOCK`), so the first brings the
schema to head and the others, let in after it commits, find nothing to do.
SQLite serves one mcpd (the daemon's lock on its file), and has one writer
anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mcpctl.store.engine import no_answer

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
#: Alembic's table of the revision the schema is at.
VERSION_TABLE = "alembic_version"

#: The PostgreSQL advisory lock under which mcpd migrates (any key will do, as long as
#: every mcpd uses the same one and no other lock of mcpd's does).
MIGRATION_LOCK = 0x6D6370_6D69_67  # "mcpmig"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema, in one transaction.

    On PostgreSQL the transaction first takes `MIGRATION_LOCK`, which it holds until it
    commits: a second mcpd migrating meanwhile waits, then finds the schema at head.
    A database out of reach is `BackendUnavailable` with the driver's first line.
    """

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    try:
        connection = await engine.connect()
    except (SQLAlchemyError, OSError) as e:
        raise no_answer(e) from e
    try:
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                await _lock_migrations(connection)
            await connection.run_sync(run)
    finally:
        await connection.close()


async def _lock_migrations(connection: AsyncConnection) -> None:
    """Take `MIGRATION_LOCK` for this transaction, saying so if another mcpd holds it."""
    key = {"key": MIGRATION_LOCK}
    if await connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key):
        return
    log.info("another mcpd is migrating the database: waiting for it")
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database's schema is at (None: none of mcpd's), read from Alembic's
    version table directly: quietly, as every `/readyz` asks it (Alembic's own reading
    logs two lines each time)."""

    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        found = list(versions)
        if len(found) > 1:  # never with one head; Alembic's reading would refuse it too
            return MigrationContext.configure(connection).get_current_revision()
        return found[0] if found else None

    async with engine.connect() as connection:
        return await connection.run_sync(read)
