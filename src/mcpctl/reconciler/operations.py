"""The GitOps operations a caller asks for: status, verify, timelines, restore, sync.

The loops (`exporting`, `restoring`, `mirroring`) run for mcpd itself; a
person reaches them through these operations, which check the caller's RBAC
first (`run sync` to look at or sync the state repo, `run restore` to
restore, `view` of every kind it holds to fetch it) and then ask the loop.
The API's gitops routes (`api/gitops.py`) and the git endpoint
(`api/githttp.py`) call them: authorization is never the handler's. A push is
authorized object by object by the import itself (`importing`). A sync meeting
contention is retried a bounded number of times; the status counts those
retries, and the loops' (from the `Supervisor`).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from mcpctl.access import Principal
from mcpctl.access.policy import SYSTEM, policy_of, require, require_run
from mcpctl.errors import Conflict
from mcpctl.kindnames import KIND_NAMES
from mcpctl.objects.events import list_events
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.following import Follower
from mcpctl.reconciler.leadership import Leadership
from mcpctl.reconciler.mirroring import GitMirror, SyncReport
from mcpctl.reconciler.restoring import Restorer, RestoreReport
from mcpctl.reconciler.supervisor import Supervisor, retry_contended
from mcpctl.store import Sessions
from mcpctl.store.changes import REPLICATION_SECRET, get_meta, put_meta

log = logging.getLogger(__name__)

#: The plurals of the kinds the state repo holds (a fetch needs `view` on each).
GIT_PLURALS = tuple(kind.PLURAL for kind in KIND_NAMES if kind.IN_GIT)


#: How the cluster's replication secret starts (`ensure_replication_secret`).
REPLICATION_PREFIX = "mcpctl_rep_"


async def ensure_replication_secret(sessions: Sessions) -> None:
    """Make the secret replicas present to each other, once per database (the leader)."""
    async with sessions() as session, session.begin():
        if await get_meta(session, REPLICATION_SECRET) is None:
            value = REPLICATION_PREFIX + secrets.token_urlsafe(32)
            await put_meta(session, REPLICATION_SECRET, value)


async def replica_principal(sessions: Sessions, raw: str) -> Principal | None:
    """mcpd itself, for another replica presenting the replication secret (None: not it)."""
    async with sessions() as session:
        secret = await get_meta(session, REPLICATION_SECRET)
    if secret is None or not hmac.compare_digest(secret.encode(), raw.encode()):
        return None
    return SYSTEM


async def authorize_fetch(sessions: Sessions, principal: Principal) -> None:
    """Refuse (`Forbidden`) a caller who may not read the whole state repo: a clone or
    fetch shows every kind it holds, so it needs `view` on each of them."""
    async with sessions() as session:
        policy = await policy_of(session, principal)
    for plural in GIT_PLURALS:
        require(policy, "view", plural)


#: How many of the latest conflicts the status shows.
STATUS_CONFLICTS = 20
#: The requests that move `main`, whose retries after contention the status counts.
CONTENDED_REQUESTS = ("push", "restore", "sync")


@dataclass
class GitOperations:
    """The state repo's operations for callers, each authorized before it acts."""

    sessions: Sessions
    replica: GitReplica
    restorer: Restorer
    mirror: GitMirror | None = None
    #: The mirror's deploy key, shown by the status (to add on the remote).
    public_key: str | None = None
    #: The supervisor of the loops: the status shows how often each met contention.
    supervisor: Supervisor | None = None
    #: This replica's side of the lease, and its following of the leader's repo.
    leadership: Leadership | None = None
    follower: Follower | None = None

    async def _require_run(self, principal: Principal, action: str) -> None:
        async with self.sessions() as session:
            require_run(await policy_of(session, principal), action)

    async def _members(self) -> list[dict[str, Any]]:
        """The replicas seen alive lately (`store.replicas`), with their role."""
        assert self.leadership is not None
        lease = self.leadership.lease
        leader = lease.holder if lease is not None and lease.held else None
        return [
            {
                "name": p.name,
                "url": p.url,
                "role": "leader" if p.holder == leader else "follower",
                "seenSecondsAgo": round(p.seen_ago, 3),
            }
            for p in await self.leadership.peers()
        ]

    async def status(self, principal: Principal) -> dict[str, Any]:
        """Where the export and the mirror are, and the latest conflicts the database won."""
        await self._require_run(principal, "sync")
        answer = (await self.replica.status()).to_json()
        answer["publicKey"] = self.public_key
        if self.leadership is not None:
            answer.update(self.leadership.to_json())
            answer["replicas"] = await self._members()
        answer["following"] = self.follower.to_json() if self.follower is not None else None
        answer["remote"] = self.mirror.status() if self.mirror is not None else None
        async with self.sessions() as session:
            conflicts = await list_events(session, reason="GitConflict", limit=STATUS_CONFLICTS)
        answer["conflicts"] = [
            {
                "object": c["spec"]["involvedObject"],
                "message": c["spec"]["message"],
                "time": c["spec"]["lastTimestamp"],
            }
            for c in conflicts
        ]
        answer["contention"] = self.contention()
        return answer

    def contention(self) -> dict[str, dict[str, int]]:
        """How often the loops (rounds, starts, stops) and the requests that move `main`
        met contention and retried, since mcpd started."""
        loops = self.supervisor.report() if self.supervisor is not None else []
        return {
            "loops": {r.name: r.contention for r in loops},
            "requests": {what: self.replica.contention[what] for what in CONTENDED_REQUESTS},
        }

    async def verify(self, principal: Principal) -> tuple[list[str], str]:
        """The files where `main` and the database's export differ, and their diff."""
        await self._require_run(principal, "sync")
        return await self.replica.verify()

    async def timelines(self, principal: Principal) -> list[dict[str, Any]]:
        """The timeline branches that restores saved, newest first."""
        await self._require_run(principal, "sync")
        return await self.restorer.timelines()

    async def restore(self, principal: Principal, rev: str, reason: str = "") -> RestoreReport:
        """The database and `main` back to `rev`, the abandoned head kept on a timeline."""
        await self._require_run(principal, "restore")
        return await self.restorer.restore(principal, rev, reason)

    async def sync(self, principal: Principal) -> SyncReport:
        """One sync with the mirrored remote now (409 when mcpd mirrors none)."""
        await self._require_run(principal, "sync")
        mirror = self.mirror
        if mirror is None:
            raise Conflict("no remote to sync with: start mcpd with --git-remote URL")
        # a sync is safe to run again: what it imported already is unchanged the next time
        return await retry_contended(
            "sync",
            log,
            lambda: mirror.sync(principal),
            counted=lambda: self.replica.contention.update(("sync",)),
        )
