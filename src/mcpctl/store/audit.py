"""The queries of audit entries and events, for `mcpctl.access.audit` (which renders them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from mcpctl.store.tables import AuditRow, EventRow
from mcpctl.store.writes import Session


async def insert_audits(session: Session, entries: list[dict[str, Any]]) -> None:
    """INSERT audit entries (their columns) in one batched statement."""
    if entries:
        await session.execute(insert(AuditRow), entries)


async def select_audits(
    session: Session,
    *,
    user: str | None,
    kind: str | None,
    project: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> Sequence[AuditRow]:
    """Audit entries matching every filter given, newest first."""
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
    return (await session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))).all()


async def select_events(
    session: Session,
    *,
    kind: str | None,
    name: str | None,
    project: str | None,
    reason: str | None,
    limit: int,
) -> Sequence[EventRow]:
    """Events matching every filter given, newest first."""
    query = select(EventRow)
    if reason is not None:
        query = query.where(EventRow.reason == reason)
    if kind is not None:
        query = query.where(EventRow.kind == kind)
    if name is not None:
        query = query.where(EventRow.name == name)
    if project is not None:
        query = query.where(EventRow.project == project)
    return (
        await session.scalars(query.order_by(EventRow.last_timestamp.desc()).limit(limit))
    ).all()
