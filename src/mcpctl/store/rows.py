"""Between stored rows and resources: what the API returns, what a write stores.

A row keeps the canonical spec (defaults left out, secret values in plain:
the database is where plaintext-backend values live). Output masks Secret
values unless the caller may and asks to see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from mcpctl.manifests import to_plain
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.manifests.references import Key
from mcpctl.schemas import API_VERSION, BY_KIND, Resource
from mcpctl.store.tables import ObjectRow


def row_key(row: ObjectRow) -> tuple[str, str | None, str]:
    return (row.kind, row.project or None, row.name)


def row_json(row: ObjectRow, *, reveal: bool = False) -> dict[str, Any]:
    """The API form of a stored object."""
    metadata: dict[str, Any] = {"name": row.name}
    if row.project:
        metadata["project"] = row.project
    if row.labels:
        metadata["labels"] = dict(row.labels)
    if row.annotations:
        metadata["annotations"] = dict(row.annotations)
    metadata.update(
        {
            "resourceVersion": str(row.resource_version),
            "generation": row.generation,
            "createdAt": format_timestamp(row.created_at),
            "updatedAt": format_timestamp(row.updated_at),
            "createdBy": row.created_by,
            "updatedBy": row.updated_by,
        }
    )
    spec = row.spec
    if row.kind == "Secret" and not reveal:
        spec = mask_secret_spec(spec)
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": row.kind,
        "metadata": metadata,
        "spec": spec,
    }
    if row.status is not None:
        body["status"] = row.status
    return body


def render(row: ObjectRow) -> dict[str, Any]:
    """Render `row`'s API form into its `rendered` column (what a list returns), and return it.

    Every write of a row's spec, metadata or status ends here, so a list is never stale.
    """
    body = row_json(row)
    row.rendered = orjson.dumps(body).decode("utf-8")
    return body


def mask_secret_spec(spec: dict[str, Any]) -> dict[str, Any]:
    keys = sorted({*spec.get("data", {}), *spec.get("sealedData", {})})
    masked = {k: v for k, v in spec.items() if k not in ("data", "sealedData")}
    if keys:
        masked["data"] = dict.fromkeys(keys)
    return masked


def row_resource(row: ObjectRow) -> Resource:
    """The stored object as a model (trusted: it was validated when written)."""
    model = BY_KIND[row.kind]
    return model.model_validate(row_json(row, reveal=True))


def stored_fields(resource: Resource) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(spec, labels, annotations) as a row keeps them: canonical, values in plain."""
    plain = to_plain(resource, secrets="plain")
    metadata = plain["metadata"]
    return plain["spec"], dict(metadata.get("labels", {})), dict(metadata.get("annotations", {}))


async def rows_by_key(session: AsyncSession, keys: Iterable[Key]) -> dict[Key, ObjectRow]:
    """The stored rows of `keys` that exist, by key (a few queries for thousands of keys)."""
    found: dict[Key, ObjectRow] = {}
    for where in key_filters(ObjectRow.kind, ObjectRow.project, ObjectRow.name, keys):
        for row in await session.scalars(select(ObjectRow).where(where)):
            found[row_key(row)] = row
    return found


#: Bound parameters in one query (the tuple lists used to take 500 keys of 3).
PARAMS_PER_QUERY = 1500


def key_filters(
    kind: InstrumentedAttribute[str],
    project: InstrumentedAttribute[str],
    name: InstrumentedAttribute[str],
    keys: Iterable[Key],
) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses that together match the rows holding `keys`, one per query.

    Keys are grouped by kind and project, each group a `name IN (...)`: PostgreSQL
    plans a list of (kind, project, name) tuples as a scan testing every tuple
    against every row (150 ms for 500 keys in a table of 10,000), a name list as
    an index lookup.
    """
    groups: dict[tuple[str, str], set[str]] = {}
    for k, p, n in keys:
        groups.setdefault((k, p or ""), set()).add(n)
    clauses: list[ColumnElement[bool]] = []
    size = 0
    step = PARAMS_PER_QUERY - 2
    for (k, p), names in sorted(groups.items()):
        ordered = sorted(names)
        for start in range(0, len(ordered), step):
            chunk = ordered[start : start + step]
            if clauses and size + len(chunk) + 2 > PARAMS_PER_QUERY:
                yield or_(*clauses)
                clauses, size = [], 0
            clauses.append(and_(kind == k, project == p, name.in_(chunk)))
            size += len(chunk) + 2
    if clauses:
        yield or_(*clauses)
