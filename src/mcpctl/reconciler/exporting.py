"""The git replica: every committed write becomes one commit in the state repo.

Writes record change rows (with the id of their write) in the same
transaction as the objects; this module follows that log. After each commit
it wakes up, takes the changes since the last exported one, and for each write
commits the current state of the objects it touched, authored by the acting
user, with a trailer naming the last change. The export is a function of the
database, so replaying a write after a crash (between the DB commit and the
git commit, or between the git commit and the bookkeeping) commits nothing
twice and loses nothing (DESIGN.md, flow 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pygit2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mcpctl.errors import BackendUnavailable
from mcpctl.faults import afault, fault
from mcpctl.manifests import Sealer
from mcpctl.manifests.references import Key, format_key
from mcpctl.schemas import GIT_KINDS, Resource
from mcpctl.staterepo import (
    COMMITTER,
    Author,
    StateRepo,
    compare,
    export_all,
    export_changes,
)
from mcpctl.store import ChangeRow, MetaRow, ObjectRow, WriteNotice
from mcpctl.store.rows import row_resource, rows_by_key

log = logging.getLogger(__name__)

#: Writes whose stored objects wait for the exporter at most; beyond, the oldest is read
#: back from the database instead.
MAX_HANDED_OVER = 64
#: Commits after which the exporter asks git whether to pack the repo (`maintain`), once
#: no write has come for `MAINTAIN_IDLE` seconds.
MAINTAIN_EVERY = 200
MAINTAIN_IDLE = 10.0

EXPORTED = "exported_change"
REPO_ID = "state_repo_id"
_GIT_KIND_NAMES = tuple(m.KIND for m in GIT_KINDS)


@dataclass(frozen=True)
class ReplicaStatus:
    head: str | None
    exported_change: int
    last_change: int
    last_imported: str | None = None

    @property
    def pending(self) -> bool:
        return self.exported_change < self.last_change

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "exportedChange": self.exported_change,
            "lastChange": self.last_change,
            "pending": self.pending,
            "lastImported": _imported_json(self.last_imported),
        }


class GitReplica:
    """Keeps `main` of the state repo equal to the canonical export of the database."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], repo: StateRepo, seal: Sealer
    ) -> None:
        self.sessions = sessions
        self.repo = repo
        self.seal = seal
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Write id -> what that write stored, by key (None: deleted), handed over by
        #: the write itself: its commit needs no read of the database (see `notify`).
        self._stored: dict[str, dict[Key, Resource | None]] = {}
        self._commits = 0  # since the repo was last maintained
        self._maintaining: asyncio.Task[None] | None = None

    def notify(self, notice: WriteNotice | None = None) -> None:
        """A write committed: export it soon (called from the session's after-commit hook).

        The notice says what the write stored; the export of the write then commits
        exactly that. A write whose objects the notice does not know, or whose notice
        was dropped (too many waiting), is read back from the database, as at start.
        """
        if notice is not None and notice.written is not None and notice.deleted is not None:
            while len(self._stored) >= MAX_HANDED_OVER:
                del self._stored[next(iter(self._stored))]
            stored: dict[Key, Resource | None] = dict(notice.written)
            stored.update(dict.fromkeys(notice.deleted))
            self._stored[notice.write_id] = stored
        self._wake.set()

    async def start(self, *, full: bool = True) -> None:
        """Export what the database has that `main` lacks, then follow every write.

        Without `full`, only the writes not exported yet (the caller knows the rest
        matches: a database just recovered from `main`).
        """
        await self.guard_fresh_database()
        await self.catch_up(full=full)
        self._task = asyncio.create_task(self._follow(), name="git-replica")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.catch_up()
        if self._maintaining is not None:  # a git gc in its thread: let it end
            await self._maintaining

    async def _next_write(self) -> None:
        """Wait for the next write. Meanwhile, once `MAINTAIN_EVERY` commits were made
        and no write came for `MAINTAIN_IDLE` seconds, pack the repo in the background
        (git's gc then takes no time from the writes that follow each other)."""
        while True:
            busy = self._maintaining is not None and not self._maintaining.done()
            if self._commits < MAINTAIN_EVERY or busy:
                await self._wake.wait()
                return
            try:
                await asyncio.wait_for(self._wake.wait(), MAINTAIN_IDLE)
                return
            except TimeoutError:
                self._commits = 0
                self._maintaining = asyncio.create_task(self._maintain(), name="git-maintain")

    async def _maintain(self) -> None:
        try:
            await asyncio.to_thread(self.repo.maintain)
        except Exception:  # the next round tries again; writes never wait for it
            log.exception("packing the state repo failed")

    async def _follow(self) -> None:
        while True:
            await self._next_write()
            self._wake.clear()
            try:
                await afault("export.delay")
                await self.catch_up()
            except Exception:  # a supervisor loop: log, retry on the next write or in a while
                log.exception("exporting to the state repo failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def guard_fresh_database(self) -> None:
        """Refuse a state repo that is not this database's (its objects would be overwritten)."""
        repo_id = await asyncio.to_thread(self.repo.identity)
        async with self.sessions() as session, session.begin():
            known = await session.get(MetaRow, REPO_ID)
            if known is not None and known.value != repo_id:
                raise BackendUnavailable(
                    f"this database follows another state repo (id {known.value}, this one is "
                    f"{repo_id}): start with the state dir it belongs to"
                )
            exported = await session.get(MetaRow, EXPORTED)
            if known is None:
                if exported is not None and await asyncio.to_thread(self.repo.holds_objects):
                    raise BackendUnavailable(
                        "the state repo holds objects but this database was exported "
                        "elsewhere: start with the state dir it belongs to"
                    )
                session.add(MetaRow(key=REPO_ID, value=repo_id))

    @property
    def lock(self) -> asyncio.Lock:
        """Held by whoever moves `main`: the exporter, an import, a restore."""
        return self._lock

    async def catch_up(self, *, full: bool = False) -> None:
        """Commit every write since the last exported change (and, with `full`, any drift)."""
        async with self._lock:
            await self.catch_up_locked(full=full)

    async def catch_up_locked(self, *, full: bool = False) -> None:
        """`catch_up` for a caller already holding `lock`.

        With `full`, a backlog of more than `FULL_EXPORT_BACKLOG` changes (a disaster
        recovery, a restore cut short) is one full export instead of a commit per write:
        the full export follows anyway, and rendering every object twice is what takes
        the time.
        """
        unexported = await self.unexported()
        if not (full and len(unexported) > FULL_EXPORT_BACKLOG):
            for group in _by_write(unexported):
                await self._export_write(group)
        if full:
            await self._export_everything()

    async def unexported(self) -> list[ChangeRow]:
        """The changes `main` may not hold yet, in order."""
        async with self.sessions() as session:
            exported = await _exported(session)
            return list(
                await session.scalars(
                    select(ChangeRow).where(ChangeRow.seq > exported).order_by(ChangeRow.seq)
                )
            )

    async def export_keys(self, keys: list[Key], author: Author, summary: str) -> pygit2.Oid | None:
        """Commit the database's version of `keys` on `main` (with `lock` held); None if equal."""
        if not keys:
            return None
        async with self.sessions() as session:
            rows = await rows_by_key(session, keys)
        written = [row_resource(rows[k]) for k in keys if k in rows]
        deleted = [k for k in keys if k not in rows]
        return await asyncio.to_thread(
            export_changes,
            self.repo,
            written,
            deleted,
            self.seal,
            author=author,
            summary=summary,
        )

    async def _export_write(self, group: list[ChangeRow]) -> None:
        fault("export.after-db")
        # each object once, in the order of its first change (a dict: a restore has 10,000)
        keys: list[Key] = list(
            dict.fromkeys((change.kind, change.project or None, change.name) for change in group)
        )
        stored = self._stored.pop(group[0].write_id, None)
        if stored is not None and all(k in stored for k in keys):
            handed = [stored[k] for k in keys]
            written = [r for r in handed if r is not None]
            deleted = [k for k, r in zip(keys, handed, strict=True) if r is None]
        else:
            async with self.sessions() as session:
                rows = await rows_by_key(session, keys)
            written = [row_resource(rows[k]) for k in keys if k in rows]
            deleted = [k for k in keys if k not in rows]
        source, _, commit = group[0].source.partition(":")
        if commit:  # the write imported a commit: what differs is only the canonical form
            author = Author(*COMMITTER)
            summary = f"Canonical form of the files of {commit[:12]} ({source})"
        else:
            author, summary = Author.of(group[0].actor), _summary(group, keys)
        committed = await asyncio.to_thread(
            export_changes,
            self.repo,
            written,
            deleted,
            self.seal,
            author=author,
            summary=summary,
            change=group[-1].seq,
        )
        if committed is not None:
            self._commits += 1
        fault("export.after-ref")
        await self._mark(group[-1].seq)

    async def _export_everything(self) -> None:
        self._stored.clear()  # what they stored is in the database: the export reads it
        resources = await self.resources()
        async with self.sessions() as session:
            last = await _last_change(session)
        await asyncio.to_thread(
            export_all, self.repo, resources, self.seal, summary="Export the database", change=last
        )
        await self._mark(last)

    async def mark(self, seq: int) -> None:
        """Record that `main` holds every change up to `seq`."""
        await self._mark(seq)

    async def _mark(self, seq: int) -> None:
        async with self.sessions() as session, session.begin():
            row = await session.get(MetaRow, EXPORTED)
            if row is None:
                session.add(MetaRow(key=EXPORTED, value=str(seq)))
            elif int(row.value) < seq:
                row.value = str(seq)

    async def resources(self) -> list[Resource]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ObjectRow).where(ObjectRow.kind.in_(_GIT_KIND_NAMES)).order_by(ObjectRow.id)
            )
            return [row_resource(r) for r in rows]

    async def status(self) -> ReplicaStatus:
        async with self.sessions() as session:
            exported = await _exported(session)
            last = await _last_change(session)
            imported = await session.get(MetaRow, "last_imported_commit")
        head = await asyncio.to_thread(self.repo.head)
        return ReplicaStatus(
            str(head.id) if head is not None else None,
            exported,
            last,
            imported.value if imported is not None else None,
        )

    async def verify(self) -> tuple[list[str], str]:
        """The paths where `main` differs from the export of the database (empty: in sync),
        and the unified diff of them (main as `a/`, the export as `b/`)."""
        async with self._lock:
            resources = await self.resources()
            return await asyncio.to_thread(compare, self.repo, resources, self.seal)


#: Unexported changes beyond which a start exports everything at once (see catch_up_locked).
FULL_EXPORT_BACKLOG = 1000


def _imported_json(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    commit, _, via = value.partition(" ")
    return {"commit": commit, "via": via}


async def _exported(session: AsyncSession) -> int:
    row = await session.get(MetaRow, EXPORTED)
    return int(row.value) if row is not None else 0


async def _last_change(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(ChangeRow.seq), 0))) or 0)


def _by_write(changes: list[ChangeRow]) -> list[list[ChangeRow]]:
    groups: list[list[ChangeRow]] = []
    for change in changes:
        if groups and groups[-1][-1].write_id == change.write_id:
            groups[-1].append(change)
        else:
            groups.append([change])
    return groups


def _summary(group: list[ChangeRow], keys: list[Key]) -> str:
    if len(keys) == 1:
        return f"{group[-1].verb} {format_key(keys[0])}"
    verbs = Counter(c.verb for c in group)
    head = f"{len(keys)} objects: " + ", ".join(f"{v} {n}" for v, n in sorted(verbs.items()))
    listed = "\n".join(
        f"- {c.verb} {format_key((c.kind, c.project or None, c.name))}" for c in group
    )
    return f"{head}\n\n{listed}"
