"""Audit entries: every write and every denied attempt, who, with what token, outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl.manifests.canonical import format_timestamp
from mcpctl.schemas._base import NAME_RE
from mcpctl.service.access import Principal
from mcpctl.store import AuditRow, EventRow


async def record_audit(
    session: AsyncSession,
    principal: Principal | None,
    *,
    verb: str,
    outcome: str,
    kind: str | None = None,
    name: str | None = None,
    project: str | None = None,
    server: str | None = None,
    tool: str | None = None,
    duration_ms: float | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
    details: dict[str, Any] | None = None,
    user: str | None = None,
) -> None:
    """Add an audit entry to `session` (committed with the write it records).

    Names that are not DNS labels (from a denied request's URL or a failed
    login) are left out: an entry names only objects that could exist.
    """
    session.add(
        AuditRow(
            **audit_entry(
                principal,
                verb=verb,
                outcome=outcome,
                kind=kind,
                name=name,
                project=project,
                server=server,
                tool=tool,
                duration_ms=duration_ms,
                request_id=request_id,
                at=at,
                details=details,
                user=user,
            )
        )
    )


def audit_entry(
    principal: Principal | None,
    *,
    verb: str,
    outcome: str,
    kind: str | None = None,
    name: str | None = None,
    project: str | None = None,
    server: str | None = None,
    tool: str | None = None,
    duration_ms: float | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
    details: dict[str, Any] | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """The columns of one audit entry (see `record_audit`; `record_audits` writes many)."""
    return {
        "time": at or datetime.now(UTC),
        "user": (user or (principal.actor if principal else "anonymous"))[:253],
        "token": principal.token if principal else None,
        "verb": verb,
        "kind": kind,
        "name": _label(name),
        "project": _label(project),
        "server": _label(server),
        "tool": tool,
        "outcome": outcome,
        "duration_ms": duration_ms,
        "request_id": request_id,
        "details": details or {},
    }


async def record_audits(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Write many `audit_entry` rows in one batched statement (a write of 10,000 objects)."""
    if entries:
        await session.execute(insert(AuditRow), entries)


def _label(name: str | None) -> str | None:
    return name if name is not None and NAME_RE.fullmatch(name) and len(name) <= 63 else None


async def list_audit(
    session: AsyncSession,
    *,
    user: str | None = None,
    kind: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, as AuditEvent objects."""
    query = select(AuditRow)
    if user is not None:
        query = query.where(AuditRow.user == user)
    if kind is not None:
        query = query.where(AuditRow.kind == kind)
    if project is not None:
        query = query.where(AuditRow.project == project)
    if since is not None:
        query = query.where(AuditRow.time >= since)
    if until is not None:
        query = query.where(AuditRow.time <= until)
    rows = await session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))
    return [audit_json(r) for r in rows]


def audit_json(row: AuditRow) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "time": format_timestamp(row.time),
        "user": row.user,
        "verb": row.verb,
        "outcome": row.outcome,
    }
    for key, value in (
        ("token", row.token),
        ("kind", row.kind),
        ("name", row.name),
        ("project", row.project),
        ("server", row.server),
        ("tool", row.tool),
        ("durationMs", row.duration_ms),
        ("requestId", row.request_id),
    ):
        if value is not None:
            spec[key] = value
    if row.details:
        spec["details"] = row.details
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "AuditEvent",
        "metadata": {"name": f"audit-{row.id}"},
        "spec": spec,
    }


async def list_events(
    session: AsyncSession,
    *,
    kind: str | None = None,
    name: str | None = None,
    project: str | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Events about objects, newest first, as Event objects."""
    query = select(EventRow)
    if reason is not None:
        query = query.where(EventRow.reason == reason)
    if kind is not None:
        query = query.where(EventRow.kind == kind)
    if name is not None:
        query = query.where(EventRow.name == name)
    if project is not None:
        query = query.where(EventRow.project == project)
    rows = await session.scalars(query.order_by(EventRow.last_timestamp.desc()).limit(limit))
    return [
        {
            "apiVersion": "mcpctl/v1",
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
    session: AsyncSession,
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
