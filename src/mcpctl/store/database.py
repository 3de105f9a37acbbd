"""The database as the store's callers hold it: its handles and whether it is ready.

mcpd's wiring builds an `Engine` and a `Sessions` factory (`make_engine`,
`make_sessionmaker`) and hands them on; the API names their types and asks
`check_database` for `/readyz`; `mcpd admin-reset`, which must find a
database mcpd made rather than start one, asks `schema_revision`. They come
from here so that no package above the store imports sqlalchemy to name or
probe the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from mcpctl.store.engine import no_answer
from mcpctl.store.migrating import current_revision, head_revision
from mcpctl.store.writes import Sessions

#: The engine of mcpd's database (one per process; disposed at stop).
Engine: TypeAlias = AsyncEngine

__all__ = ["DatabaseHealth", "Engine", "Sessions", "check_database", "schema_revision"]


@dataclass(frozen=True)
class DatabaseHealth:
    """What `check_database` found: the schema's revision against the code's head."""

    #: the revision the code migrates to (None when the database was not reached)
    head: str | None = None
    revision: str | None = None
    #: the class name of the error that kept the database out of reach, if one did
    unreachable: str | None = None

    @property
    def at_head(self) -> bool:
        return self.unreachable is None and self.revision == self.head


async def check_database(engine: Engine) -> DatabaseHealth:
    """Whether the database answers, and the revision its schema is at (for `/readyz`)."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(engine)
    except Exception as e:  # any database failure means not ready; the probe names it
        return DatabaseHealth(unreachable=type(e).__name__)
    return DatabaseHealth(head_revision(), revision)


async def schema_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at (None: no schema of mcpd's there).

    BackendUnavailable, with the driver's first line, when the database does not answer.
    """
    try:
        return await current_revision(engine)
    except (SQLAlchemyError, OSError) as e:
        raise no_answer(e) from e
