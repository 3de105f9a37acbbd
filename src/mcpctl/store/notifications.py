"""PostgreSQL's LISTEN/NOTIFY between mcpd replicas: who wrote, who moved `main`, who leads.

A write that records changes notifies `CHANGES` in its transaction (delivered
at commit, only if it commits), so the leader's exporter wakes up at once for
writes made through any replica; the leader notifies `MAIN` when it moved the
cluster's `main` (followers fetch it) and `LEASE` when it lets the lease go
(followers campaign at once), and `ACCESS` when a write changed who may do
what (every replica's access cache looks again at once). A `Listener` holds
one connection of its own (psycopg, autocommit) and hands each notification to
its channel's callback.
SQLite has one replica: nothing to notify, nobody to listen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from mcpctl.errors import BackendUnavailable
from mcpctl.store.writes import Session

log = logging.getLogger(__name__)

#: A write recorded changes (no payload).
CHANGES = "mcpd_changes"
#: The leader moved the cluster's `main` (payload: the commit).
MAIN = "mcpd_main"
#: The leader let the lease go, or a replica took it (payload: the term).
LEASE = "mcpd_lease"
#: A write changed who may do what (`access_epoch`): caches of it look again at once.
ACCESS = "mcpd_access"

__all__ = ["ACCESS", "CHANGES", "LEASE", "MAIN", "Listener", "notify"]


async def notify(session: Session, channel: str, payload: str = "") -> None:
    """Notify `channel` when the transaction of `session` commits (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One connection listening on the channels of `handlers`, calling each on its channel."""

    def __init__(self, url: str, handlers: Mapping[str, Callable[[str], None]]) -> None:
        self._url = url
        self._handlers = dict(handlers)
        self.connected = False

    async def listen(self, connected: Callable[[], None] | None = None) -> None:
        """Listen until the connection fails (raising `BackendUnavailable`); `connected` is
        called once listening, so that the caller can look for what it missed meanwhile."""
        try:
            async with await psycopg.AsyncConnection.connect(
                _conninfo(self._url), autocommit=True
            ) as connection:
                for channel in self._handlers:
                    await connection.execute(f'LISTEN "{channel}"')
                self.connected = True
                if connected is not None:
                    connected()
                async for notice in connection.notifies():
                    handler = self._handlers.get(notice.channel)
                    if handler is not None:
                        handler(notice.payload)
        except psycopg.Error as e:
            raise BackendUnavailable(f"listening for other replicas: {e}") from None
        finally:
            self.connected = False
        raise BackendUnavailable("listening for other replicas: the connection ended")
