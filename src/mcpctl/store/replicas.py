"""The cluster's replicas: each mcpd on PostgreSQL says where it serves, at every round
of its election (`reconciler.leadership`), in the database's clock.

A leader taking over reads it to find the replicas that may hold the cluster's
`main` when the old leader is gone (`peers`): one that fetched the old leader's
last commit gives it to the new leader, so nobody's `main` forks. `gitops status`
lists them. A replica unseen for a day is forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert

from mcpctl.store.tables import ReplicaRow
from mcpctl.store.writes import Session

#: A replica unseen this long (seconds) is forgotten.
FORGET = 86400.0

__all__ = ["FORGET", "Peer", "heartbeat", "peers"]


@dataclass(frozen=True)
class Peer:
    """A replica as last seen."""

    name: str
    holder: str
    url: str
    started_at: float
    seen_ago: float


async def _now(session: Session) -> float:
    return float(await session.scalar(text("SELECT extract(epoch from clock_timestamp())")) or 0)


async def heartbeat(session: Session, name: str, holder: str, url: str) -> None:
    """Say that the replica `name` (its process `holder`) serves at `url` now."""
    now = await _now(session)
    statement = insert(ReplicaRow).values(
        name=name, holder=holder, url=url, started_at=now, seen_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReplicaRow.name],
            set_={
                "holder": statement.excluded.holder,
                "url": statement.excluded.url,
                "seen_at": statement.excluded.seen_at,
                # a new process of the same replica starts again
                "started_at": text(
                    "CASE WHEN replicas.holder = excluded.holder "
                    "THEN replicas.started_at ELSE excluded.started_at END"
                ),
            },
        )
    )
    await session.execute(delete(ReplicaRow).where(ReplicaRow.seen_at < now - FORGET))


async def peers(session: Session, *, within: float) -> list[Peer]:
    """The replicas seen in the last `within` seconds, the most recently seen first."""
    now = await _now(session)
    rows = await session.scalars(
        select(ReplicaRow)
        .where(ReplicaRow.seen_at >= now - within)
        .order_by(ReplicaRow.seen_at.desc(), ReplicaRow.name)
    )
    return [Peer(r.name, r.holder, r.url, r.started_at, max(0.0, now - r.seen_at)) for r in rows]
