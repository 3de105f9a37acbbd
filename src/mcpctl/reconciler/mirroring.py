"""The mirror: `main` pushed to a remote, and commits made there imported (flow 2, by pull).

A sync runs on an interval, after local writes, and on `POST /api/v1/gitops/sync`.
With the replica's lock held and `main` caught up with the database, it
fetches the remote's `main` (R) and compares it with mcpd's (L):

- R is L, or an ancestor of L: push L (a fast-forward);
- L is an ancestor of R: import R's changes since L, move `main` to R, commit
  the canonical form on top if needed, push;
- they diverged: import R's changes since their merge base; objects changed
  on both sides keep mcpd's version (an Event and an audit entry name the
  commit), and a merge commit with parents L and R, whose tree holds the
  database's version of everything, becomes `main`; then push. The remote's
  commits stay in history and the remote only ever fast-forwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2

from mcpctl.access.policy import SYSTEM, Principal
from mcpctl.errors import Conflict, McpctlError
from mcpctl.manifests.references import Key
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.importing import GitImporter, Overridden
from mcpctl.staterepo import COMMITTER, Author, key_for
from mcpctl.staterepo.reading import tree_changes
from mcpctl.staterepo.remote import Remote, describe

log = logging.getLogger(__name__)

#: Who imports the remote's commits: mcpd, for the remote (whose own access rules apply there).
MIRROR = replace(SYSTEM, actor="gitops-mirror")


@dataclass
class SyncReport:
    remote: str
    action: str
    fetched: str | None = None
    head: str | None = None
    imported: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "action": self.action,
            "fetched": self.fetched,
            "head": self.head,
            **({"imported": self.imported} if self.imported is not None else {}),
        }


@dataclass
class MirrorState:
    last_sync: datetime | None = None
    last_fetched: str | None = None
    last_imported: str | None = None
    last_pushed: str | None = None
    last_error: str | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)


class GitMirror:
    def __init__(
        self,
        importer: GitImporter,
        replica: GitReplica,
        remote: Remote,
        repo_path: Path,
        public_key: str,
        interval: float = 60.0,
    ) -> None:
        self.importer = importer
        self.replica = replica
        self.remote = remote
        self.repo_path = repo_path
        self.public_key = public_key
        self.interval = interval
        self.state = MirrorState()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """A local write: push it soon."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="git-mirror")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.sync()
            except McpctlError as e:
                log.warning("mirror sync with %s failed: %s", self.remote.redacted, e)
            except Exception:  # a supervisor loop: log, try again on the next round
                log.exception("mirror sync with %s failed", self.remote.redacted)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            await asyncio.sleep(0.05)  # a burst of writes is one round
            self._wake.clear()

    def status(self) -> dict[str, Any]:
        s = self.state
        return {
            "url": self.remote.redacted,
            "transport": describe(self.remote.url),
            "publicKey": self.public_key,
            "interval": self.interval,
            "lastSync": s.last_sync.strftime("%Y-%m-%dT%H:%M:%SZ") if s.last_sync else None,
            "lastFetched": s.last_fetched,
            "lastImported": s.last_imported,
            "lastPushed": s.last_pushed,
            "lastError": s.last_error,
            "conflicts": s.conflicts[-20:],
        }

    async def sync(self, principal: Principal | None = None) -> SyncReport:
        """One round: fetch, import what the remote has that mcpd lacks, push (see module doc)."""
        try:
            report = await self._sync(principal)
        except McpctlError as e:
            self.state.last_error = str(e)
            raise
        finally:
            self.state.last_sync = datetime.now(UTC)
        self.state.last_error = None
        return report

    async def _sync(self, principal: Principal | None) -> SyncReport:
        if principal is not None:
            log.info("mirror sync with %s asked by %s", self.remote.redacted, principal.actor)
        # the network outside the lock: exports go on while the remote is slow
        fetched = await asyncio.to_thread(self.remote.fetch, self.repo_path)
        self.state.last_fetched = fetched
        state = self.replica.repo
        repo: pygit2.Repository = state.repo
        async with self.replica.lock:
            await self.replica.catch_up_locked()
            head = await asyncio.to_thread(state.head)
            assert head is not None
            report = SyncReport(self.remote.redacted, "none", fetched, str(head.id))
            if fetched == str(head.id):
                self.state.last_pushed = fetched
                return report
            if fetched is not None and not repo.descendant_of(head.id, pygit2.Oid(hex=fetched)):
                theirs = repo[fetched].peel(pygit2.Commit)
                report.imported = await self._import(MIRROR, repo, head, theirs)
                report.action = "imported"
            head = await asyncio.to_thread(state.head)
            assert head is not None
            report.head = str(head.id)
        await asyncio.to_thread(self.remote.push, self.repo_path, report.head)
        self.state.last_pushed = report.head
        if report.action == "none":
            report.action = "pushed"
        return report

    async def _import(
        self,
        principal: Principal,
        repo: pygit2.Repository,
        head: pygit2.Commit,
        theirs: pygit2.Commit,
    ) -> dict[str, Any]:
        state = self.replica.repo
        fast_forward = repo.descendant_of(theirs.id, head.id)
        if fast_forward:
            base = head
            local: dict[Key, Overridden] = {}
        else:
            base_id = repo.merge_base(head.id, theirs.id)
            if base_id is None:
                raise Conflict(
                    f"the main of {self.remote.redacted} shares no history with mcpd's: "
                    "start the remote from a clone of mcpd's state repo (or an empty one)"
                )
            base = repo[base_id].peel(pygit2.Commit)
            local = await asyncio.to_thread(_local_changes, repo, base, head)
        # invalid manifests raise InvalidManifest: every issue with its file and line
        report = await self.importer.import_commit(
            principal, repo, base, theirs, source="sync", verb="sync", local=local
        )
        conflicts = {c.key for c in report.conflicts}
        applied = [k for k in report.keys if k not in conflicts]
        if fast_forward:
            await asyncio.to_thread(state.move_main, theirs.id, head.id, "mirror: fast-forward")
        else:
            await asyncio.to_thread(
                _merge, state, head, theirs, base, applied, self.remote.redacted
            )
        await self.replica.catch_up_locked()
        summary = f"Canonical form of the files of {str(theirs.id)[:12]} (sync)"
        await self.replica.export_keys(report.keys, Author(*COMMITTER), summary)
        self.state.last_imported = str(theirs.id)
        self.state.conflicts.extend(c.to_json() for c in report.conflicts)
        for line in report.lines():
            log.info("mirror: %s", line)
        return report.to_json()


def _local_changes(
    repo: pygit2.Repository, base: pygit2.Commit, head: pygit2.Commit
) -> dict[Key, Overridden]:
    """The objects mcpd's main changed since `base`, with the newest commit that did."""
    changed = tree_changes(repo, base.tree, head.tree)
    keys = {key: path for path in changed if (key := key_for(path)) is not None}
    found: dict[Key, Overridden] = {}
    walker = repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.hide(base.id)
    for commit in walker:
        if len(found) == len(keys):
            break
        parent = commit.parents[0] if commit.parents else None
        touched = tree_changes(repo, parent.tree if parent else None, commit.tree)
        for path in touched:
            key = key_for(path)
            if key in keys and key not in found:
                found[key] = Overridden(
                    key, "", 0, commit.author.name, "commit", local_commit=str(commit.id)
                )
    for key in keys:
        found.setdefault(key, Overridden(key, "", 0, "mcpd", "commit", local_commit=str(head.id)))
    return found


def _merge(
    state: Any,
    head: pygit2.Commit,
    theirs: pygit2.Commit,
    base: pygit2.Commit,
    applied: list[Key],
    remote: str,
) -> None:
    """`main` becomes a merge of mcpd's head and the remote's: ours, plus their applied files."""
    repo: pygit2.Repository = state.repo
    index = pygit2.Index()
    index.read_tree(head.tree)
    theirs_changes = tree_changes(repo, base.tree, theirs.tree)
    wanted = set(applied)
    for path, content in theirs_changes.items():
        if key_for(path) not in wanted:
            continue
        if content is None:
            if path in index:
                index.remove(path)
        else:
            blob = repo.create_blob(content)
            index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(repo)
    signature = pygit2.Signature(*COMMITTER)
    message = f"Merge {str(theirs.id)[:12]} from {remote}\n"
    oid = repo.create_commit(None, signature, signature, message, tree, [head.id, theirs.id])
    state.move_main(oid, head.id, message)
