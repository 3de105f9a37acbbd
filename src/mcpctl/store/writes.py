"""What a write carries through its session, and the notice its followers get after commit.

Every write of objects (`mcpctl.objects`) runs in one session: its `WriteContext`
(`write_context(session)`) holds the write's id (one per session: its changes
become one git commit), where it came from (`WriteSource`, kept in the change
log's `source` column) and what it stored. After the commit, the session made by
`make_sessionmaker` (store.engine) hands a `WriteNotice` to the write's followers
(the exporter, the mirror: wired in daemon/wiring.py). The change log's append of
a write is here too (`append_changes`): its numbering is part of the write path.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mcpctl.manifests.references import Key
from mcpctl.schemas import Resource, Secret
from mcpctl.store.tables import ChangeRow

#: A database session (one transaction at a time), as every package above the store names it.
Session = AsyncSession
#: What opens sessions (`async with sessions() as session`).
Sessions = async_sessionmaker[AsyncSession]

SourceKind = Literal["api", "push", "sync", "restore", "recover"]
#: The sources that import a commit of the state repo.
_IMPORTS: tuple[SourceKind, ...] = ("push", "sync", "restore", "recover")


@dataclass(frozen=True)
class WriteSource:
    """Where a write came from: a request to the API, or a commit imported (push, sync...)."""

    kind: SourceKind = "api"
    commit: str | None = None

    @classmethod
    def imported(cls, kind: str, commit: str | None) -> WriteSource:
        """The import of `commit` by `kind` (push, sync, restore, recover)."""
        for known in _IMPORTS:
            if kind == known:
                return cls(known, commit)
        raise ValueError(f"unknown source of an import: {kind!r}")

    @classmethod
    def parse(cls, text: str) -> WriteSource:
        """The source the change log's `source` column names: the inverse of `str`."""
        if not text:
            return API
        kind, colon, commit = text.partition(":")
        return cls.imported(kind, commit if colon else None)

    def __str__(self) -> str:
        """The form the change log's `source` column keeps: `push:<sha>`, or "" (the API)."""
        if self.commit is None:
            return "" if self.kind == "api" else self.kind
        return f"{self.kind}:{self.commit}"


#: The source of writes that say none (requests to the API).
API = WriteSource()


@dataclass(frozen=True)
class WriteNotice:
    """A write committed: its id, who made it, from where, and what it stored.

    `written` and `deleted` are None when unknown (a write storing a Secret, whose row
    is not the resource as given): a follower then reads the objects back.
    """

    write_id: str
    actor: str
    source: WriteSource
    written: Mapping[Key, Resource] | None
    deleted: AbstractSet[Key] | None


@dataclass
class WriteContext:
    """The write in a session: its id once it changes something, its source and actor,
    and what it stored so far (for the notice)."""

    source: WriteSource = API
    write_id: str | None = None
    actor: str = ""
    #: Checked in the transaction before its first change (the leader's term, for the
    #: writes only the leader makes: imports of commits); it raises to refuse the write.
    fence: Callable[[Session], Awaitable[None]] | None = None
    _written: dict[Key, Resource] = field(default_factory=dict, init=False, repr=False)
    _deleted: set[Key] = field(default_factory=set, init=False, repr=False)
    _exact: bool = field(default=True, init=False, repr=False)

    def begin(self, actor: str) -> str:
        """The write's id (made on its first change): its changes become one git commit."""
        if self.write_id is None:
            self.write_id = uuid.uuid4().hex
        if not self.actor:
            self.actor = actor
        return self.write_id

    def note(self, stored: Mapping[Key, Resource | None]) -> None:
        """Note what the write stored (None: deleted), for the notice after commit.

        A write storing a Secret gives no note: what its row holds is not the resource
        as given (values may live in a backend), so followers read it back.
        """
        if any(isinstance(r, Secret) for r in stored.values()):
            self._exact = False
        elif self._exact:
            for key, resource in stored.items():
                if resource is None:
                    self._written.pop(key, None)
                    self._deleted.add(key)
                else:
                    self._deleted.discard(key)
                    self._written[key] = resource

    def committed(self) -> WriteNotice | None:
        """The notice of the transaction just committed (None: it changed nothing); the
        notes start again for the session's next transaction, in new containers, so the
        notice hands over the ones it noted in (a write of 10,000 objects is not copied)."""
        if self.write_id is None:
            return None
        known = self._exact and bool(self._written or self._deleted)
        notice = WriteNotice(
            self.write_id,
            self.actor,
            self.source,
            self._written if known else None,
            self._deleted if known else None,
        )
        self.rolled_back()
        return notice

    def rolled_back(self) -> None:
        """Nothing noted was stored."""
        self._written, self._deleted, self._exact = {}, set(), True


_CONTEXT = "mcpctl.write"

#: The PostgreSQL advisory lock that orders the writers of the change log (any key will do,
#: as long as every mcpd uses the same one).
CHANGE_LOG_LOCK = 0x6D6370_6374_6C  # "mcpctl"
#: How long a transaction holding the change log may sit idle before PostgreSQL ends it.
CHANGE_LOG_IDLE_MS = 60_000


def write_context(session: Session) -> WriteContext:
    """The write `session` carries (made on first use)."""
    return session_context(session.info)


def session_context(info: dict[Any, Any]) -> WriteContext:
    """The write context kept in a session's `info` (sync and async sessions share it)."""
    context = info.get(_CONTEXT)
    if context is None:
        context = info[_CONTEXT] = WriteContext()
    assert isinstance(context, WriteContext)
    return context


async def append_changes(
    session: Session, entries: list[dict[str, Any]], now: datetime
) -> list[int]:
    """Append `entries` to the change log in one batched INSERT; their seqs, in order.

    With the change log held (`lock_change_log`; SQLite: the write lock the INSERT takes)
    nobody else appends meanwhile, so the log's newest `len(entries)` changes are exactly
    these, numbered in order (a batched INSERT without RETURNING: with RETURNING, SQLite
    inserted them one by one).
    """
    if not entries:
        return []
    await lock_change_log(session)
    fence = session_context(session.info).fence
    if fence is not None:
        await fence(session)
    if session.get_bind().dialect.name == "postgresql":  # wake the leader's exporter
        await session.execute(text("SELECT pg_notify('mcpd_changes', '')"))
    await session.execute(insert(ChangeRow), [{**e, "at": now} for e in entries])
    newest = await session.execute(
        select(ChangeRow.seq, ChangeRow.write_id).order_by(ChangeRow.seq.desc()).limit(len(entries))
    )
    found = list(newest)[::-1]
    if len(found) != len(entries) or any(w != entries[0]["write_id"] for _, w in found):
        raise RuntimeError("the change log was appended to meanwhile")  # pragma: no cover
    return [seq for seq, _ in found]


async def lock_change_log(session: Session) -> None:
    """Hold the change log for this transaction, until it commits or rolls back.

    The exporter records how far `main` follows the change log by one number (the
    highest exported `seq`), so the changes must become visible in `seq` order: a
    transaction given `seq` 10 that commits after the one given 11 would never be
    exported. PostgreSQL hands out sequence values to concurrent transactions, so
    writers of changes take this lock before their first change; SQLite has one
    writer at a time already. Taken again in the same transaction, it is granted at once.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # a replica paused while it holds the log would stop every replica's writes: its
        # transaction ends once idle for a minute (and the write, never acknowledged, with it)
        await session.execute(
            text(f"SET LOCAL idle_in_transaction_session_timeout = {CHANGE_LOG_IDLE_MS}")
        )
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOG_LOCK})


_shared: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def shared(session: Session | Sessions) -> dict[str, Any]:
    """A dict every session of one database engine shares (the caches of what it holds),
    found from a session or from the factory of sessions (which opens none)."""
    bind = session.bind if isinstance(session, Session) else session.kw["bind"]
    slot = _shared.get(bind)
    if slot is None:
        slot = _shared[bind] = {}
    return slot


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call `callback` once the transaction of `session` commits (never on a rollback)."""

    def committed(_session: Any) -> None:
        callback()

    event.listen(session.sync_session, "after_commit", committed, once=True)
