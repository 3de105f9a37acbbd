"""The queries of object rows and their references, for `mcpctl.objects` and `mcpctl.access`.

The write path batches what it stores (`insert_objects`, `replace_references`); a
list streams the pre-rendered API texts (`listing`); the rest finds rows by key,
kind or reference. `rows.rows_by_key` finds many rows by key at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, cast

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncResult

from mcpctl.manifests.references import Key
from mcpctl.store.rows import key_filters
from mcpctl.store.tables import ObjectRow, RefRow
from mcpctl.store.writes import Session


async def find_object(
    session: Session, kind: str, project: str | None, name: str
) -> ObjectRow | None:
    """The stored object of one key, or None."""
    return await session.scalar(
        select(ObjectRow).where(
            ObjectRow.kind == kind, ObjectRow.project == (project or ""), ObjectRow.name == name
        )
    )


async def rendered_object(
    session: Session, kind: str, project: str | None, name: str
) -> str | None:
    """The API form of one stored object as rendered at write time (secret values masked),
    or None: one column of one row, no object built."""
    text: str | None = await session.scalar(
        select(ObjectRow.rendered).where(
            ObjectRow.kind == kind, ObjectRow.project == (project or ""), ObjectRow.name == name
        )
    )
    return text


async def find_named(session: Session, kind: str, name: str) -> ObjectRow | None:
    """The stored object of a kind outside projects (User, ServiceAccount, McpToken), or None."""
    return await session.scalar(
        select(ObjectRow).where(ObjectRow.kind == kind, ObjectRow.name == name)
    )


async def objects_of_kind(session: Session, kind: str) -> Sequence[ObjectRow]:
    return (await session.scalars(select(ObjectRow).where(ObjectRow.kind == kind))).all()


async def objects_of_kinds(session: Session, kinds: Iterable[str]) -> Sequence[ObjectRow]:
    """Every object of `kinds`, in the order they were created."""
    return (
        await session.scalars(
            select(ObjectRow).where(ObjectRow.kind.in_(tuple(kinds))).order_by(ObjectRow.id)
        )
    ).all()


async def objects_named(
    session: Session, kind: str, names: Iterable[str], project: str | None = None
) -> Sequence[ObjectRow]:
    """The stored objects of `kind` (in `project`) among `names`, in one read."""
    return (
        await session.scalars(
            select(ObjectRow).where(
                ObjectRow.kind == kind,
                ObjectRow.project == (project or ""),
                ObjectRow.name.in_(list(names)),
            )
        )
    ).all()


async def count_objects(session: Session, kinds: Iterable[str]) -> int:
    """How many objects of `kinds` the database holds."""
    counted = await session.scalar(
        select(func.count()).select_from(ObjectRow).where(ObjectRow.kind.in_(tuple(kinds)))
    )
    return int(counted or 0)


async def all_objects(session: Session) -> Sequence[ObjectRow]:
    return (await session.scalars(select(ObjectRow))).all()


async def referrers(session: Session, keys: list[Key]) -> list[ObjectRow]:
    """Stored objects that refer to any of `keys`."""
    if not keys:
        return []
    found: dict[int, ObjectRow] = {}
    for where in key_filters(RefRow.kind, RefRow.project, RefRow.name, keys):
        rows = await session.scalars(
            select(ObjectRow).join(RefRow, RefRow.source_id == ObjectRow.id).where(where)
        )
        for row in rows:
            found[row.id] = row
    return list(found.values())


class Listed(Protocol):
    """A row of a list: the columns `listing` reads (labels, spec only when asked)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def rendered(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def spec(self) -> dict[str, Any]: ...


@asynccontextmanager
async def listing(
    session: Session,
    kind: str,
    project: str | None,
    after: int,
    *,
    labels: bool = False,
    spec: bool = False,
) -> AsyncIterator[AsyncGenerator[Sequence[Listed]]]:
    """The objects of one kind after id `after`, in id order, a partition of rows at a time.

    Plain rows of the columns needed, not ORM instances: JSON columns are decoded
    only when a filter reads them (`labels`, `spec`). A partition (1000 rows) at a
    time: a row at a time would cost a greenlet switch per row (another ~20%).
    """
    columns: list[Any] = [ObjectRow.id, ObjectRow.name, ObjectRow.rendered]
    if labels:
        columns.append(ObjectRow.labels)
    if spec:
        columns.append(ObjectRow.spec)
    query = select(*columns).where(ObjectRow.kind == kind, ObjectRow.id > after)
    if project is not None:
        query = query.where(ObjectRow.project == project)
    query = query.order_by(ObjectRow.id)
    result = await session.stream(query.execution_options(yield_per=1000))
    partitions = _partitions(result)
    try:
        yield partitions
    finally:
        await partitions.aclose()
        await result.close()


async def _partitions(result: AsyncResult[Any]) -> AsyncGenerator[Sequence[Listed]]:
    async for partition in result.partitions():
        yield cast("Sequence[Listed]", partition)


_OBJECT_COLUMNS = (
    "kind",
    "project",
    "name",
    "spec",
    "labels",
    "annotations",
    "status",
    "resource_version",
    "generation",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "rendered",
)


async def insert_objects(session: Session, rows: list[ObjectRow]) -> None:
    """INSERT new objects in one batched statement and give each its id.

    The ORM would insert them one by one (it reads each id back); the writer holds
    the change log (`writes.append_changes`), so the table's newest ids are these. The
    rows stay outside the session: what reads them again in this transaction loads them.
    """
    if not rows:
        return
    await session.execute(
        insert(ObjectRow), [{c: getattr(r, c) for c in _OBJECT_COLUMNS} for r in rows]
    )
    newest = await session.execute(
        select(ObjectRow.id, ObjectRow.kind, ObjectRow.project, ObjectRow.name)
        .order_by(ObjectRow.id.desc())
        .limit(len(rows))
    )
    ids = {(kind, project, name): id_ for id_, kind, project, name in newest}
    for row in rows:
        id_ = ids.get((row.kind, row.project, row.name))
        if id_ is None:  # pragma: no cover - the writer holds the change log
            raise RuntimeError("objects were inserted meanwhile")
        row.id = id_


async def forget_references(session: Session, source_ids: list[int]) -> None:
    """Delete the references of the objects `source_ids` (about to be rewritten)."""
    if source_ids:
        await session.execute(delete(RefRow).where(RefRow.source_id.in_(source_ids)))


async def insert_references(session: Session, refs: list[dict[str, Any]]) -> None:
    """INSERT references (source_id, kind, project, name) in one batched statement."""
    if refs:
        await session.execute(insert(RefRow), refs)
