"""The git replica: every committed write becomes one commit in the state repo.

Writes record change rows (with the id of their write) in the same
transaction as the objects; this module follows that log. After each commit
it wakes up, takes the changes since the last exported one, and for each write
commits the current state of the objects it touched, authored by the acting
user, with a trailer naming the last change. The export is a function of the
database, so replaying a write after a crash (between the DB commit and the
git commit, or between the git commit and the bookkeeping) commits nothing
twice and loses nothing (docs/architecture.md, "Export").

`mcpd` starts it (its catch-up) and runs its rounds under the supervisor
(`reconciler.supervisor`); the importer, restore, the mirror and the git
endpoint hold its `lock` to move `main`, and call `catch_up_locked` and
`export_keys` to commit the database's version on top of what they did.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcpctl.errors import BackendUnavailable
from mcpctl.faults import afault, fault
from mcpctl.kindnames import GIT_KIND_NAMES
from mcpctl.manifests import Sealer
from mcpctl.manifests.references import Key, format_key
from mcpctl.reconciler.supervisor import Backoff, LoopSpec, attempt
from mcpctl.schemas import Resource
from mcpctl.staterepo import (
    COMMITTER,
    Author,
    Oid,
    StateRepo,
    compare,
    export_all,
    export_changes,
)
from mcpctl.staterepo.replication import align_main, last_change_in, newest_export, set_identity
from mcpctl.store import ChangeRow, Session, Sessions, WriteNotice, WriteSource
from mcpctl.store.changes import (
    EXPORTED,
    LAST_IMPORTED,
    MAIN_COMMIT,
    REPO_ID,
    changes_since,
    claim_meta,
    exported_change,
    get_meta,
    last_change,
    mark_exported,
    oldest_after,
    put_meta,
    rewind_exported,
    snapshot,
)
from mcpctl.store.notifications import MAIN, notify
from mcpctl.store.objects import objects_of_kinds
from mcpctl.store.rows import row_resource, rows_by_key

if TYPE_CHECKING:
    from mcpctl.reconciler.leadership import Leadership

log = logging.getLogger(__name__)

#: Writes whose stored objects wait for the exporter at most; beyond, the oldest is read
#: back from the database instead.
MAX_HANDED_OVER = 64
#: Commits after which the exporter asks git whether to pack the repo (`maintain`), once
#: no write has come for `MAINTAIN_IDLE` seconds.
MAINTAIN_EVERY = 200
MAINTAIN_IDLE = 10.0
#: Unexported changes beyond which a start exports everything at once (see catch_up_locked).
FULL_EXPORT_BACKLOG = 1000
#: Snapshots a full export takes at most while writes keep coming, before it commits one.
SNAPSHOT_TRIES = 10
#: Exported writes whose lag (change to commit) the status summarizes.
LAG_SAMPLES = 1000


__all__ = [
    "EXPORTED",
    "FULL_EXPORT_BACKLOG",
    "MAINTAIN_EVERY",
    "MAINTAIN_IDLE",
    "MAX_HANDED_OVER",
    "REPO_ID",
    "ExportingSettings",
    "GitReplica",
    "ReplicaStatus",
]


@dataclass(frozen=True)
class ExportingSettings:
    """The exporter's knobs (the defaults are the module's constants)."""

    #: Writes whose stored objects wait for the exporter at most (`MAX_HANDED_OVER`).
    max_handed_over: int = MAX_HANDED_OVER
    #: Commits after which the repo is packed once idle (`MAINTAIN_EVERY`) ...
    maintain_every: int = MAINTAIN_EVERY
    #: ... and the seconds without a write that make it idle (`MAINTAIN_IDLE`).
    maintain_idle: float = MAINTAIN_IDLE
    #: Unexported changes beyond which a full start exports at once (`FULL_EXPORT_BACKLOG`).
    full_export_backlog: int = FULL_EXPORT_BACKLOG
    #: The delays before retrying a failed export (a constant second).
    retry: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class ReplicaStatus:
    head: str | None
    exported_change: int
    last_change: int
    last_imported: str | None = None
    #: The commit the cluster's `main` is at (the leader's; this replica's `head` follows).
    cluster_head: str | None = None
    #: The export lag of the latest writes (seconds from the change to its commit).
    lag: dict[str, Any] | None = None

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
            "clusterHead": self.cluster_head,
            "exportLag": self.lag,
        }


class GitReplica:
    """Keeps `main` of the state repo equal to the canonical export of the database."""

    def __init__(
        self,
        sessions: Sessions,
        repo: StateRepo,
        seal: Sealer,
        settings: ExportingSettings | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.sessions = sessions
        #: The lease this replica exports under (None: alone, as `mcpd admin-reset` is).
        self.leadership = leadership
        #: Where the mirror fetches the remote's main (None: no remote): a takeover that
        #: finds the cluster's commit nowhere takes what the old leader pushed there.
        self.remote_ref: str | None = None
        self.repo = repo
        self.seal = seal
        self.settings = settings or ExportingSettings()
        self.spec = LoopSpec(
            "git-replica", "exporting to the state repo", log, retry=self.settings.retry
        )
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        #: Write id -> what that write stored and deleted, handed over by the write
        #: itself: its commit needs no read of the database (see `notify`).
        self._handed: dict[str, tuple[Mapping[Key, Resource], AbstractSet[Key]]] = {}
        self._commits = 0  # since the repo was last maintained
        self._maintaining: asyncio.Task[None] | None = None
        #: The last commit published as the cluster's `main` (`publish`).
        self._published: str | None = None
        #: The lags (seconds) of the latest exported writes, and when the last was measured.
        self._lags: deque[float] = deque(maxlen=LAG_SAMPLES)
        #: Requests that move `main` (push, restore, sync) and met contention, by request:
        #: each retry counted (`supervisor.retry_contended`), shown by the status.
        self.contention: Counter[str] = Counter()
        #: The guard refused this state repo: nothing of the database goes there, not
        #: even at stop.
        self._refused = False

    def notify(self, notice: WriteNotice | None = None) -> None:
        """A write committed: export it soon (called from the session's after-commit hook).

        The notice says what the write stored; the export of the write then commits
        exactly that. A write whose objects the notice does not know, or whose notice
        was dropped (too many waiting), is read back from the database, as at start.
        """
        if notice is not None and notice.written is not None and notice.deleted is not None:
            while len(self._handed) >= self.settings.max_handed_over:
                del self._handed[next(iter(self._handed))]
            self._handed[notice.write_id] = (notice.written, notice.deleted)
        self._wake.set()

    async def start(self, *, full: bool = True) -> None:
        """Export what the database has that `main` lacks (before the supervisor runs the
        rounds that follow every write).

        Without `full`, only the writes not exported yet (the caller knows the rest
        matches: a database just recovered from `main`).
        """
        await self.guard_fresh_database()
        await self.catch_up(full=full)
        await self.publish()

    async def stop(self) -> None:
        """After the last round: export what is left (if this replica still leads), and let
        a packing in progress end.

        Nothing if the guard refused the state repo at start (the supervisor stops a part
        whose start failed all the same).
        """
        if self._refused:
            return
        try:
            if self.leadership is None or self.leadership.leads():
                await self.catch_up()
                await self.publish()
        finally:
            if self._maintaining is not None:  # a git gc in its thread: let it end
                await self._maintaining

    async def fence(self, session: Session) -> None:
        """Refuse (`Deposed`) an effect in `session`'s transaction unless this replica leads."""
        if self.leadership is not None:
            await self.leadership.fence(session)

    async def publish(self) -> None:
        """Record `main`'s head as the cluster's (and tell the followers), if it moved."""
        head = await asyncio.to_thread(self.repo.head)
        sha = str(head.id) if head is not None else None
        if sha is None or sha == self._published:
            return
        async with self.sessions() as session, session.begin():
            await self.fence(session)
            await put_meta(session, MAIN_COMMIT, sha)
            await notify(session, MAIN, sha)
        self._published = sha

    async def take_over(self, fetches: list[Callable[[], Awaitable[None]]], timeline: str) -> None:
        """Bring `main` to the cluster's before exporting anything (a replica that was just
        elected): fetch the cluster's commit if this repo lacks it (`fetches`, in order:
        the old leader, the remote), move `main` forward to it (a head of this repo's own
        that diverged is kept as `timelines/<timeline>`), then export again whatever the
        repo's `main` does not hold although the database says it was exported (commits
        of the old leader that reached no one). Nothing is exported twice: the export
        is a function of the database, and commits nothing where the files are equal."""
        self._published = None  # another leader may have published since this one did
        async with self.sessions() as session:
            cluster = await get_meta(session, MAIN_COMMIT)
            exported = await exported_change(session)
            identity = await get_meta(session, REPO_ID)
        async with self._lock:
            mine = await asyncio.to_thread(self.repo.identity)
            joined = identity is not None and mine != identity
            if joined and not await asyncio.to_thread(self.repo.holds_objects):
                # a replica that joined and leads before it followed: the cluster's repo
                assert identity is not None
                await asyncio.to_thread(set_identity, self.repo, identity)
            if cluster is not None:
                for fetch in fetches:
                    if await asyncio.to_thread(self.holds, cluster):
                        break
                    try:
                        await fetch()
                    except BackendUnavailable as e:
                        log.info("taking over: %s", e)
                aligned = await asyncio.to_thread(align_main, self.repo, cluster, timeline)
                if aligned.how == "missing" and self.remote_ref is not None:
                    # the old leader's last commits reached no one, but its pushes did
                    pushed = await asyncio.to_thread(newest_export, self.repo, self.remote_ref)
                    if pushed is not None:
                        aligned = await asyncio.to_thread(align_main, self.repo, pushed, timeline)
                        log.warning(
                            "taking over: the cluster's main %s is in no reachable repo; main "
                            "goes on from what the old leader pushed to the remote, %s",
                            cluster[:12],
                            pushed[:12],
                        )
                if aligned.how == "missing":
                    log.warning(
                        "taking over: the cluster's main %s is in no reachable repo; this "
                        "replica's main %s goes on, and the writes it lacks are exported again",
                        cluster[:12],
                        (aligned.before or "(none)")[:12],
                    )
                elif aligned.how == "diverged":
                    log.warning(
                        "taking over: this replica's main %s had commits the cluster's %s "
                        "lacks; they are kept on %s",
                        (aligned.before or "")[:12],
                        cluster[:12],
                        aligned.kept,
                    )
            held = await asyncio.to_thread(last_change_in, self.repo)
            if held is not None and held < exported:
                async with self.sessions() as session, session.begin():
                    await self.fence(session)
                    await rewind_exported(session, held)
                log.info(
                    "taking over: main holds the changes up to %d, the database says %d were "
                    "exported: exporting the rest again",
                    held,
                    exported,
                )

    def holds(self, sha: str) -> bool:
        try:
            self.repo.repo[sha]
        except (KeyError, ValueError):
            return False
        return True

    async def due(self) -> None:
        """Wait for the next write. Meanwhile, once `maintain_every` commits were made
        and no write came for `maintain_idle` seconds, pack the repo in the background
        (git's gc then takes no time from the writes that follow each other)."""
        while True:
            busy = self._maintaining is not None and not self._maintaining.done()
            if self._commits < self.settings.maintain_every or busy:
                await self._wake.wait()
                return
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.maintain_idle)
                return
            except TimeoutError:
                self._commits = 0
                self._maintaining = asyncio.create_task(self._maintain(), name="git-maintain")

    async def round(self) -> None:
        """Export the writes since the last round (a failed round is retried: the
        supervisor's back-off, then again, whether or not a write came)."""
        self._wake.clear()
        await afault("export.delay")
        await self.catch_up()
        await self.publish()

    async def _maintain(self) -> None:
        # the next round tries again; writes never wait for it
        await attempt("packing the state repo", log, lambda: asyncio.to_thread(self.repo.maintain))

    async def guard_fresh_database(self) -> None:
        """Refuse a state repo that is not this database's (its objects would be overwritten).

        A database that follows no repo yet is claimed for this one (`claim_meta`: of
        two mcpd starting at once on one new database, the second is refused as if it
        came later, not failed by the collision).
        """
        repo_id = await asyncio.to_thread(self.repo.identity)
        async with self.sessions() as session, session.begin():
            known = await get_meta(session, REPO_ID)
            if known is None:
                exported = await get_meta(session, EXPORTED)
                if exported is not None and await asyncio.to_thread(self.repo.holds_objects):
                    self._refused = True
                    raise BackendUnavailable(
                        "the state repo holds objects but this database was exported "
                        "elsewhere: start with the state dir it belongs to"
                    )
                known = await claim_meta(session, REPO_ID, repo_id)
            if known != repo_id:
                self._refused = True
                raise BackendUnavailable(
                    f"this database follows another state repo (id {known}, this one is "
                    f"{repo_id}): start with the state dir it belongs to"
                )

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

        With `full`, a backlog of more than `full_export_backlog` changes (a disaster
        recovery, a restore cut short) is one full export instead of a commit per write:
        the full export follows anyway, and rendering every object twice is what takes
        the time.
        """
        unexported = await self.unexported()
        if not (full and len(unexported) > self.settings.full_export_backlog):
            for group in _by_write(unexported):
                await self._export_write(group)
        if full:
            await self._export_everything()

    async def unexported(self) -> list[ChangeRow]:
        """The changes `main` may not hold yet, in order."""
        async with self.sessions() as session:
            return await changes_since(session, await exported_change(session))

    async def export_keys(self, keys: list[Key], author: Author, summary: str) -> Oid | None:
        """Commit the database's version of `keys` on `main` (with `lock` held); None if equal."""
        if not keys:
            return None
        written, deleted = await self._read_back(keys)
        return await self._commit(written, deleted, author, summary)

    async def _commit(
        self,
        written: list[Resource],
        deleted: list[Key],
        author: Author,
        summary: str,
        change: int | None = None,
    ) -> Oid | None:
        """One commit of `written` and `deleted` on `main` (None: the files were equal)."""
        return await asyncio.to_thread(
            export_changes,
            self.repo,
            written,
            deleted,
            self.seal,
            author=author,
            summary=summary,
            change=change,
        )

    async def _read_back(self, keys: list[Key]) -> tuple[list[Resource], list[Key]]:
        """The database's version of `keys`: the objects it holds, and the keys it does not."""
        async with self.sessions() as session:
            rows = await rows_by_key(session, keys)
        return [row_resource(rows[k]) for k in keys if k in rows], [
            k for k in keys if k not in rows
        ]

    async def _export_write(self, group: list[ChangeRow]) -> None:
        fault("export.after-db")
        # each object once, in the order of its first change (a dict: a restore has 10,000)
        keys: list[Key] = list(
            dict.fromkeys((change.kind, change.project or None, change.name) for change in group)
        )
        handed = self._handed.pop(group[0].write_id, None)
        if handed is not None and all(k in handed[0] or k in handed[1] for k in keys):
            written = [handed[0][k] for k in keys if k in handed[0]]
            deleted = [k for k in keys if k in handed[1]]
        else:
            written, deleted = await self._read_back(keys)
        source = WriteSource.parse(group[0].source)
        if source.commit:  # the write imported a commit: what differs is only the canonical form
            author = Author(*COMMITTER)
            summary = f"Canonical form of the files of {source.commit[:12]} ({source.kind})"
        else:
            author, summary = Author.of(group[0].actor), _summary(group, keys)
        committed = await self._commit(written, deleted, author, summary, group[-1].seq)
        if committed is not None:
            self._commits += 1
        fault("export.after-ref")
        await self._mark(group[-1].seq)
        self._lags.append(max(0.0, (datetime.now(UTC) - group[-1].at).total_seconds()))

    async def _export_everything(self) -> None:
        """One commit of whatever `main` lacks of the database (drift), with every write
        before it exported on its own first: the objects and the last change are read in
        one snapshot, so writes that other replicas make meanwhile get commits of their
        own after it (and are never claimed by it without being in it)."""
        self._handed.clear()  # what they stored is in the database: the export reads it
        for _ in range(SNAPSHOT_TRIES):
            async with self.sessions() as session:
                await snapshot(session)
                last = await last_change(session)
                rows = await objects_of_kinds(session, GIT_KIND_NAMES)
                exported = await exported_change(session)
            if last <= exported:
                break
            for group in _by_write(await self.unexported()):  # came meanwhile
                await self._export_write(group)
        resources = [row_resource(r) for r in rows]
        await asyncio.to_thread(
            export_all, self.repo, resources, self.seal, summary="Export the database", change=last
        )
        await self._mark(last)

    async def mark(self, seq: int) -> None:
        """Record that `main` holds every change up to `seq`."""
        await self._mark(seq)

    async def _mark(self, seq: int) -> None:
        """Record that `main` holds the changes up to `seq`, and `main`'s head as the
        cluster's, in one transaction: whoever sees the one sees the other."""
        head = await asyncio.to_thread(self.repo.head)
        sha = str(head.id) if head is not None else None
        async with self.sessions() as session, session.begin():
            await self.fence(session)
            await mark_exported(session, seq)
            if sha is not None and sha != self._published:
                await put_meta(session, MAIN_COMMIT, sha)
                await notify(session, MAIN, sha)
        if sha is not None:
            self._published = sha

    async def resources(self) -> list[Resource]:
        async with self.sessions() as session:
            return [row_resource(r) for r in await objects_of_kinds(session, GIT_KIND_NAMES)]

    async def status(self) -> ReplicaStatus:
        async with self.sessions() as session:
            exported = await exported_change(session)
            last = await last_change(session)
            imported = await get_meta(session, LAST_IMPORTED)
            cluster = await get_meta(session, MAIN_COMMIT)
            oldest = await oldest_after(session, exported) if exported < last else None
        head = await asyncio.to_thread(self.repo.head)
        lag = self._lag_summary() or {}
        if oldest is not None:  # how long the oldest write has waited for its commit
            waited = (datetime.now(UTC) - oldest.at).total_seconds()
            lag["oldestPendingSeconds"] = round(max(0.0, waited), 3)
        return ReplicaStatus(
            str(head.id) if head is not None else None,
            exported,
            last,
            imported,
            cluster,
            lag or None,
        )

    def _lag_summary(self) -> dict[str, Any] | None:
        """The export lag of the latest writes exported here: count, p50, p95, max (s)."""
        if not self._lags:
            return None
        ordered = sorted(self._lags)

        def at(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

        return {"writes": len(ordered), "p50": at(0.5), "p95": at(0.95), "max": at(1.0)}

    async def verify(self) -> tuple[list[str], str]:
        """The paths where `main` differs from the export of the database (empty: in sync),
        and the unified diff of them (main as `a/`, the export as `b/`)."""
        async with self._lock:
            resources = await self.resources()
            return await asyncio.to_thread(compare, self.repo, resources, self.seal)


def _imported_json(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    commit, _, via = value.partition(" ")
    return {"commit": commit, "via": via}


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
