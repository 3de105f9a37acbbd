"""Events about objects: what happened to them, for `describe` and `GET /api/v1/events`.

The importer records a conflict the database won as a Warning Event in the
transaction of the import (`record_event`); the API lists Events for a caller
who may view them (`read_events`), and `mcpctl gitops status` shows the
conflicts (`list_events`). The runtime's Events (instances started, probes
failed) will be recorded here too. Events never go to git.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mcpctl.access import Principal
from mcpctl.access.audit import HistoryQuery
from mcpctl.access.policy import policy_of, require
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.parameters import int_param
from mcpctl.schemas import API_VERSION
from mcpctl.store import EventRow, Session
from mcpctl.store.audit import select_events


async def read_events(
    session: Session, principal: Principal, query: HistoryQuery
) -> list[dict[str, Any]]:
    """The Events `query` asks for, if `principal` may view Events."""
    require(await policy_of(session, principal), "view", "events")
    return await list_events(
        session,
        kind=query.kind,
        name=query.name,
        project=query.project,
        limit=min(int_param(query.limit, "limit", 100), 1000),
    )


async def list_events(
    session: Session,
    *,
    kind: str | None = None,
    name: str | None = None,
    project: str | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Events about objects, newest first, as Event objects."""
    rows = await select_events(
        session, kind=kind, name=name, project=project, reason=reason, limit=limit
    )
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "Event",
            "metadata": {"name": f"event-{row.id}"},
            "spec": {
                "type": row.type,
                "reason": row.reason,
                "message": row.message,
                "involvedObject": {
                    "kind": row.kind,
                    "name": row.name,
                    **({"project": row.project} if row.project else {}),
                },
                "count": row.count,
                "firstTimestamp": format_timestamp(row.first_timestamp),
                "lastTimestamp": format_timestamp(row.last_timestamp),
                "source": row.source,
            },
        }
        for row in rows
    ]


async def record_event(
    session: Session,
    *,
    type: str,
    reason: str,
    message: str,
    kind: str,
    name: str,
    project: str | None = None,
    source: str = "mcpd",
    at: datetime | None = None,
) -> None:
    """Add an Event about an object to `session` (committed with what caused it)."""
    now = at or datetime.now(UTC)
    session.add(
        EventRow(
            type=type,
            reason=reason,
            message=message,
            kind=kind,
            project=project or "",
            name=name,
            count=1,
            first_timestamp=now,
            last_timestamp=now,
            source=source,
        )
    )
