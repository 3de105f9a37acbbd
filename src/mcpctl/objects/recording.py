"""What a write records beside the objects: its change log entries and audit entries.

Each entry names the write's source (`mcpctl.store.WriteSource`, from the
session's write context): the change log keeps it for the exporter, an audit
entry says how the write came (`via`: the request's verb, the commit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mcpctl.access.audit import audit_entry
from mcpctl.access.policy import Principal
from mcpctl.manifests.references import Key
from mcpctl.objects.validating import Planned
from mcpctl.store import ObjectRow, Session, write_context


def done_to(plan: Planned) -> str:
    """What writing `plan` does to its object: create or update."""
    return "create" if plan.row is None else "update"


def audited(
    session: Session,
    principal: Principal,
    row: ObjectRow,
    done: str,
    now: datetime,
    verb: str | None,
) -> dict[str, Any]:
    """The audit entry of one object written (`done`: create, update, delete) by the write
    in `session`, saying how the write came (`verb`, the commit: `via`)."""
    return audit_entry(
        principal,
        verb=done,
        kind=row.kind,
        name=row.name,
        project=row.project or None,
        outcome="success",
        at=now,
        details=via(session, verb),
    )


def change_entry(session: Session, principal: Principal, key: Key, verb: str) -> dict[str, Any]:
    """One entry of the change log (without its `at`, which `append_changes` sets)."""
    kind, project, name = key
    write = write_context(session)
    return {
        "kind": kind,
        "project": project or "",
        "name": name,
        "verb": verb,
        "actor": principal.actor,
        "write_id": write.begin(principal.actor),
        "source": str(write.source),
    }


def via(session: Session, verb: str | None) -> dict[str, Any] | None:
    """What an audit entry says of how the write came: the request's verb, a commit."""
    details: dict[str, Any] = {}
    if verb is not None:
        details["via"] = verb
    source = str(write_context(session).source)
    if source:
        details["source"] = source
    return details or None
