"""Audit entries: every write and every denied attempt, who, with what token, outcome.

The write path (`mcpctl.objects`), identity and the API record entries here, in the
transaction of what they record; the API lists them (and the events about objects)
as AuditEvent and Event objects. The queries are the store's (`mcpctl.store.audit`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Required, TypedDict, Unpack

from mcpctl.access.policy import Principal
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.schemas import API_VERSION, NAME_RE
from mcpctl.store import AuditRow, EventRow, Session, Sessions
from mcpctl.store.audit import insert_audits, select_audits, select_events

log = logging.getLogger(__name__)


class AuditFields(TypedDict, total=False):
    """What an audit entry says beside who (`principal`): `verb` and `outcome` always."""

    verb: Required[str]
    outcome: Required[str]
    kind: str | None
    name: str | None
    project: str | None
    server: str | None
    tool: str | None
    duration_ms: float | None
    request_id: str | None
    at: datetime | None
    details: dict[str, Any] | None
    user: str | None


async def record_audit(
    session: Session, principal: Principal | None, **fields: Unpack[AuditFields]
) -> None:
    """Add an audit entry to `session` (committed with the write it records).

    Names that are not DNS labels (from a denied request's URL or a failed
    login) are left out: an entry names only objects that could exist.
    """
    session.add(AuditRow(**audit_entry(principal, **fields)))


async def record_audit_apart(
    sessions: Sessions,
    principal: Principal | None,
    **fields: Unpack[AuditFields],
) -> None:
    """An audit entry in a transaction of its own (a denied attempt, whose own work rolled
    back); a failure to record it is logged, never raised over the answer being given."""
    try:
        async with sessions() as session, session.begin():
            await record_audit(session, principal, **fields)
    except Exception:
        log.exception("could not record the audit entry of a %s", fields["verb"])


def audit_entry(principal: Principal | None, **fields: Unpack[AuditFields]) -> dict[str, Any]:
    """The columns of one audit entry (see `record_audit`; `record_audits` writes many)."""
    user = fields.get("user")
    return {
        "time": fields.get("at") or datetime.now(UTC),
        "user": (user or (principal.actor if principal else "anonymous"))[:253],
        "token": principal.token if principal else None,
        "verb": fields["verb"],
        "kind": fields.get("kind"),
        "name": _label(fields.get("name")),
        "project": _label(fields.get("project")),
        "server": _label(fields.get("server")),
        "tool": fields.get("tool"),
        "outcome": fields["outcome"],
        "duration_ms": fields.get("duration_ms"),
        "request_id": fields.get("request_id"),
        "details": fields.get("details") or {},
    }


async def record_audits(session: Session, entries: list[dict[str, Any]]) -> None:
    """Write many `audit_entry` rows in one batched statement (a write of 10,000 objects)."""
    await insert_audits(session, entries)


def _label(name: str | None) -> str | None:
    return name if name is not None and NAME_RE.fullmatch(name) and len(name) <= 63 else None


async def list_audit(
    session: Session,
    *,
    user: str | None = None,
    kind: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, as AuditEvent objects."""
    rows = await select_audits(
        session, user=user, kind=kind, project=project, since=since, until=until, limit=limit
    )
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
        "apiVersion": API_VERSION,
        "kind": "AuditEvent",
        "metadata": {"name": f"audit-{row.id}"},
        "spec": spec,
    }


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
