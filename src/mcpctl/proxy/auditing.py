"""The audit of the endpoint: every tool call and every refused request is an audit entry,
written in batches off the request path.

A call costs its request one append to a list: a background task writes what gathered,
in one statement (`access.audit.record_audits`), every `interval` seconds or as soon as
`batch` entries wait, and whatever is left when the endpoint stops. An entry says who
(the user, the token's name), the project, the server, the tool (its own name on the
server), how long it took and how it ended; of the arguments only their size and a
SHA-256, never a value. A database that refuses a batch is logged and the batch kept for
the next round, up to `limit` entries (the oldest then go, and the log says how many):
the endpoint never waits for its audit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from mcpctl.access.audit import audit_entry, record_audits
from mcpctl.access.policy import Principal
from mcpctl.store import Sessions

log = logging.getLogger(__name__)

__all__ = ["CallAudit", "arguments_digest"]


def arguments_digest(raw: bytes | None) -> dict[str, Any]:
    """What an entry keeps of a call's arguments (their JSON): size and hash, no value."""
    if raw is None:
        return {"bytes": 0}
    return {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


class CallAudit:
    """The endpoint's audit entries, written in batches (see the module's docstring)."""

    def __init__(
        self,
        sessions: Sessions,
        *,
        interval: float = 0.5,
        batch: int = 500,
        limit: int = 100_000,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.batch = batch
        self.limit = limit
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def add(self, principal: Principal | None, **fields: Any) -> None:
        """Queue one entry (`access.audit.AuditFields`); never waits."""
        self._pending.append(audit_entry(principal, **fields))
        if len(self._pending) > self.limit:
            dropped = len(self._pending) - self.limit
            del self._pending[:dropped]
            log.error("the MCP endpoint's audit is behind: %d entries dropped", dropped)
        if len(self._pending) >= self.batch:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mcp-audit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what waits (kept for the next round if the database refuses it)."""
        while self._pending:
            entries, self._pending = self._pending[: self.batch], self._pending[self.batch :]
            try:
                async with self.sessions() as session, session.begin():
                    await record_audits(session, entries)
            except Exception as e:  # the database is away: kept, tried again
                self._pending[:0] = entries
                log.warning("the MCP endpoint's audit could not be written (kept): %s", e)
                return
            self.written += len(entries)
