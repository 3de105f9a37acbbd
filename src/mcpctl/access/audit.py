"""Audit entries: every write and every denied attempt, who, with what token, outcome.

The write path (`mcpctl.objects`), identity, the importer and the API record
entries here, in the transaction of what they record; `read_audit` lists them as
AuditEvent objects for a caller who may view them. The queries are the store's
(`mcpctl.store.audit`); the Events about objects are `mcpctl.objects.events`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Required, TypedDict, Unpack

from mcpctl.access.policy import Principal, policy_of, require
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.parameters import int_param, parse_timestamp
from mcpctl.schemas import API_VERSION, NAME_RE
from mcpctl.store import AuditRow, Session, Sessions
from mcpctl.store.audit import insert_audits, select_audits

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


@dataclass(frozen=True)
class HistoryQuery:
    """The filters of a listing of audit entries or events, as the caller wrote them.

    Read only once the caller may list (`read_audit`, `objects.events.read_events`):
    a caller without the right learns nothing, not even that a filter is malformed.
    """

    user: str | None = None
    kind: str | None = None
    name: str | None = None
    project: str | None = None
    since: str | None = None
    until: str | None = None
    limit: str | None = None


async def read_audit(
    session: Session, principal: Principal, query: HistoryQuery
) -> list[dict[str, Any]]:
    """The audit entries `query` asks for, if `principal` may view audit entries."""
    require(await policy_of(session, principal), "view", "auditevents")
    return await list_audit(
        session,
        user=query.user,
        kind=query.kind,
        project=query.project,
        since=parse_timestamp(query.since) if query.since else None,
        until=parse_timestamp(query.until) if query.until else None,
        limit=min(int_param(query.limit, "limit", 500), 5000),
    )


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
