"""The compiled policy and credential lookups, cached per database, dropped on change.

Authorizing a request needs what every Rbac and Group grants, and
authenticating it a session or token row (and for a token its object and
the tokens it was minted through). Both are kept here, so that a request
that hits the cache costs no query at all.

Invalidation: every write that changes who may do what (an access object,
a session logged out or revoked, a token revoked) moves the database's
`ACCESS_EPOCH` in its own transaction (`bump`). The cache of this process is
dropped as soon as such a write of this process commits; a change made by
another process (another replica, `mcpd admin-reset`) is seen at the next
look at the epoch, at most `POLL` seconds later. Results are kept with the
epoch read before them, so a load racing a write is dropped, never kept.
Unknown credentials are never cached (a token minted a moment ago must work).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mcpctl.access.rbac import Grant, Permissions
from mcpctl.schemas import Group, Rbac
from mcpctl.store import Session, Sessions
from mcpctl.store.changes import ACCESS_EPOCH, get_meta, put_meta
from mcpctl.store.notifications import ACCESS, notify
from mcpctl.store.objects import objects_of_kinds
from mcpctl.store.rows import row_resource
from mcpctl.store.writes import on_commit, shared

if TYPE_CHECKING:
    from mcpctl.access.policy import Principal

#: How stale this process may be to another process's change, in seconds.
POLL = 1.0
#: Credentials kept at most (the cache starts over past it).
MAX_CREDENTIALS = 10_000


@dataclass
class Compiled:
    """What every Rbac grants, by subject, and the Groups of every user."""

    bound: dict[tuple[str, str], frozenset[Grant]]
    groups_of: dict[str, tuple[str, ...]]
    _memo: dict[tuple[str, str], Permissions] = field(default_factory=dict)

    def grants(self, kind: str, name: str) -> Permissions:
        """What the Rbacs grant one subject (a User with its Groups, an SA, a token)."""
        key = (kind, name)
        found = self._memo.get(key)
        if found is None:
            grants = set(self.bound.get(key, ()))
            if kind == "User":
                for group in self.groups_of.get(name, ()):
                    grants.update(self.bound.get(("Group", group), ()))
            found = self._memo[key] = Permissions(frozenset(grants))
        return found

    @classmethod
    def of(cls, rbacs: list[Rbac], groups: list[Group]) -> Compiled:
        bound: dict[tuple[str, str], set[Grant]] = {}
        for rbac in rbacs:
            grants = {Grant.of(b) for b in rbac.spec.bindings}
            for subject in rbac.spec.subjects:
                bound.setdefault((subject.kind, subject.name), set()).update(grants)
        groups_of: dict[str, list[str]] = {}
        for group in groups:
            for member in group.spec.members:
                groups_of.setdefault(member, []).append(group.name)
        return cls(
            {k: frozenset(v) for k, v in bound.items()},
            {k: tuple(v) for k, v in groups_of.items()},
        )


@dataclass
class AccessCache:
    """One database's cache (see the module doc)."""

    epoch: str | None = None
    checked: float = float("-inf")
    dirty: bool = True
    compiled: Compiled | None = None
    #: credential hash -> (who presents it, when it stops working at the latest)
    credentials: dict[str, tuple[Principal, datetime | None]] = field(default_factory=dict)

    def changed(self) -> None:
        """A write of this process changed access: look at the epoch before the next use."""
        self.dirty = True

    def due(self) -> bool:
        """Whether the epoch must be looked at before the cache is used."""
        return self.dirty or self.epoch is None or time.monotonic() - self.checked >= POLL

    async def fresh(self, session: Session) -> str:
        """Drop what is cached if the epoch moved (looked at when due); the epoch."""
        if self.due():
            self.dirty = False
            self.checked = time.monotonic()
            epoch = await get_meta(session, ACCESS_EPOCH) or ""
            if epoch != self.epoch:
                self.compiled = None
                self.credentials.clear()
                self.epoch = epoch
        assert self.epoch is not None
        return self.epoch

    def remember(
        self, epoch: str, digest: str, principal: Principal, ends: datetime | None
    ) -> None:
        """Keep a credential that authenticated, if nothing changed since `epoch`."""
        if epoch != self.epoch or self.dirty:
            return
        if len(self.credentials) >= MAX_CREDENTIALS:
            self.credentials.clear()
        self.credentials[digest] = (principal, ends)


def cache_of(session: Session | Sessions) -> AccessCache:
    """The cache of the database `session` (or the factory of sessions) works on."""
    slot = shared(session)
    cache = slot.get("access")
    if cache is None:
        cache = slot["access"] = AccessCache()
    assert isinstance(cache, AccessCache)
    return cache


async def compiled(session: Session) -> Compiled:
    """The compiled Rbacs and Groups of the database `session` works on."""
    cache = cache_of(session)
    epoch = await cache.fresh(session)
    if cache.compiled is not None:
        return cache.compiled
    rbacs: list[Rbac] = []
    groups: list[Group] = []
    for row in await objects_of_kinds(session, ("Rbac", "Group")):
        resource = row_resource(row)
        if isinstance(resource, Rbac):
            rbacs.append(resource)
        elif isinstance(resource, Group):
            groups.append(resource)
    made = Compiled.of(rbacs, groups)
    if epoch == cache.epoch and not cache.dirty:
        cache.compiled = made
    return made


async def bump(session: Session) -> None:
    """Record, in the caller's transaction, that who may do what changes."""
    await put_meta(session, ACCESS_EPOCH, uuid.uuid4().hex)
    await notify(session, ACCESS)  # the other replicas' caches, at once
    on_commit(session, cache_of(session).changed)
