"""Leader election: one mcpd replica runs the loops that must run once; all serve the API.

Several mcpd replicas may share one PostgreSQL database. The loops that must run
once (the exporter, the git endpoint's imports, the mirror, restores, and the
coming runtime reconciler and probes) run on the replica holding the lease
(`store.leases`), under a supervisor of their own that starts when this
replica is elected and stops when it is deposed or stops. Every effect they
have checks the lease's term, the fencing token: in the database through
`Leadership.fence` (inside the transaction of the effect), and before moving a
ref or pushing through `Leadership.check` (this replica's own deadline, which
ends before the lease does in the database's clock). A leader paused past its
lease wakes up deposed and changes nothing.

On SQLite there is one replica by nature (the database file is locked by its
mcpd): it leads always, and nothing is fenced.

`Election` is the loop that campaigns: it renews the lease a few times per
lease period, and on a follower it tries to take it over about every second,
or at once when the leader lets it go (the `LEASE` notification). On election
it runs `lead` (the daemon's start of the leader's parts); on losing the
lease, or on stop, it stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import urllib.parse
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from mcpctl.errors import BackendUnavailable, Deposed
from mcpctl.reconciler.supervisor import Backoff, LoopSpec, Supervisor, TemporaryError
from mcpctl.store import Session, Sessions
from mcpctl.store.leases import Lease, campaign, fence, read_lease, release
from mcpctl.store.notifications import LEASE, Listener, notify
from mcpctl.store.replicas import Peer, heartbeat, peers

log = logging.getLogger(__name__)

#: The lease's default length in seconds: a follower takes over at most this long after
#: the leader died (plus a second), and a leader renews it every quarter of it.
LEASE_SECONDS = 6.0
#: The part of the lease this replica's own deadline leaves out, against clock drift and
#: the time a renewal takes to reach the database.
MARGIN = 0.25

__all__ = ["LEASE_SECONDS", "Election", "Leadership", "Listening"]


class Leadership:
    """This replica's side of the lease: whether it leads, in which term, and who does."""

    def __init__(
        self, sessions: Sessions, name: str, url: str, *, seconds: float | None = LEASE_SECONDS
    ) -> None:
        #: None: SQLite, one replica, which always leads.
        self.seconds = seconds
        self.sessions = sessions
        self.name = name
        self.url = url
        #: The holder's name in the lease: the replica and this process's incarnation, so
        #: that a restarted replica is a new holder (its old term ended with its process).
        self.holder = f"{name}#{uuid.uuid4().hex[:8]}"
        self.term: int | None = 0 if seconds is None else None
        self._deadline = 0.0
        #: The lease as last read (None: not read yet, or SQLite).
        self.lease: Lease | None = None
        self._read_at = 0.0
        #: Where the last other holder served (a leader taking over fetches from it).
        self.previous_url: str | None = None

    @property
    def single(self) -> bool:
        return self.seconds is None

    def leads(self) -> bool:
        """Whether this replica leads now (by its own clock, which ends its term early)."""
        return self.single or (self.term is not None and time.monotonic() < self._deadline)

    def in_office(self) -> bool:
        """Whether this replica took or renewed the lease at its last campaign (it may have
        lapsed since by its own clock, on a busy machine: its effects are refused then, but
        it answers what only the leader answers rather than sending it elsewhere)."""
        return self.single or self.term is not None

    def check(self) -> None:
        """Refuse (`Deposed`) unless this replica leads: before an effect outside the
        database (a ref moved, a push to the mirror)."""
        if not self.leads():
            raise Deposed(f"this replica ({self.name}) does not lead")

    async def fence(self, session: Session) -> None:
        """Refuse (`Deposed`) unless this replica leads in its term, and hold the term
        until the transaction of `session` ends: inside the transaction of an effect."""
        if self.single:
            return
        self.check()
        assert self.term is not None
        assert self.seconds is not None
        await fence(session, self.holder, self.term, idle_seconds=self.seconds)

    async def campaign(self, *, preempt: str | None = None) -> bool:
        """One round: renew the lease, or take it over if it ended (or if `preempt`, an
        earlier process of this replica that is gone, holds it). Whether this replica
        leads afterwards. The round also says this replica is alive (`store.replicas`)."""
        if self.single:
            return True
        assert self.seconds is not None
        started = time.monotonic()
        async with self.sessions() as session, session.begin():
            await heartbeat(session, self.name, self.holder, self.url)
            lease = await campaign(session, self.holder, self.url, self.seconds, preempt=preempt)
            if lease.holder == self.holder and lease.term != self.term:
                await notify(session, LEASE, str(lease.term))
        self._seen(lease)
        if lease.held_by(self.holder):
            # the lease ends `seconds` after the database's now, which came after `started`
            self.term = lease.term
            self._deadline = started + self.seconds * (1 - MARGIN)
            return True
        self.term = None
        return False

    def _seen(self, lease: Lease) -> None:
        previous = self.lease
        if previous is not None and previous.holder and previous.holder != self.holder:
            self.previous_url = previous.url or self.previous_url
        if lease.holder and lease.holder != self.holder:
            self.previous_url = lease.url or self.previous_url
        self.lease = lease
        self._read_at = time.monotonic()

    async def attend(self) -> None:
        """Say this replica is alive without campaigning (one that may not lead)."""
        if self.single:
            return
        async with self.sessions() as session, session.begin():
            await heartbeat(session, self.name, self.holder, self.url)

    async def peers(self) -> list[Peer]:
        """The replicas seen alive within two leases (this one among them), the most
        recently seen first."""
        if self.single:
            return []
        assert self.seconds is not None
        async with self.sessions() as session:
            return await peers(session, within=2 * self.seconds)

    async def gone_predecessor(self) -> str | None:
        """The lease's holder if it is an earlier process of this replica (same name) and
        nothing listens where it served: this process restarts it (after a crash), and
        takes its lease at once instead of waiting for the lease to end. A process that is
        alive, even paused, keeps its listening socket: connecting to it succeeds."""
        lease = await self.refresh()
        if (
            lease is None
            or not lease.held
            or lease.replica != self.name
            or lease.holder == self.holder
            or not await _refuses(lease.url)
        ):
            return None
        return lease.holder

    async def refresh(self) -> Lease | None:
        """Read the lease again (who leads, where), for a follower that needs to know."""
        if self.single:
            return None
        async with self.sessions() as session:
            lease = await read_lease(session)
        if lease is not None:
            self._seen(lease)
        return lease

    async def release(self) -> None:
        """Let the lease go at once (a leader stopping): a follower takes over now."""
        if self.single or self.term is None:
            return
        term, self.term = self.term, None
        async with self.sessions() as session, session.begin():
            await release(session, self.holder, term)
            await notify(session, LEASE, "")

    def leader_url(self) -> str | None:
        """Where the leader serves (None: this replica leads, or no one does)."""
        if self.in_office() or self.lease is None or not self.lease.holder:
            return None
        if self.lease.expires_at - self.lease.now <= time.monotonic() - self._read_at:
            return None  # ended by now, as far as this replica knows
        return self.lease.url or None

    def to_json(self) -> dict[str, Any]:
        """This replica and the leader, for `gitops status`."""
        role = "single" if self.single else ("leader" if self.in_office() else "follower")
        answer: dict[str, Any] = {
            "replica": {"name": self.name, "url": self.url, "role": role},
            "leader": None,
        }
        lease = self.lease
        if self.single:
            answer["leader"] = {"name": self.name, "url": self.url, "term": None}
        elif lease is not None and lease.holder:
            since = time.monotonic() - self._read_at
            answer["leader"] = {
                "name": lease.replica,
                "url": lease.url,
                "term": lease.term,
                "leaseAgeSeconds": round(lease.now - lease.renewed_at + since, 3),
                "leaseRemainingSeconds": round(max(0.0, lease.remaining - since), 3),
                "heldSeconds": round(lease.now - lease.acquired_at + since, 3),
            }
        return answer


class Election:
    """The loop that campaigns for the lease and runs the leader's parts while it leads.

    The leader's parts start in a task of their own (a takeover's catch-up or a
    recovery may take longer than the lease), while the rounds go on renewing it.
    """

    def __init__(
        self,
        leadership: Leadership,
        lead: Callable[[Supervisor], Coroutine[Any, Any, None]],
    ) -> None:
        self.leadership = leadership
        self._lead = lead
        #: Whether this replica may lead now (None: always); asked before each campaign
        #: that could take the lease (one lacking the cluster's sealing key may not).
        self.eligible: Callable[[], Coroutine[Any, Any, bool]] | None = None
        self._parts: Supervisor | None = None
        self._said_ineligible = False
        self._starting: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.spec = LoopSpec(
            "leader-election", "campaigning for the lease", log, retry=Backoff(1.0, 2.0, 5.0)
        )

    @property
    def parts(self) -> Supervisor | None:
        """The supervisor of the leader's parts (None: this replica does not lead)."""
        return self._parts

    @property
    def ready(self) -> bool:
        """This replica leads with its parts started, or follows."""
        return self._parts is None or (self._starting is None and self.leadership.leads())

    def lease_moved(self, _payload: str = "") -> None:
        """The LEASE notification: the leader let the lease go (campaign now)."""
        self._wake.set()

    async def start(self) -> None:
        """A first campaign, so that the role is known before the API serves; if elected,
        the leader's parts start before this returns (a recovery and the first start's
        bootstrap with them), the lease renewed meanwhile. A failure of that start is
        raised: mcpd does not serve without its leader's parts."""
        gone = await self.leadership.gone_predecessor()
        if gone is not None:
            log.info(
                "the lease is held by this replica's previous process (%s), which serves no "
                "more: taking it over now",
                gone,
            )
        await self._campaign(preempt=gone)
        while self._starting is not None:
            await self._until_due(wait_for_start=True)
            if self._starting is not None and not self._starting.done():
                await self._campaign()
            await self._started()

    async def stop(self) -> None:
        """Stop the leader's parts (their stop exports what is left), then let the lease go."""
        try:
            await self._step_down(deposed=False)
        finally:
            try:
                await self.leadership.release()
            except Exception as e:  # stopping anyway: the lease ends by itself
                log.warning("could not let the lease go (it ends by itself): %s", e)

    async def due(self) -> None:
        await self._until_due(wait_for_start=self._starting is not None)

    async def _until_due(self, *, wait_for_start: bool) -> None:
        seconds = self.leadership.seconds
        if seconds is None and not wait_for_start:
            await asyncio.Event().wait()  # one replica: leads until it stops
            return
        period = (
            (seconds or LEASE_SECONDS) / 3
            if self._parts is not None
            else min(1.0, (seconds or LEASE_SECONDS) / 4)
        )
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if wait_for_start and self._starting is not None:
            waits.add(self._starting)
        try:
            await asyncio.wait(waits, timeout=period, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                if waiting is not self._starting:
                    waiting.cancel()
        self._wake.clear()

    async def round(self) -> None:
        await self._campaign()
        await self._started()

    async def _campaign(self, *, preempt: str | None = None) -> None:
        leadership = self.leadership
        if self._parts is None and self.eligible is not None and not await self.eligible():
            await leadership.attend()
            lease = await leadership.refresh()  # follows, and knows who leads
            if not self._said_ineligible and not (lease is not None and lease.held):
                self._said_ineligible = True
                log.warning(
                    "no replica leads, and this one (%s) may not: it does not hold the "
                    "sealing key the others seal with (set MCPCTL_SEALING_KEY to it, or copy "
                    "sealing.key from another replica's state dir)",
                    leadership.name,
                )
            return
        try:
            leads = await leadership.campaign(preempt=preempt)
        except BackendUnavailable:
            if self._parts is not None and not leadership.leads():
                await self._step_down(deposed=True)
            raise
        if leads and self._parts is None:
            log.info("this replica (%s) leads, term %s", leadership.name, leadership.term)
            parts = self._parts = Supervisor()
            self._starting = asyncio.create_task(self._lead(parts), name="leader-start")
        elif not leads and self._parts is not None:
            await self._step_down(deposed=True)

    async def _started(self) -> None:
        """If the start of the leader's parts ended in a failure: stop them, let the lease
        go (another replica may do better) and raise it."""
        task = self._starting
        if task is None or not task.done():
            return
        self._starting = None
        failure = None if task.cancelled() else task.exception()
        if failure is None:
            log.info("the leader's loops run on this replica (%s)", self.leadership.name)
            return
        parts, self._parts = self._parts, None
        if parts is not None:
            try:
                await parts.stop()
            except Exception as e:  # the start's own failure is the one worth raising
                log.warning("stopping the leader's parts after a failed start: %s", e)
        if not self.leadership.single:
            await self.leadership.release()
        raise failure

    async def _step_down(self, *, deposed: bool) -> None:
        parts, self._parts = self._parts, None
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
        if starting is not None:
            with contextlib.suppress(BaseException):
                await starting
        if parts is None:
            return
        if deposed:
            log.warning(
                "this replica (%s) no longer leads: its leader's loops stop, another "
                "replica takes over",
                self.leadership.name,
            )
        with contextlib.suppress(Deposed):  # their last effects were refused: the new leader's
            await parts.stop()


class Listening:
    """The loop holding this replica's LISTEN connection (`store.notifications`): the
    leader's exporter wakes on other replicas' writes, followers on a moved `main` or a
    lease let go. When it (re)connects, everyone is woken, for what they missed."""

    def __init__(self, listener: Listener, reconnected: Callable[[], None]) -> None:
        self.listener = listener
        self._reconnected = reconnected
        self.spec = LoopSpec(
            "listener",
            "listening to the other replicas",
            log,
            retry=Backoff(1.0, 2.0, 10.0),
            eager=True,
        )

    async def due(self) -> None:
        return

    async def round(self) -> None:
        try:
            await self.listener.listen(self._reconnected)
        except BackendUnavailable as e:
            raise TemporaryError(str(e)) from None


async def _refuses(url: str, timeout: float = 2.0) -> bool:
    """Whether every address where `url` serves refuses a connection (nothing listens
    there): not a timeout, nor a host out of reach, which prove nothing."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        addresses = await loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(probe, address), timeout)
            except ConnectionRefusedError:
                continue
            except (OSError, TimeoutError):
                return False
            return False
    return bool(addresses)
