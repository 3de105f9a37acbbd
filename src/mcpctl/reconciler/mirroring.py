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

`mcpd` runs its rounds under the supervisor (`reconciler.supervisor`) when a
remote is configured, which retries a round meeting contention (another git
process writing the repo) soon; the API's sync and status call `sync` and
`status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcpctl.access.policy import SYSTEM, Principal
from mcpctl.errors import Conflict, Contention, McpctlError
from mcpctl.manifests.references import Key
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.importing import GitImporter, Overridden
from mcpctl.reconciler.supervisor import LoopSpec, PermanentError
from mcpctl.staterepo import COMMITTER, Author, Commit, Repository
from mcpctl.staterepo.merging import (
    changed_since,
    commit_at,
    descends_from,
    merge_base,
    merge_commit,
)
from mcpctl.staterepo.remote import Remote, describe

log = logging.getLogger(__name__)

#: Who imports the remote's commits: mcpd, for the remote (whose own access rules apply there).
MIRROR = replace(SYSTEM, actor="gitops-mirror")
#: Seconds between two syncs when nothing asks for one.
SYNC_INTERVAL = 60.0
#: Seconds a sync asked for by a write waits for the writes that follow it (one round).
BURST = 0.05


@dataclass(frozen=True)
class MirroringSettings:
    """The mirror's knobs (the defaults are the module's constants)."""

    interval: float = SYNC_INTERVAL
    burst: float = BURST
    #: The ServiceAccount whose permissions bound what the remote may change (None: mcpd
    #: itself, which holds everything: the remote is trusted like mcpd's own repo).
    acting_as: str | None = None

    @property
    def principal(self) -> Principal:
        """Who imports the remote's commits: RBAC and the write guards apply to it."""
        if self.acting_as is None:
            return MIRROR
        name = self.acting_as
        return Principal("ServiceAccount", name, f"serviceaccount:{name}", "gitops-mirror")


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
        settings: MirroringSettings | None = None,
    ) -> None:
        self.importer = importer
        self.replica = replica
        self.remote = remote
        self.repo_path = repo_path
        self.public_key = public_key
        self.settings = settings or MirroringSettings()
        # a failed round waits for the next one (the interval, or a write)
        self.spec = LoopSpec(
            "git-mirror", f"mirror sync with {remote.redacted}", log, retry=None, eager=True
        )
        self.state = MirrorState()
        self._wake = asyncio.Event()

    @property
    def interval(self) -> float:
        return self.settings.interval

    def notify(self) -> None:
        """A local write: push it soon."""
        self._wake.set()

    async def round(self) -> None:
        """One sync; its failures wait for the next round (they are in `status` meanwhile),
        but contention is the supervisor's to retry soon."""
        try:
            await self.sync()
        except Contention:
            raise
        except McpctlError as e:
            raise PermanentError(str(e)) from e

    async def due(self) -> None:
        """After `interval`, or soon after a local write."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.interval)
        await asyncio.sleep(self.settings.burst)  # a burst of writes is one round
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
        repo = state.repo
        async with self.replica.lock:
            await self.replica.catch_up_locked()
            head = await asyncio.to_thread(state.head)
            assert head is not None
            report = SyncReport(self.remote.redacted, "none", fetched, str(head.id))
            if fetched == str(head.id):
                self.state.last_pushed = fetched
                return report
            if fetched is not None and not descends_from(repo, head.id, fetched):
                theirs = commit_at(repo, fetched)
                report.imported = await self._import(self.settings.principal, repo, head, theirs)
                report.action = "imported"
            head = await asyncio.to_thread(state.head)
            assert head is not None
            report.head = str(head.id)
        # the cluster's main is published before the remote gets it: a leader taking over
        # finds on the remote nothing newer than what the database names
        await self.replica.publish()
        if self.replica.leadership is not None:
            self.replica.leadership.check()  # a replica deposed meanwhile pushes nothing
        await asyncio.to_thread(self.remote.push, self.repo_path, report.head)
        self.state.last_pushed = report.head
        if report.action == "none":
            report.action = "pushed"
        return report

    async def _import(
        self,
        principal: Principal,
        repo: Repository,
        head: Commit,
        theirs: Commit,
    ) -> dict[str, Any]:
        state = self.replica.repo
        fast_forward = descends_from(repo, theirs.id, head.id)
        if fast_forward:
            base = head
            local: dict[Key, Overridden] = {}
        else:
            found = merge_base(repo, head, theirs)
            if found is None:
                raise Conflict(
                    f"the main of {self.remote.redacted} shares no history with mcpd's: "
                    "start the remote from a clone of mcpd's state repo (or an empty one)"
                )
            base = found
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
            message = f"Merge {str(theirs.id)[:12]} from {self.remote.redacted}\n"
            await asyncio.to_thread(merge_commit, state, head, theirs, base, applied, message)
        await self.replica.catch_up_locked()
        summary = f"Canonical form of the files of {str(theirs.id)[:12]} (sync)"
        await self.replica.export_keys(report.keys, Author(*COMMITTER), summary)
        self.state.last_imported = str(theirs.id)
        self.state.conflicts.extend(c.to_json() for c in report.conflicts)
        for line in report.lines():
            log.info("mirror: %s", line)
        return report.to_json()


def _local_changes(repo: Repository, base: Commit, head: Commit) -> dict[Key, Overridden]:
    """The objects mcpd's main changed since `base`, with the newest commit that did."""
    return {
        key: Overridden(key, "", 0, author, "commit", local_commit=commit)
        for key, (author, commit) in changed_since(repo, base, head).items()
    }
