"""A follower's state repo follows the leader's: one history on every replica.

Every replica but the leader runs `Follower`. Woken when the leader says the
cluster's `main` moved (the `MAIN` notification), and every few seconds in
case a notification was missed, it compares this replica's `main` with the
cluster's (the meta row `main_commit`) and, when they differ, fetches the
leader's branches and notes (`staterepo.replication`) and moves `main` there.
A replica sharing the leader's state dir finds the commit there already. A
replica that joined with an empty state dir takes the cluster's repo identity
first. So a follower that becomes leader starts from the cluster's `main`, and
`gitops status` on any replica says where it stands.

A follower that cannot follow (its repo belongs to another database, the leader
out of reach for longer than a lease) says so in its log and in `/readyz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from mcpctl.errors import BackendUnavailable
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.leadership import Leadership
from mcpctl.reconciler.supervisor import Backoff, LoopSpec, PermanentError, TemporaryError
from mcpctl.staterepo.replication import adopt_refs, align_main, fetch_from_replica, set_identity
from mcpctl.store.changes import MAIN_COMMIT, REPLICATION_SECRET, REPO_ID, get_meta

log = logging.getLogger(__name__)

#: A follower looks at the cluster's main at least this often (seconds), notified or not.
POLL = 5.0
#: ... and at most this often: the leader's commits, however many, are fetched together
#: (each fetch costs the leader an upload-pack; a follower's copy may lag this much).
COALESCE = 0.5

__all__ = ["POLL", "Follower"]


class Follower:
    """The loop that keeps a follower's `main` at the cluster's."""

    def __init__(self, leadership: Leadership, replica: GitReplica) -> None:
        self.leadership = leadership
        self.replica = replica
        self.spec = LoopSpec(
            "follower", "following the leader's state repo", log, retry=Backoff(1.0, 2.0, 30.0)
        )
        self._wake = asyncio.Event()
        #: Why this replica cannot follow (None: it follows, or leads).
        self.unable: str | None = None
        self._failing_since: float | None = None
        self.last_followed: datetime | None = None
        #: Gets the cluster's sealing key from the leader if this replica lacks it (wiring).
        self.obtain_key: Callable[[], Awaitable[None]] | None = None

    def main_moved(self, _payload: str = "") -> None:
        """The MAIN notification: the leader moved the cluster's main."""
        self._wake.set()

    async def due(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL)
        await asyncio.sleep(COALESCE)  # the commits that follow come with this fetch
        self._wake.clear()

    async def round(self) -> None:
        if self.leadership.in_office():
            self._followed()
            return
        try:
            await self._follow()
            if self.obtain_key is not None:
                await self.obtain_key()
        except PermanentError as e:
            self.unable = str(e)
            raise
        except BackendUnavailable as e:
            now = time.monotonic()
            self._failing_since = self._failing_since or now
            seconds = self.leadership.seconds or 0.0
            if now - self._failing_since > 2 * seconds:
                self.unable = f"cannot follow the leader: {e}"
            raise TemporaryError(str(e)) from None
        self._followed()

    def _followed(self) -> None:
        self.unable = None
        self._failing_since = None
        self.last_followed = datetime.now(UTC)

    async def _follow(self) -> None:
        async with self.replica.sessions() as session:
            cluster = await get_meta(session, MAIN_COMMIT)
            identity = await get_meta(session, REPO_ID)
            secret = await get_meta(session, REPLICATION_SECRET)
        repo = self.replica.repo
        if identity is None:
            return  # no leader has started yet
        async with self.replica.lock:
            if self.leadership.in_office():
                return  # elected meanwhile: the takeover aligns main
            mine = await asyncio.to_thread(repo.identity)
            if mine != identity:
                if await asyncio.to_thread(repo.holds_objects):
                    raise PermanentError(
                        f"this replica's state repo ({repo.repo.path}) is another database's "
                        f"(id {mine}, the cluster's is {identity}): give it an empty state dir"
                    )
                await asyncio.to_thread(set_identity, repo, identity)
                log.info("joined the cluster's state repo %s", identity)
        if cluster is None:
            return
        head = await asyncio.to_thread(repo.head)
        if head is not None and str(head.id) == cluster:
            return
        url = self.leadership.leader_url()
        if url is None:
            await self.leadership.refresh()
            url = self.leadership.leader_url()
        if url is not None and secret is not None and not self.replica.holds(cluster):
            # outside the lock, and never longer than two leases: a leader paused in the
            # middle of it must not keep this replica from taking over
            timeout = max(2 * (self.leadership.seconds or 0.0), 10.0)
            await asyncio.to_thread(fetch_from_replica, repo, url, secret, timeout=timeout)
        if not self.replica.holds(cluster):
            raise BackendUnavailable(
                f"the cluster's main {cluster[:12]} is not here yet (leader {url or 'unknown'})"
            )
        async with self.replica.lock:
            if self.leadership.in_office():
                return
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            await asyncio.to_thread(align_main, repo, cluster, f"{stamp}-follower", fenced=False)
            await asyncio.to_thread(adopt_refs, repo)

    def to_json(self) -> dict[str, Any]:
        return {
            "able": self.unable is None,
            "problem": self.unable,
            "lastFollowed": self.last_followed.isoformat() if self.last_followed else None,
        }
