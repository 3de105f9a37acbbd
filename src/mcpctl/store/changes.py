"""The change log and the meta rows, as the loops (and the first start) read and write them.

The exporter follows the change log (`changes_since`, `last_change`) and
records in meta rows how far `main` holds it (`EXPORTED`) and which state repo
the database follows (`REPO_ID`, claimed by the first mcpd with `claim_meta`);
an import records the last commit it wrote (`LAST_IMPORTED`); a restore and
disaster recovery read them back. The first start (`identity.bootstrap`)
records when and by whom the admin was created (`BOOTSTRAPPED`,
`BOOTSTRAPPED_BY`), holding `lock_bootstrap`. Kept here, in the store, so that
the loops (`mcpctl.reconciler`) never build a query, and so that each query is
written once: the latest change (`last_change`) and the meta upsert
(`put_meta`) served four copies before.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from mcpctl.store.tables import ChangeRow, MetaRow
from mcpctl.store.writes import Session

#: Meta row: the last change `main` holds (an int, as a string).
EXPORTED = "exported_change"
#: Meta row: the commit the cluster's `main` is at, as its leader last moved it.
MAIN_COMMIT = "main_commit"
#: Meta row: the secret replicas present to each other (a follower fetching the state
#: repo from the leader). Whoever reads the database may read it: it opens nothing more.
REPLICATION_SECRET = "replication_secret"
#: Meta row: the fingerprint of the sealing key every replica of the database seals with.
SEALING_KEY_ID = "sealing_key_id"
#: Meta row: the id of the state repo this database follows (`StateRepo.identity`).
REPO_ID = "state_repo_id"
#: Meta row: the last commit imported into the database, and how: "<sha> <push|sync|...>".
LAST_IMPORTED = "last_imported_commit"
#: Meta row: when the first start seeded the database (identity's bootstrap runs once).
BOOTSTRAPPED = "bootstrapped"
#: Meta row: which mcpd created the admin (JSON: its host and state dir), beside
#: BOOTSTRAPPED; databases bootstrapped before it was recorded lack it.
BOOTSTRAPPED_BY = "bootstrapped_by"
#: Changes whenever who may do what does (access objects, sessions, tokens): caches of
#: the compiled policy and of credential lookups are dropped when it moves.
ACCESS_EPOCH = "access_epoch"

#: The PostgreSQL advisory lock under which one mcpd at a time bootstraps (any key will
#: do, as long as every mcpd uses the same one and no other lock of mcpd's does).
BOOTSTRAP_LOCK = 0x6D6370_626F_6F74  # "mcpboot"

__all__ = [
    "ACCESS_EPOCH",
    "BOOTSTRAPPED",
    "BOOTSTRAPPED_BY",
    "BOOTSTRAP_LOCK",
    "EXPORTED",
    "LAST_IMPORTED",
    "MAIN_COMMIT",
    "REPLICATION_SECRET",
    "REPO_ID",
    "SEALING_KEY_ID",
    "changes_since",
    "claim_meta",
    "exported_change",
    "get_meta",
    "last_change",
    "lock_bootstrap",
    "mark_exported",
    "oldest_after",
    "put_meta",
    "rewind_exported",
    "snapshot",
]


async def last_change(session: Session) -> int:
    """The `seq` of the latest change in the log (0: none yet)."""
    return int(await session.scalar(select(func.coalesce(func.max(ChangeRow.seq), 0))) or 0)


async def changes_since(session: Session, seq: int) -> list[ChangeRow]:
    """The changes after `seq`, in order."""
    return list(
        await session.scalars(select(ChangeRow).where(ChangeRow.seq > seq).order_by(ChangeRow.seq))
    )


async def get_meta(session: Session, key: str) -> str | None:
    """The value of meta row `key` (None: no such row)."""
    row = await session.get(MetaRow, key)
    return row.value if row is not None else None


async def put_meta(
    session: Session, key: str, value: str, *, replaces: Callable[[str], bool] | None = None
) -> None:
    """Set meta row `key` to `value` (in the caller's transaction).

    With `replaces`, an existing row changes only where `replaces(its value)` holds
    (e.g. only forward); a missing row is always added.
    """
    row = await session.get(MetaRow, key)
    if row is None:
        session.add(MetaRow(key=key, value=value))
    elif replaces is None or replaces(row.value):
        row.value = value


async def claim_meta(session: Session, key: str, value: str) -> str:
    """Add meta row `key` with `value` unless it exists; the value it holds after.

    Safe against another process claiming the same row at the same time: the INSERT
    does nothing on a conflict (on PostgreSQL it first waits for the other
    transaction to end), and the row is read back, so the loser gets the winner's
    value instead of an error.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(MetaRow).values(key=key, value=value).on_conflict_do_nothing(index_elements=["key"])
    )
    stored = await session.scalar(select(MetaRow.value).where(MetaRow.key == key))
    assert stored is not None
    return stored


async def lock_bootstrap(session: Session) -> None:
    """Hold the first start for this transaction, until it commits or rolls back.

    On PostgreSQL, an advisory lock (`BOOTSTRAP_LOCK`): a second mcpd bootstrapping the
    same database meanwhile waits here, then finds the work done. SQLite serves one
    mcpd (the daemon locks its file), so it needs none.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOTSTRAP_LOCK})


async def exported_change(session: Session) -> int:
    """The last change `main` holds (0: never exported)."""
    value = await get_meta(session, EXPORTED)
    return int(value) if value is not None else 0


async def mark_exported(session: Session, seq: int) -> None:
    """Record that `main` holds every change up to `seq` (never moving the mark back)."""
    await put_meta(session, EXPORTED, str(seq), replaces=lambda old: int(old) < seq)


async def rewind_exported(session: Session, seq: int) -> None:
    """Record that `main` holds the changes up to `seq` only: a leader taking over with a
    repo that lacks commits the old leader made (lost with it) exports them again."""
    await put_meta(session, EXPORTED, str(seq))


async def snapshot(session: Session) -> None:
    """Make the reads of `session`'s transaction one snapshot (first call, before any
    read): PostgreSQL's REPEATABLE READ. SQLite's reads already see one state, for the
    one writer there is is this process."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def oldest_after(session: Session, seq: int) -> ChangeRow | None:
    """The first change after `seq` (None: none)."""
    return await session.scalar(
        select(ChangeRow).where(ChangeRow.seq > seq).order_by(ChangeRow.seq).limit(1)
    )
