"""Restore and disaster recovery: the database back to what a commit of the state repo holds.

`restore` (RBAC operation `restore`, checked by the caller, and every object
written as the actor, as a push: the write guards keep a restore from bringing
back a permission the actor lacks or locking everyone out): with the
replica's lock held and `main` caught up with the database, it first keeps
the abandoned head as a timeline branch, then replaces the exported objects
with those at the target in one transaction (runtime objects untouched; a
refused restore takes the branch back), and writes a forward commit on
`main` whose tree equals the target's. Restoring to where `main` already is
changes nothing, so a repeated restore is harmless. Each step that writes the
state repo is retried when another writer holds it (`errors.Contention`,
counted as `restore`).

`recover` runs at start when the database is empty and the state repo is not:
every object at `main` is written, secret values opened with the sealing key.
Without the key it refuses, naming each value it cannot open, unless told to
leave those values out (their keys stay, empty, so what refers to them resolves).

The API calls `restore` and `timelines`; `mcpd` calls `recover` at start,
before the exporter's catch-up (`daemon.wiring.recover`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from mcpctl.access.policy import SYSTEM, Principal, policy_of, require_run
from mcpctl.errors import (
    BackendUnavailable,
    Conflict,
    Contention,
    Forbidden,
    InvalidManifest,
    McpctlError,
)
from mcpctl.faults import fault
from mcpctl.kindnames import GIT_KIND_NAMES
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.importing import GitImporter
from mcpctl.reconciler.supervisor import retry_contended
from mcpctl.staterepo import CHANGE_TRAILER, Author, StateRepo
from mcpctl.staterepo.timelines import (
    commit_tree,
    list_timelines,
    resolve,
    save_timeline,
    undo_timeline,
)
from mcpctl.store import Session
from mcpctl.store.changes import (
    EXPORTED,
    REPO_ID,
    get_meta,
    last_change,
)
from mcpctl.store.objects import count_objects
from mcpctl.store.rows import rows_by_key

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class RestoreReport:
    target: str
    head: str | None
    timeline: str | None = None
    changed: bool = False
    summary: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "head": self.head,
            "timeline": self.timeline,
            "changed": self.changed,
            "summary": self.summary,
        }


class Restorer:
    def __init__(self, importer: GitImporter, replica: GitReplica) -> None:
        self.importer = importer
        self.replica = replica

    @property
    def repo(self) -> StateRepo:
        return self.replica.repo

    async def restore(self, principal: Principal, rev: str, reason: str = "") -> RestoreReport:
        """Bring the database and `main` to the objects at `rev` (see the module doc)."""
        async with self.replica.lock:
            await self._retrying(self.replica.catch_up_locked)
            target = await asyncio.to_thread(resolve, self.repo, rev)
            head = await asyncio.to_thread(self.repo.head)
            report = RestoreReport(str(target.id), str(head.id) if head is not None else None)
            if head is not None and head.tree_id == target.tree_id:
                return report  # already there: nothing to save, nothing to write
            # the abandoned head is saved first: a restore cut short anywhere keeps it
            now = datetime.now(UTC)
            why = f" because: {reason.strip()}" if reason.strip() else ""
            note = (
                f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')} {principal.actor} restored main to "
                f"{str(target.id)[:12]} ({rev}){why}"
            )
            saved = await self._retrying(
                lambda: asyncio.to_thread(save_timeline, self.repo, note, now)
            )
            fault("restore.after-timeline")
            try:
                # every object as the actor, as a push: a restore brings back only what
                # they may write, and no permission they lack (access.guard)
                imported = await self.importer.import_commit(
                    principal,
                    self.repo.repo,
                    head,
                    target,
                    source="restore",
                    verb="restore",
                    conflicts=False,
                    allow_readme=True,
                    before_commit=functools.partial(_keeps_restoring, principal, rev),
                )
            except McpctlError:
                # refused before writing (invalid manifests, RBAC): nothing happened, so the
                # branch goes; any other failure keeps it, the database may have changed
                if saved is not None:
                    undo = functools.partial(undo_timeline, self.repo, saved)
                    await self._retrying(lambda: asyncio.to_thread(undo))
                raise
            fault("restore.after-db")
            report.timeline = saved.name if saved is not None else None
            async with self.importer.objects.sessions() as session:
                last = await last_change(session)
            message = (
                f"Restore main to {str(target.id)[:12]} ({rev})\n\n"
                + (f"Reason: {reason.strip()}\n" if reason.strip() else "")
                + (f"The abandoned head is kept on timelines/{report.timeline}\n")
                + f"\n{CHANGE_TRAILER}: {last}\n"
            )
            author = Author.of(principal.actor)
            try:
                # each try builds on where main is then: a contention retried commits on top
                await self._retrying(
                    lambda: asyncio.to_thread(
                        commit_tree, self.repo, target.tree_id, author, message
                    )
                )
                await self._retrying(self.replica.catch_up_locked)
            except Contention as e:
                kept = f"; the abandoned head is on timelines/{report.timeline}"
                raise Contention(
                    f"the database is restored to {rev} ({str(target.id)[:12]}), but main "
                    f"could not follow: {e}. mcpd commits it on main once the state repo is "
                    f"free{kept if report.timeline else ''}"
                ) from e
            report.changed = True
            report.summary = {
                k: v for k, v in imported.changes.to_json()["summary"].items() if k != "unchanged"
            }
            log.info("%s restored main to %s (%s)", principal.actor, str(target.id)[:12], rev)
            self.replica.notify()  # the cluster's main moved: published by the exporter
            return report

    async def _retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        """A step of a restore that writes the state repo, retried when it meets contention:
        each step is safe to run again (the exports are functions of the database, the
        timeline is found again by its head, the commit is built on main as it is then)."""
        return await retry_contended(
            "restore",
            log,
            step,
            counted=lambda: self.replica.contention.update(("restore",)),
        )

    async def timelines(self) -> list[dict[str, Any]]:
        items = await asyncio.to_thread(list_timelines, self.repo)
        return [t.to_json() for t in items]

    async def needs_recovery(self) -> bool:
        """An empty database (never exported) next to a state repo holding objects."""
        async with self.importer.objects.sessions() as session:
            if await get_meta(session, EXPORTED) is not None:
                return False
            follows = await get_meta(session, REPO_ID)
            stored = await count_objects(session, GIT_KIND_NAMES)
        repo_id = await asyncio.to_thread(self.repo.identity)
        if stored and follows is not None and follows == repo_id:
            return False  # recovered, cut short before its export: the replica's start does it
        holds: bool = await asyncio.to_thread(self.repo.holds_objects)
        if holds and stored:
            raise BackendUnavailable(
                "the state repo holds objects but this database, which holds objects too, "
                "has never been exported to it: start with the database it belongs to, "
                "or move the repo away"
            )
        return holds

    async def recover(self, *, skip_unopenable: bool = False) -> RestoreReport | None:
        """Disaster recovery: an empty database gets every object at `main` (None: not needed)."""
        if not await self.needs_recovery():
            return None
        # the database follows this repo from now on: recorded before its first export, or
        # the replica's start would take the recovered database for another repo's
        await self.replica.guard_fresh_database()
        async with self.replica.lock:
            head = await asyncio.to_thread(self.repo.head)
            assert head is not None
            log.warning(
                "the database is empty and the state repo is not: restoring every object "
                "at main %s (disaster recovery)",
                str(head.id)[:12],
            )
            try:
                imported = await self.importer.import_commit(
                    SYSTEM,
                    self.repo.repo,
                    None,
                    head,
                    source="recover",
                    verb="restore",
                    conflicts=False,
                    allow_readme=True,
                    skip_unopenable=skip_unopenable,
                )
            except InvalidManifest as e:
                sealed = [i for i in e.issues if i.code == "sealed-value"]
                if sealed:
                    names = "; ".join(i.message for i in sealed)
                    raise BackendUnavailable(
                        f"disaster recovery needs the sealing key: {names}. Restore the key "
                        "(sealing.key in the state dir or MCPCTL_SEALING_KEY), or start with "
                        "--skip-unopenable-secrets to restore those Secrets without the values"
                    ) from None
                raise
            for value in imported.skipped:
                log.warning(
                    "disaster recovery left out %s: it cannot be opened (the key is kept, "
                    "empty: set its value again)",
                    value,
                )
            # not exported here: the replica's start does it, sealing with the key mcpd goes
            # on with (a new one when the values of the old one were left out)
            report = RestoreReport(str(head.id), str(head.id), changed=True)
            report.summary = {
                k: v for k, v in imported.changes.to_json()["summary"].items() if k != "unchanged"
            }
            log.warning(
                "disaster recovery done: %s object(s) restored from main %s",
                report.summary.get("add", 0),
                str(head.id)[:12],
            )
            return report


async def _keeps_restoring(principal: Principal, rev: str, session: Session) -> None:
    """Refuse a restore that would leave its actor unable to restore (and so to undo it):
    their User gone, or no `run restore` left in the Rbacs and Groups at the target."""
    if principal.kind == "System":
        return
    lost = ""
    if principal.kind == "User" and not await rows_by_key(
        session, [("User", None, principal.name)]
    ):
        lost = f"User {principal.name!r} is not at {rev}"
    if not lost:
        try:
            require_run(await policy_of(session, principal), "restore")
        except Forbidden:
            lost = f"the Rbacs and Groups at {rev} do not grant {principal.actor} run restore"
    if lost:
        raise Conflict(
            f"restoring {rev} would lock {principal.actor} out ({lost}), so it could not be "
            "undone: nothing was changed. Choose a revision that keeps that access, or "
            "restore as someone it keeps"
        )
