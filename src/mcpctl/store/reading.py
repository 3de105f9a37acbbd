"""The read a request makes most: one object's API text, by key.

On SQLite the text is read on the calling thread through a read-only
`sqlite3` connection of this process: a lookup by the unique key in WAL mode
costs microseconds, several times less than handing the query to aiosqlite's
thread and back (six hand-overs for one SELECT). WAL readers never wait for
writers; a read that would wait (a checkpoint's brief lock) goes the async way
instead of stalling the event loop. Each read sees every committed write, as
each runs in its own read transaction. Elsewhere (PostgreSQL) it is a query in
a session.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mcpctl.store.objects import rendered_object
from mcpctl.store.writes import Sessions, shared

_QUERY = "SELECT rendered FROM objects WHERE kind = ? AND project = ? AND name = ?"
#: How long a read on the event loop may wait for a lock before going the async way, in ms.
_BUSY_MS = 5


class _Reader:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.connection: sqlite3.Connection | None = None

    def read(self, kind: str, project: str | None, name: str) -> str | bool | None:
        """The text, None (no such object), or False (not read here: go the async way)."""
        if self.path is None:
            return False
        try:
            if self.connection is None:
                self.connection = sqlite3.connect(
                    f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None
                )
                self.connection.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            row = self.connection.execute(_QUERY, (kind, project or "", name)).fetchone()
        except sqlite3.Error:
            self.close()
            return False
        return None if row is None else str(row[0])

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _reader(sessions: Sessions) -> _Reader:
    slot = shared(sessions)
    reader = slot.get("rendered-reader")
    if reader is None:
        engine = sessions.kw["bind"]
        path = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            path = Path(engine.url.database).resolve()
        reader = slot["rendered-reader"] = _Reader(path)
    assert isinstance(reader, _Reader)
    return reader


async def rendered_text(
    sessions: Sessions, kind: str, project: str | None, name: str
) -> str | None:
    """The API text of one stored object as rendered at write time (secret values
    masked), or None when there is no such object."""
    found = _reader(sessions).read(kind, project, name)
    if found is not False:
        assert found is None or isinstance(found, str)
        return found
    async with sessions() as session:
        return await rendered_object(session, kind, project, name)
