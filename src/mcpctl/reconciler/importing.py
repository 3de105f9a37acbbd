"""Import: commits that reach the state repo become database writes.

docs/architecture.md, "The flows and the invariant": push, conflicts, restore,
the mirror.

One primitive serves every way a commit arrives: a push to mcpd's `/git`
endpoint, a commit fetched from the mirrored remote, a restore to an earlier
revision, and disaster recovery from an empty database. `import_commit`
reads the files the new commit changes since the base (the last commit the
database is known to match), checks them as `mcpctl validate` does, opens the
sealed secret values, and writes them in one transaction as the acting
principal (RBAC per object, like `apply`).

The database wins conflicts: an object the commits change that also changed
in the database since the base (a change `main` does not hold yet) keeps its
database version; an Event and an audit entry name the commit, the object and
the overriding change, and the caller commits the database's version on top
(`GitReplica.export_keys`), so the invariant holds again while the overridden
change stays in history. Identical content on both sides is no conflict: an
object the commits bring exactly as the database holds it (as a write would
store it, a Secret's values opened and compared in plain, or absent on both
sides) is written like any other, which changes nothing. Several mcpd sharing
one remote see each other's writes come back this way.

Callers hold `GitReplica.lock`, so `main` does not move under an import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mcpctl.access.audit import record_audit
from mcpctl.access.policy import Principal
from mcpctl.errors import InvalidManifest, ManifestIssue, McpctlError
from mcpctl.manifests import ChangeSet, Manifest
from mcpctl.manifests.references import Key, format_key
from mcpctl.objects.events import record_event
from mcpctl.objects.service import ObjectService
from mcpctl.objects.validating import plan_write
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.secrets import MissingKey, Sealer
from mcpctl.staterepo import Commit, Repository
from mcpctl.staterepo.layout import path_for
from mcpctl.staterepo.reading import Content, ReadResult, keys_of, read_changes, tree_changes
from mcpctl.staterepo.rendering import render_object
from mcpctl.store import ChangeRow, Session, SourceKind, WriteSource, write_context
from mcpctl.store.changes import LAST_IMPORTED, put_meta
from mcpctl.store.rows import rows_by_key

log = logging.getLogger(__name__)

_DONE = {"add": "created", "change": "configured", "remove": "deleted"}


@dataclass(frozen=True)
class Overridden:
    """A change in imported commits that the database's own change overrode."""

    key: Key
    commit: str
    #: The database's change that wins (0: a commit of mcpd's main since the common base).
    change: int
    actor: str
    verb: str
    local_commit: str = ""

    def message(self) -> str:
        if self.local_commit:
            since = f"commit {self.local_commit[:12]} on mcpd's main, by {self.actor}"
        else:
            since = f"change {self.change}, {self.verb} by {self.actor}"
        return (
            f"{format_key(self.key)}: commit {self.commit[:12]} changed it, but mcpd changed it "
            f"too since ({since}): mcpd's version is kept and committed on top"
        )

    def to_json(self) -> dict[str, Any]:
        kind, project, name = self.key
        by: dict[str, Any] = {"actor": self.actor, "verb": self.verb}
        if self.local_commit:
            by["commit"] = self.local_commit
        else:
            by["change"] = self.change
        return {
            "kind": kind,
            "name": name,
            **({"project": project} if project else {}),
            "commit": self.commit,
            "overriddenBy": by,
        }


@dataclass
class ImportReport:
    """What an import did."""

    commit: str
    changes: ChangeSet
    conflicts: list[Overridden] = field(default_factory=list)
    #: Every object the imported commits touch: re-exported afterwards, so that files
    #: pushed in another form than the canonical one (or overridden) are rewritten.
    keys: list[Key] = field(default_factory=list)
    #: Secret values that could not be opened and were left out (when told to skip them).
    skipped: list[str] = field(default_factory=list)
    #: Files written in another form than mcpd's canonical one: mcpd rewrites them on top.
    rewritten: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the pusher's terminal shows."""
        out = [f"mcpd: {c.message()}" for c in self.conflicts]
        counts = self.changes.to_json().get("summary", {})
        done = ", ".join(
            f"{n} {_DONE.get(what, what)}"
            for what, n in sorted(counts.items())
            if n and what != "unchanged"
        )
        done = done or "no changes"
        out.append(f"mcpd: applied {self.commit[:12]}: {done}")
        parts = []
        if self.rewritten:
            shown = ", ".join(self.rewritten[:5]) + (", ..." if len(self.rewritten) > 5 else "")
            parts.append(f"{len(self.rewritten)} file(s) not in canonical form ({shown})")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} object(s) kept as mcpd has them")
        if parts:
            out.append(
                f"mcpd: {' and '.join(parts)}: mcpd commits its version on top; "
                "pull before your next push"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            **self.changes.to_json(),
            "conflicts": [c.to_json() for c in self.conflicts],
            "skippedSecretValues": self.skipped,
        }


class GitImporter:
    """Applies commits of the state repo to the database."""

    def __init__(
        self, objects: ObjectService, replica: GitReplica, sealer: Sealer | MissingKey
    ) -> None:
        self.objects = objects
        self.replica = replica
        self.sealer = sealer

    async def import_commit(
        self,
        principal: Principal,
        repo: Repository,
        base: Commit | None,
        new: Commit,
        *,
        source: SourceKind,
        verb: str,
        skip_unopenable: bool = False,
        conflicts: bool = True,
        allow_readme: bool = False,
        local: Mapping[Key, Overridden] | None = None,
        before_commit: Callable[[Session], Awaitable[None]] | None = None,
    ) -> ImportReport:
        """Write what `new` changes since `base` (None: everything in it), the DB winning.

        Raises InvalidManifest (every issue with file and line) or Forbidden before
        anything is written. `local`: objects changed on mcpd's side since `base` by
        commits (the mirror's diverged history), which win like unexported changes.
        `before_commit` sees the transaction with everything written, and may raise.
        """
        changes = await asyncio.to_thread(
            tree_changes, repo, base.tree if base is not None else None, new.tree
        )
        read = await asyncio.to_thread(
            read_changes,
            changes,
            self.sealer.open,
            allow_readme=allow_readme or base is None,
            skip_unopenable=skip_unopenable,
        )
        if read.issues:
            raise InvalidManifest(read.issues + await self._set_issues(principal, read, changes))
        commit = str(new.id)
        overridden = await self._overridden(read.keys, commit) if conflicts else {}
        for key in read.keys:
            if local and key in local and key not in overridden:
                overridden[key] = replace(local[key], commit=commit)
        async with self.objects.sessions() as session, session.begin():
            # the same content on both sides: no conflict, and the write changes nothing
            for key in await _agreeing(session, read, list(overridden)):
                del overridden[key]
            manifests = [m for m in read.manifests if m.key not in overridden]
            deleted = [k for k in read.deleted if k not in overridden]
            context = write_context(session)
            context.source = WriteSource.imported(source, commit)
            context.fence = self.replica.fence  # only the leader imports
            result = await self.objects.write_set(session, principal, manifests, deleted, verb=verb)
            for conflict in overridden.values():
                await _record_conflict(session, principal, conflict, source)
            await put_meta(session, LAST_IMPORTED, f"{commit} {source}")
            if before_commit is not None:  # it may refuse the write, which then rolls back
                await before_commit(session)
        report = ImportReport(commit, result.changes, list(overridden.values()), read.keys)
        report.skipped = read.skipped
        if source in ("push", "sync"):  # what the pusher is told (a restore's files are mcpd's)
            report.rewritten = await asyncio.to_thread(self._rewritten, changes, manifests)
        for conflict in report.conflicts:
            log.warning("import of %s: %s", commit[:12], conflict.message())
        return report

    async def _set_issues(
        self, principal: Principal, read: ReadResult, changes: Mapping[str, Content]
    ) -> list[ManifestIssue]:
        """The reference issues of the files that did read, beside the issues of those that did
        not (so a pusher sees every issue at once, as `mcpctl validate` shows them).

        The write is planned and rolled back; references to the objects of unreadable files
        are left out (those files' own issues say what is wrong with them).
        """
        if not read.manifests and not read.deleted:
            return []
        readable = set(read.keys)
        unreadable = [format_key(k) for k in keys_of(changes) if k not in readable]
        async with self.objects.sessions() as session:
            try:
                await self.objects.write_set(
                    session, principal, read.manifests, read.deleted, verb="check"
                )
            except InvalidManifest as e:
                return [
                    i
                    for i in e.issues
                    if i.code == "reference" and not any(k in i.message for k in unreadable)
                ]
            except McpctlError:
                return []  # RBAC and the like: said once the files are fixed
            finally:
                await session.rollback()
        return []

    def _rewritten(self, changes: Mapping[str, Content], manifests: list[Manifest]) -> list[str]:
        """The paths among `changes` whose content is not the export of the object they hold."""
        out: list[str] = []
        for manifest in manifests:
            path = path_for(*manifest.key)
            if changes.get(path) != render_object(manifest.resource, self.replica.seal):
                out.append(path)
        return sorted(out)

    async def _overridden(self, keys: list[Key], commit: str) -> dict[Key, Overridden]:
        """The objects among `keys` that changed in the database since `main`."""
        wanted = set(keys)
        found: dict[Key, Overridden] = {}
        for change in await self.replica.unexported():
            key = (change.kind, change.project or None, change.name)
            if key in wanted:
                found[key] = _overridden(key, commit, change)
        return found


def _overridden(key: Key, commit: str, change: ChangeRow) -> Overridden:
    return Overridden(key, commit, change.seq, change.actor, change.verb)


async def _agreeing(session: Session, read: ReadResult, keys: list[Key]) -> list[Key]:
    """The objects among `keys` that the commits bring exactly as the database holds them.

    Compared as a write would store them (`plan_write`: the canonical spec, labels and
    annotations; a Secret's values opened from their sealed form and compared in plain,
    a withheld value taking the stored one), so an object judged the same here is one
    the import's write leaves unchanged. A deletion agrees with an object the database
    does not hold either. Nothing of a value is said: an agreeing object is simply no
    conflict.
    """
    if not keys:
        return []
    wanted = set(keys)
    brought = {m.key: m for m in read.manifests if m.key in wanted}
    rows = await rows_by_key(session, keys)
    same: list[Key] = []
    for key in keys:
        manifest, row = brought.get(key), rows.get(key)
        if manifest is None:
            if row is None and key in read.deleted:
                same.append(key)
        elif row is not None and not plan_write(manifest, row).changed:
            same.append(key)
    return same


async def _record_conflict(
    session: Session, principal: Principal, conflict: Overridden, source: str
) -> None:
    kind, project, name = conflict.key
    await record_event(
        session,
        type="Warning",
        reason="GitConflict",
        message=conflict.message(),
        kind=kind,
        name=name,
        project=project,
        source=f"gitops/{source}",
    )
    await record_audit(
        session,
        principal,
        verb="import",
        kind=kind,
        name=name,
        project=project,
        outcome="overridden",
        details={
            "commit": conflict.commit,
            "source": source,
            "overriddenBy": conflict.to_json()["overriddenBy"],
        },
    )
