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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mcpctl.access import SYSTEM
from mcpctl.objects.status import write_status
from mcpctl.store import ObjectRow, Session, lock_change_log
from mcpctl.store.changes import last_change
from mcpctl.store.objects import find_object, objects_named, objects_of_kinds
from mcpctl.store.rows import render

KIND = "Instance"

__all__ = [
    "KIND",
    "NewInstance",
    "create_instances",
    "delete_instance",
    "list_instances",
    "write_instance_statuses",
    "write_server_status",
]


async def list_instances(session: Session) -> Sequence[ObjectRow]:
    """Every Instance, oldest first."""
    return await objects_of_kinds(session, [KIND])


@dataclass(frozen=True)
class NewInstance:
    """An Instance to store: its name (unique: the caller made it so), spec, labels and
    first status."""

    name: str
    spec: dict[str, Any]
    labels: dict[str, str]
    status: dict[str, Any]


async def create_instances(
    session: Session, instances: Sequence[NewInstance], now: datetime
) -> None:
    """Store new Instances, in one insert."""
    if not instances:
        return
    # the object table's writers hold the change log while they insert (they read the
    # newest ids back: `store.objects.insert_objects`): so do these inserts
    await lock_change_log(session)
    version = await last_change(session)
    for new in instances:
        row = ObjectRow(
            kind=KIND,
            project="",
            name=new.name,
            spec=new.spec,
            labels=new.labels,
            annotations={},
            status=new.status,
            resource_version=version,
            generation=1,
            created_at=now,
            updated_at=now,
            created_by=SYSTEM.actor,
            updated_by=SYSTEM.actor,
        )
        render(row)
        session.add(row)
    await session.flush()


async def write_instance_statuses(
    session: Session, statuses: Mapping[str, dict[str, Any]]
) -> set[str]:
    """Set the status of each Instance named (one read of them all); the names of those
    that are gone."""
    if not statuses:
        return set()
    found = set()
    for row in await objects_named(session, KIND, statuses):
        row.status = statuses[row.name]
        render(row)
        found.add(row.name)
    return set(statuses) - found


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
