"""Async engines for the embedded SQLite file and for PostgreSQL (psycopg 3).

`make_engine` takes the URL a user gives (`sqlite:///path`, `postgresql://...`)
and picks the async driver; SQLite gets WAL mode, a busy timeout and foreign
keys on every connection.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from mcpctl.errors import InvalidInput


def _dumps(value: Any) -> str:
    """JSON columns through orjson: listing 10,000 objects decodes 40,000 of them."""
    return orjson.dumps(value).decode("utf-8")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def async_url(url: str) -> str:
    """The URL with an async driver: aiosqlite for SQLite, psycopg for PostgreSQL."""
    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy raises ArgumentError and ValueError alike
        raise InvalidInput(f"invalid database URL: {e}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise InvalidInput(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`."""
    kwargs.setdefault("json_serializer", _dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    engine = create_async_engine(async_url(url), **kwargs)
    if is_sqlite(engine):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


#: The key of `Session.info` where a write notes what its changes stored, by object key
#: (None: deleted), for `after_write`; None there when the write stored what must be read
#: back from the database.
STORED = "stored"


def make_sessionmaker(
    engine: AsyncEngine, *, after_write: Callable[[str, Any], None] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`; `after_write(write_id, stored)` runs after each commit that
    recorded changes (`stored`: the session's `STORED` note, or None)."""
    if after_write is None:
        return async_sessionmaker(engine, expire_on_commit=False)

    class WriteSession(Session):
        """A session that reports its committed writes (they carry a write id)."""

    def committed(session: Session) -> None:
        if "write_id" in session.info:
            after_write(session.info["write_id"], session.info.pop(STORED, None))

    def rolled_back(session: Session, previous: Any) -> None:
        session.info.pop(STORED, None)  # nothing of it was stored

    event.listen(WriteSession, "after_commit", committed)
    event.listen(WriteSession, "after_soft_rollback", rolled_back)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=WriteSession)


#: The PostgreSQL advisory lock that orders the writers of the change log (any key will do,
#: as long as every mcpd uses the same one).
CHANGE_LOG_LOCK = 0x6D6370_6374_6C  # "mcpctl"


async def lock_change_log(session: AsyncSession) -> None:
    """Hold the change log for this transaction, until it commits or rolls back.

    The exporter records how far `main` follows the change log by one number (the
    highest exported `seq`), so the changes must become visible in `seq` order: a
    transaction given `seq` 10 that commits after the one given 11 would never be
    exported. PostgreSQL hands out sequence values to concurrent transactions, so
    writers of changes take this lock before their first change; SQLite has one
    writer at a time already. Taken again in the same transaction, it is granted at once.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOG_LOCK})
