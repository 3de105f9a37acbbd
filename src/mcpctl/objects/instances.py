"""Instances: the runtime's own objects, written by the runtime reconciler alone.

An Instance is one running copy of a Server (like a Pod of a Deployment). It is
never in git and nobody writes it through the API (a DELETE of one asks the
reconciler to replace it, as `kubectl delete pod` does): the reconciler
creates one before it starts it, updates its status as it runs, and deletes it
once stopped. These writes take no change-log entry and no audit entry (they
are not the desired state); their resourceVersion is the change log's highest
seq when written, so it orders with every other object's. A Server's status
(replicas, ready, conditions) is written here too, through `objects.status`.

The caller holds the transaction, fenced by the leader's term
(`Leadership.fence`): a deposed leader's writes change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mcpctl.access import SYSTEM
from mcpctl.objects.status import write_status
from mcpctl.store import ObjectRow, Session, lock_change_log
from mcpctl.store.changes import last_change
from mcpctl.store.objects import find_object, objects_of_kinds
from mcpctl.store.rows import render

KIND = "Instance"

__all__ = [
    "KIND",
    "create_instance",
    "delete_instance",
    "list_instances",
    "write_instance_status",
    "write_server_status",
]


async def _version(session: Session) -> int:
    return await last_change(session)


async def list_instances(session: Session) -> Sequence[ObjectRow]:
    """Every Instance, oldest first."""
    return await objects_of_kinds(session, [KIND])


async def create_instance(
    session: Session,
    name: str,
    spec: dict[str, Any],
    labels: dict[str, str],
    status: dict[str, Any],
    now: datetime,
) -> ObjectRow:
    """Store a new Instance (its name is unique: the caller made it so)."""
    # the object table's writers hold the change log while they insert (they read the
    # newest ids back: `store.objects.insert_objects`): so does this insert
    await lock_change_log(session)
    row = ObjectRow(
        kind=KIND,
        project="",
        name=name,
        spec=spec,
        labels=labels,
        annotations={},
        status=status,
        resource_version=await _version(session),
        generation=1,
        created_at=now,
        updated_at=now,
        created_by=SYSTEM.actor,
        updated_by=SYSTEM.actor,
    )
    render(row)
    session.add(row)
    await session.flush()
    return row


async def write_instance_status(session: Session, name: str, status: dict[str, Any]) -> bool:
    """Set an Instance's status (False: it is gone)."""
    row = await find_object(session, KIND, None, name)
    if row is None:
        return False
    row.status = status
    render(row)
    return True


async def delete_instance(session: Session, name: str) -> bool:
    """Forget an Instance (False: it was gone already)."""
    row = await find_object(session, KIND, None, name)
    if row is None:
        return False
    await session.delete(row)
    return True


async def write_server_status(session: Session, server: str, status: dict[str, Any]) -> bool:
    """Set a Server's status (False: the Server is gone)."""
    if await find_object(session, "Server", None, server) is None:
        return False
    await write_status(session, ("Server", None, server), status)
    return True
