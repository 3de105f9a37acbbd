"""Async engines for the embedded SQLite file and for PostgreSQL (psycopg 3).

`make_engine` takes the URL a user gives (`sqlite:///path`, `postgresql://...`)
and picks the async driver; SQLite gets WAL mode, a busy timeout and foreign
keys on every connection. `database_kind` tells the daemon which of the two a
URL names (PostgreSQL serves several mcpd, SQLite one), and `no_answer` words
a database out of reach in one line, for the migrations at start and for
`mcpd admin-reset`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from mcpctl.errors import BackendUnavailable, InvalidInput
from mcpctl.store.writes import Sessions, WriteNotice, session_context


def _dumps(value: Any) -> str:
    """JSON columns through orjson: listing 10,000 objects decodes 40,000 of them."""
    return orjson.dumps(value).decode("utf-8")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except Exception as e:  # sqlalchemy raises ArgumentError and ValueError alike
        raise InvalidInput(f"invalid database URL: {e}") from None


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database, or SQLite in memory."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def display_url(url: str) -> str:
    """The URL as it may be shown: its password masked."""
    return _parse(url).render_as_string(hide_password=True)


def database_kind(url: str) -> str:
    """ "sqlite" or "postgresql": the database `url` names (InvalidInput for another)."""
    backend = _parse(url).get_backend_name()
    if backend == "sqlite":
        return "sqlite"
    if backend in ("postgresql", "postgres"):
        return "postgresql"
    raise InvalidInput(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def async_url(url: str) -> str:
    """The URL with an async driver: aiosqlite for SQLite, psycopg for PostgreSQL."""
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}[database_kind(url)]
    return _parse(url).set(drivername=driver).render_as_string(hide_password=False)


def no_answer(error: Exception) -> BackendUnavailable:
    """`error`, raised reaching the database, as one line: the driver's first line."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return BackendUnavailable(
        f"the database does not answer: {lines[0] if lines else type(cause).__name__}"
    )


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


def make_sessionmaker(
    engine: AsyncEngine, *, after_write: Callable[[WriteNotice], None] | None = None
) -> Sessions:
    """Sessions on `engine`; `after_write(notice)` runs after each commit of a write that
    recorded changes (see `mcpctl.store.writes`)."""
    if after_write is None:
        return async_sessionmaker(engine, expire_on_commit=False)

    class WriteSession(Session):
        """A session that reports its committed writes (they carry a write id)."""

    def committed(session: Session) -> None:
        notice = session_context(session.info).committed()
        if notice is not None:
            after_write(notice)

    def rolled_back(session: Session, previous: SessionTransaction) -> None:
        session_context(session.info).rolled_back()  # nothing of it was stored

    event.listen(WriteSession, "after_commit", committed)
    event.listen(WriteSession, "after_soft_rollback", rolled_back)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=WriteSession)
