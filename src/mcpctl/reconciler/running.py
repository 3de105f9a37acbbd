"""The runtime reconciler: every Server ends in running, watched instances.

Level-triggered, on the leader only (a part of the leader's supervisor,
`reconciler.leadership`): each round compares what the database wants (every
Server, resolved by `reconciler.launching` into a `Wanted`) with what runs (the
instances this leader tracks, the drivers' `list()`), and acts:

- **scale** to `replicas`: new Instances are stored (Pending) before they start,
  so a leader that dies in between leaves a record, not an orphan; extra ones
  stop, the not-ready and newest first;
- **roll** a changed Server (a new revision: its spec, its Template's, a Secret it
  reads) one instance at a time: a new one starts, and once it is ready an old
  one stops (one surge instance, never fewer ready than before);
- **restart** a crashed instance after a back-off, the Kubernetes shape: `initial`
  seconds doubling to `maximum`, reset once an instance ran `reset` seconds
  (`RestartPolicy`; the tests make it short);
- **replace** an instance that failed its health check `failureThreshold` times in
  a row (`reconciler.probing`) or that a user deleted (`kubectl delete pod`);
- **stop** the instances of a deleted Server, and anything running that no Server
  wants.

Woken by every write (the write notice; the `CHANGES` notification from other
replicas), by the drivers' exits, by the probes, and every `resync` seconds.
Each Instance's status (phase, restarts, last exit, start time, node, endpoint,
ready, the last probes) and each Server's (replicas, ready, conditions) are
written in one fenced transaction per round with the round's Events; every
start and stop first asks `Leadership.check` (the fencing token outside the
database). On deposition the leader's parts stop and this loop with them: its
process instances end with it (the new leader starts its own), containers go
on and are adopted by whichever leader shares their engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import string
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mcpctl.errors import BackendUnavailable, Deposed, InvalidInput, NotFound
from mcpctl.objects.events import record_event
from mcpctl.objects.instances import (
    KIND,
    NewInstance,
    create_instances,
    delete_instance,
    list_instances,
    write_instance_statuses,
    write_server_status,
)
from mcpctl.reconciler.launching import DEFAULT_HEALTH, Fingerprint, Wanted, wanted_servers
from mcpctl.reconciler.supervisor import Backoff, LoopSpec
from mcpctl.runtime.base import Driver, Endpoint, Exit, Observed, RuntimeUnavailable, StdioPipe
from mcpctl.schemas import HealthCheck
from mcpctl.store import ObjectRow, Session, Sessions
from mcpctl.store.objects import objects_of_kinds

log = logging.getLogger(__name__)

#: The phases of an Instance, as `get instances` shows them.
PENDING = "Pending"
STARTING = "Starting"
RUNNING = "Running"
UNHEALTHY = "Unhealthy"
BACKOFF = "CrashLoopBackOff"
TERMINATING = "Terminating"
#: How many probe results an Instance's status keeps (`describe instance`).
PROBES_KEPT = 5
#: A ready instance's passing probes are written to its status at most this often
#: (seconds): any change (a failure, readiness) is written at once.
PROBES_REFRESH = 300.0
_SUFFIX = string.ascii_lowercase + string.digits

__all__ = [
    "BACKOFF",
    "PENDING",
    "RUNNING",
    "STARTING",
    "TERMINATING",
    "UNHEALTHY",
    "RestartPolicy",
    "RuntimeReconciler",
    "Tracked",
]


@dataclass(frozen=True)
class RestartPolicy:
    """When a crashed instance starts again: after `initial` seconds, doubling with each
    crash in a row up to `maximum`; an instance that ran `reset` seconds starts over."""

    initial: float = 10.0
    maximum: float = 300.0
    reset: float = 600.0

    def delay(self, crashes: int) -> float:
        """The wait before the restart that follows `crashes` crashes in a row (>= 1)."""
        return float(min(self.maximum, self.initial * (2 ** max(0, crashes - 1))))


@dataclass
class Tracked:
    """One instance as this leader keeps it (its Instance object is written from it)."""

    name: str
    server: str
    revision: str
    runtime: str
    generation: int
    node: str
    phase: str = PENDING
    restarts: int = 0
    #: crashes in a row (the back-off's exponent; 0 after `reset` seconds of running)
    crashes: int = 0
    ready: bool = False
    started_at: datetime | None = None
    #: monotonic time of the start, for the back-off's reset
    started: float | None = None
    #: monotonic time before which it does not restart
    backoff_until: float | None = None
    last_exit: dict[str, Any] | None = None
    endpoint: str | None = None
    #: how the channel reaches it over HTTP (None: stdio, through its driver)
    reach: Endpoint | None = None
    message: str = ""
    #: probes failed in a row, as counted (see `RuntimeReconciler.probed`)
    failures: int = 0
    #: monotonic time of the last failure counted
    counted: float | None = None
    #: monotonic time the probes were last marked for a write
    probes_written: float = 0.0
    probes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=PROBES_KEPT))
    #: how many times its status changed (`dirty`): a write clears what it wrote only
    changes: int = 1
    written: int = 0
    #: the Instance object is stored
    stored: bool = False

    @property
    def dirty(self) -> bool:
        """Its status changed since it was last written."""
        return self.changes != self.written

    @dirty.setter
    def dirty(self, value: bool) -> None:
        if value:
            self.changes += 1
        else:
            self.written = self.changes

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "phase": self.phase,
            "ready": self.ready,
            "restarts": self.restarts,
            "revision": self.revision,
            "generation": self.generation,
            "node": self.node,
        }
        if self.started_at is not None:
            status["startedAt"] = _stamp(self.started_at)
        if self.last_exit is not None:
            status["lastExit"] = self.last_exit
        if self.endpoint:
            status["endpoint"] = self.endpoint
        if self.message:
            status["message"] = self.message
        if self.probes:
            status["probes"] = list(self.probes)
        return status


@dataclass
class _Event:
    type: str
    reason: str
    message: str
    kind: str
    name: str


class RuntimeReconciler:
    """The loop that drives the drivers to the database (see the module's docstring)."""

    def __init__(
        self,
        sessions: Sessions,
        drivers: Mapping[str, Driver],
        *,
        node: str,
        owner: str,
        check: Callable[[], None],
        fence: Callable[[Session], Any],
        fingerprint: Fingerprint,
        policy: RestartPolicy | None = None,
        resync: float = 10.0,
        grace: float = 10.0,
    ) -> None:
        self.sessions = sessions
        self.drivers = dict(drivers)
        self.node = node
        self.owner = owner
        #: `Leadership.check` (before every start and stop) and `Leadership.fence`
        self._check = check
        self._fence = fence
        #: the keyed digest of the Secret values the Servers read (their revisions)
        self._fingerprint = fingerprint
        self.policy = policy or RestartPolicy()
        self.resync = resync
        self.grace = grace
        self.tracked: dict[str, Tracked] = {}
        self._wake = asyncio.Event()
        self._events: list[_Event] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._unavailable: dict[str, str] = {}
        self._server_status: dict[str, dict[str, Any]] = {}
        #: why each Server could not run, as its last event said
        self._blocked: dict[str, tuple[str, str]] = {}
        #: told (with a Server's name) when the set of its ready instances changed: the
        #: proxy asks a server that got its first ready instance for its lists at once
        self.readiness_listeners: list[Callable[[str], None]] = []
        self._ready_seen: dict[str, frozenset[str]] = {}
        #: every Server as the last round saw it
        self.wanted: dict[str, Wanted] = {}
        #: instances to replace (deleted by a user) and to restart (unhealthy), next round
        self._replace: set[str] = set()
        self._restart: set[str] = set()
        #: whether probes decide readiness (`reconciler.probing`); else a start is ready
        self.probing = False
        #: wakes the probe loop (which sets it): an instance just started or adopted is
        #: probed at once, not when that loop next wakes for the others (their interval)
        self.probe_now: Callable[[], None] | None = None
        self.spec = LoopSpec(
            "runtime",
            "running the Servers' instances",
            log,
            retry=Backoff(1.0, 2.0, 30.0),
            eager=True,
        )

    # ---- the supervisor's protocol -----------------------------------------------------

    def notify(self, *_: object) -> None:
        """Something changed (a write, an exit, a probe): a round is due."""
        self._wake.set()

    async def start(self) -> None:
        """Take over what runs: the Instances stored, what the drivers run (adopted or
        stopped in the first round), and watch every driver's exits."""
        for name, driver in self.drivers.items():
            self._watchers.append(asyncio.create_task(self._watch(driver), name=f"exits-{name}"))
        async with self.sessions() as session:
            rows = await list_instances(session)
        for row in rows:
            status = row.status or {}
            self.tracked[row.name] = Tracked(
                name=row.name,
                server=str(row.spec.get("server")),
                revision=str(status.get("revision", "")),
                runtime=str(row.spec.get("runtime")),
                generation=int(status.get("generation", 0)),
                node=str(row.spec.get("node", "")),
                phase=str(status.get("phase", PENDING)),
                restarts=int(status.get("restarts", 0)),
                last_exit=status.get("lastExit"),
                stored=True,
                written=1,
            )

    async def stop(self) -> None:
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(BaseException):
                await task
        self._watchers.clear()
        for driver in self.drivers.values():
            try:
                await driver.close()
            except Exception as e:  # stopping anyway
                log.warning("closing the %s runtime: %s", driver.name, e)

    async def due(self) -> None:
        timeout = self.resync
        now = time.monotonic()
        waits = [t.backoff_until - now for t in self.tracked.values() if t.backoff_until]
        if waits:
            timeout = max(0.0, min(timeout, *waits))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def round(self) -> None:
        async with self.sessions() as session:
            servers = await objects_of_kinds(session, ["Server"])
            templates = {r.name: r for r in await objects_of_kinds(session, ["Template"])}
            secrets_ = {r.name: r for r in await objects_of_kinds(session, ["Secret"])}
            stored = {r.name: r for r in await list_instances(session)}
        wanted = wanted_servers(
            servers, templates, secrets_, owner=self.owner, fingerprint=self._fingerprint
        )
        self.wanted = wanted
        await self._check_drivers(wanted)
        observed = await self._observe()
        self._forget_deleted(stored)
        await self._adopt_or_end(observed, stored)
        for want in wanted.values():
            await self._reconcile(want, observed)
        for gone in [name for name in self._blocked if name not in wanted]:
            del self._blocked[gone]
        for tracked in list(self.tracked.values()):
            if tracked.server not in wanted and tracked.phase != TERMINATING:
                self._event(tracked, "Normal", "Stopping", "its Server was deleted")
                await self._stop(tracked)
        await self._write(wanted)
        self._tell_readiness()

    def _tell_readiness(self) -> None:
        ready: dict[str, set[str]] = {}
        for tracked in self.tracked.values():
            if tracked.ready:
                ready.setdefault(tracked.server, set()).add(tracked.name)
        now = {server: frozenset(names) for server, names in ready.items()}
        changed = {
            s for s in now.keys() | self._ready_seen.keys() if now.get(s) != self._ready_seen.get(s)
        }
        self._ready_seen = now
        for server in sorted(changed):
            for listener in list(self.readiness_listeners):
                listener(server)

    # ---- what runs ---------------------------------------------------------------------

    async def _check_drivers(self, wanted: Mapping[str, Wanted]) -> None:
        used = {w.runtime for w in wanted.values()} | {t.runtime for t in self.tracked.values()}
        for name in used:
            driver = self.drivers.get(name)
            if driver is None:
                self._unavailable[name] = (
                    f"the {name} runtime is off on this mcpd (its --runtimes leave it out)"
                )
                continue
            try:
                await driver.check()
            except RuntimeUnavailable as e:
                if self._unavailable.get(name) != str(e):
                    log.warning("the %s runtime is unavailable: %s", name, e)
                self._unavailable[name] = str(e)
            else:
                if name in self._unavailable:
                    log.info("the %s runtime is available again", name)
                self._unavailable.pop(name, None)

    async def _observe(self) -> dict[str, Observed]:
        seen: dict[str, Observed] = {}
        for name, driver in self.drivers.items():
            if name in self._unavailable:
                continue
            try:
                for o in await driver.list():
                    seen[o.instance] = o
            except RuntimeUnavailable as e:
                self._unavailable[name] = str(e)
        return seen

    def _forget_deleted(self, stored: Mapping[str, ObjectRow]) -> None:
        """An Instance a user deleted is replaced: stopped, and the scale-up starts another."""
        for tracked in self.tracked.values():
            if tracked.stored and tracked.name not in stored and tracked.phase != TERMINATING:
                tracked.stored = False
                self._event(tracked, "Normal", "Deleted", "deleted: a new instance replaces it")
                self._replace.add(tracked.name)

    async def _adopt_or_end(
        self, observed: Mapping[str, Observed], stored: Mapping[str, ObjectRow]
    ) -> None:
        """Reconcile the instances tracked with what the drivers run: adopt what an earlier
        leader started and still runs, start again what was running and runs no more
        here, stop what nobody tracks, replace and restart what was asked."""
        for name in sorted(self._replace):
            self._replace.discard(name)
            tracked = self.tracked.get(name)
            if tracked is not None:
                await self._stop(tracked)
        for name in sorted(self._restart):
            self._restart.discard(name)
            tracked = self.tracked.get(name)
            if tracked is not None and tracked.phase == UNHEALTHY:
                tracked.phase = TERMINATING  # its exit is not a crash
                self._check()
                await self.drivers[tracked.runtime].stop(name, grace=self.grace)
                self._crashed(tracked, None, "unhealthy")
        for tracked in list(self.tracked.values()):
            seen = observed.get(tracked.name)
            running = seen is not None and seen.running
            if tracked.phase == TERMINATING:  # an earlier leader was stopping it
                await self._stop(tracked)
            elif tracked.started is None and tracked.phase in (STARTING, RUNNING, UNHEALTHY):
                if running:
                    assert seen is not None
                    self._adopted(tracked, seen)
                else:
                    self._lost(tracked)
        for name, seen in observed.items():
            if name not in self.tracked and seen.running:
                self._check()
                log.info("stopping %s instance %s: no Instance records it", seen.runtime, name)
                await self.drivers[seen.runtime].stop(name, grace=self.grace)

    def _adopted(self, tracked: Tracked, seen: Observed) -> None:
        """Recorded by an earlier leader, still running where this one can reach it."""
        tracked.phase, tracked.ready = (STARTING, False) if self.probing else (RUNNING, True)
        tracked.started = time.monotonic()
        tracked.started_at = seen.started_at
        tracked.node = seen.node or tracked.node
        tracked.endpoint = seen.endpoint.url if seen.endpoint else None
        tracked.reach = seen.endpoint
        tracked.dirty = True
        self._event(tracked, "Normal", "Adopted", f"running since {_stamp(seen.started_at)}")
        if self.probe_now is not None:
            self.probe_now()

    def _lost(self, tracked: Tracked) -> None:
        """An instance recorded as running that no driver here runs: its node's leader is
        gone (process instances end with their mcpd). It starts again here."""
        self._event(
            tracked,
            "Warning",
            "Lost",
            f"recorded on {tracked.node or 'another node'}, not running here: started again",
        )
        tracked.phase, tracked.ready, tracked.dirty = PENDING, False, True
        tracked.node = self.node

    async def _reconcile(self, want: Wanted, observed: Mapping[str, Observed]) -> None:
        mine = [
            t for t in self.tracked.values() if t.server == want.server and t.phase != TERMINATING
        ]
        # restarts due
        now = time.monotonic()
        startable = want.launch is not None and want.runtime not in self._unavailable
        for t in mine:
            due = t.backoff_until is None or t.backoff_until <= now
            if t.phase in (PENDING, BACKOFF) and due and startable:
                if t.revision == want.revision:
                    await self._start(t, want)
                else:  # a crashed instance of the old revision: replaced, not restarted
                    await self._stop(t)
        mine = [t for t in mine if t.phase != TERMINATING]
        current = [t for t in mine if t.revision == want.revision]
        old = [t for t in mine if t.revision != want.revision]
        replicas = want.replicas
        blocked = want.launch is None or want.runtime in self._unavailable
        self._say_why_blocked(want)
        if replicas == 0:
            for t in mine:
                await self._stop(t)
            return
        if old:
            # a rolling change: an old instance stops once a new one is ready in its place,
            # then one more new one starts; never more than one instance over `replicas`
            ready = [t for t in current if t.ready]
            excess = len(ready) + len(old) - replicas
            stopping = sorted(old, key=_stop_order)[: max(0, excess)]
            if stopping:
                # the readiness that lets an old instance go is stored before it goes (its
                # Instance is deleted at once, the round's statuses are written at its end,
                # after the next surge instance started): else the database shows, for
                # that long, fewer ready instances than before the change
                await self._write(self.wanted)
            for t in stopping:
                await self._stop(t)
            left = len(old) - len(stopping)
            settling = [t for t in current if not t.ready]
            if (
                not settling
                and not blocked
                and len(current) < replicas
                and len(current) + left < replicas + 1
            ):
                await self._create(want)
            return
        if len(current) < replicas and not blocked:
            await self._create(want, replicas - len(current))
        elif len(current) > replicas:
            for t in sorted(current, key=_stop_order)[: len(current) - replicas]:
                await self._stop(t)

    def _say_why_blocked(self, want: Wanted) -> None:
        """An event on the Server when it cannot run (its spec does not resolve, its
        runtime is unavailable), once per cause, and one when it can again."""
        if want.problem is not None:
            cause = ("InvalidSpec", want.problem)
        elif want.runtime in self._unavailable and want.replicas:
            cause = ("RuntimeUnavailable", self._unavailable[want.runtime])
        else:
            cause = None
        said = self._blocked.get(want.server)
        if cause == said:
            return
        if cause is not None:
            self._server_event(want.server, "Warning", cause[0], f"not started: {cause[1]}")
            self._blocked[want.server] = cause
        else:
            del self._blocked[want.server]
            self._server_event(want.server, "Normal", "Runnable", "it can run again")

    async def _create(self, want: Wanted, count: int = 1) -> None:
        """Store `count` new Instances of a Server (in one transaction), then start each."""
        created: list[Tracked] = []
        for _ in range(count):
            name = self._new_name(want.server, taken={t.name for t in created})
            created.append(
                Tracked(
                    name=name,
                    server=want.server,
                    revision=want.revision,
                    runtime=want.runtime,
                    generation=want.generation,
                    node=self.node,
                )
            )
        async with self.sessions() as session, session.begin():
            await self._fence(session)
            await create_instances(
                session,
                [
                    NewInstance(
                        t.name,
                        {"server": want.server, "runtime": want.runtime, "node": self.node},
                        {"mcpctl.dev/server": want.server},
                        t.status(),
                    )
                    for t in created
                ],
                datetime.now(UTC),
            )
        for tracked in created:
            tracked.stored, tracked.dirty = True, False
            self.tracked[tracked.name] = tracked
            self._event(tracked, "Normal", "Created", f"created for Server {want.server}")
        for tracked in created:
            await self._start(tracked, want)

    async def _start(self, tracked: Tracked, want: Wanted) -> None:
        assert want.launch is not None
        driver = self.drivers[want.runtime]
        launch = replace(want.launch, instance=tracked.name)
        self._check()
        tracked.phase, tracked.ready, tracked.dirty = STARTING, False, True
        tracked.backoff_until = None
        tracked.failures, tracked.counted = 0, None
        tracked.node = self.node
        try:
            seen = await driver.start(launch)
        except (InvalidInput, BackendUnavailable) as e:
            if isinstance(e, Deposed):
                raise
            tracked.message = str(e)
            self._event(tracked, "Warning", "FailedStart", str(e))
            self._crashed(tracked, None, f"failed to start: {e}")
            return
        tracked.started = time.monotonic()
        tracked.started_at = seen.started_at
        tracked.endpoint = seen.endpoint.url if seen.endpoint else None
        tracked.reach = seen.endpoint
        tracked.message = ""
        self._event(
            tracked, "Normal", "Started", f"started by the {want.runtime} runtime on {self.node}"
        )
        if not self.probing:
            # nothing to wait for (the probes, when on, make it ready instead)
            tracked.phase, tracked.ready = RUNNING, True
        if self.probe_now is not None:
            self.probe_now()

    async def _stop(self, tracked: Tracked) -> None:
        """Stop an instance and forget it (its Instance deleted)."""
        driver = self.drivers.get(tracked.runtime)
        tracked.phase, tracked.ready, tracked.dirty = TERMINATING, False, True
        if driver is not None and tracked.runtime not in self._unavailable:
            self._check()
            await driver.stop(tracked.name, grace=self.grace)
        self._event(tracked, "Normal", "Stopped", "stopped")
        self.tracked.pop(tracked.name, None)
        if tracked.stored:
            async with self.sessions() as session, session.begin():
                await self._fence(session)
                await delete_instance(session, tracked.name)
            tracked.stored = False

    def health_of(self, server: str) -> HealthCheck:
        """The health check of a Server (its own, its Template's, or the default)."""
        want = self.wanted.get(server)
        return want.health if want is not None else DEFAULT_HEALTH

    def target(self, instance: str) -> StdioPipe | Endpoint | None:
        """How the channel reaches a running instance now (None: it does not run)."""
        tracked = self.tracked.get(instance)
        if tracked is None or tracked.started is None:
            return None
        if tracked.reach is not None:
            return tracked.reach
        driver = self.drivers.get(tracked.runtime)
        return driver.stdio(instance) if driver is not None else None

    def logs(
        self,
        instance: str,
        *,
        tail: int | None = None,
        since: datetime | None = None,
        follow: bool = False,
    ) -> AsyncIterator[bytes]:
        """An instance's log lines from its driver (see `Driver.logs`)."""
        tracked = self.tracked.get(instance)
        driver = self.drivers.get(tracked.runtime) if tracked is not None else None
        if tracked is None or driver is None:
            raise NotFound(f"instance {instance!r} is not run by this mcpd")
        return driver.logs(instance, tail=tail, since=since, follow=follow)

    # ---- exits and probes --------------------------------------------------------------

    async def _watch(self, driver: Driver) -> None:
        async for ended in driver.exits():
            self.exited(ended)

    def exited(self, ended: Exit) -> None:
        """An instance ended: a crash (restarted after the back-off) unless it was stopped."""
        tracked = self.tracked.get(ended.instance)
        if tracked is None or tracked.phase not in (STARTING, RUNNING, UNHEALTHY):
            return  # stopped on purpose, or already known to have ended
        if tracked.started_at is not None and ended.at < tracked.started_at:
            return  # the end of an earlier start of it
        self._crashed(tracked, ended.code, ended.reason)
        self.notify()

    def _crashed(self, tracked: Tracked, code: int | None, reason: str) -> None:
        now = time.monotonic()
        if tracked.started is not None and now - tracked.started >= self.policy.reset:
            tracked.crashes = 0
        tracked.crashes += 1
        if tracked.started is not None:
            tracked.restarts += 1
        delay = self.policy.delay(tracked.crashes)
        tracked.phase, tracked.ready = BACKOFF, False
        tracked.started = None
        tracked.backoff_until = now + delay
        tracked.last_exit = {"code": code, "reason": reason, "at": _stamp(datetime.now(UTC))}
        tracked.dirty = True
        self._event(
            tracked,
            "Warning",
            "BackOff",
            f"{reason}; restarting in {delay:g} s (restart {tracked.restarts})",
        )

    def probed(
        self, instance: str, ok: bool, detail: str, *, threshold: int, interval: float
    ) -> None:
        """A probe's result (`reconciler.probing`): ready on success; after `threshold`
        failures in a row, Unhealthy and restarted (an external server, which nothing
        here runs, stays Unhealthy, probed on, until a probe passes).

        A failure counts only `interval` seconds after the last one counted: the probes
        of an instance not ready yet come every `READY_POLL` seconds, to find it ready
        sooner, and must not shorten the time a starting server has to answer (an HTTP
        server's port refuses until it listens): `threshold` x `interval` seconds, as
        the probes of a ready one give it."""
        tracked = self.tracked.get(instance)
        if tracked is None or tracked.phase not in (STARTING, RUNNING, UNHEALTHY):
            return
        tracked.probes.append({"at": _stamp(datetime.now(UTC)), "ok": ok, "detail": detail})
        now = time.monotonic()
        if not ok or not tracked.ready or now - tracked.probes_written >= PROBES_REFRESH:
            # a passing probe of a ready instance changes nothing worth a write, but the
            # stored probes are kept fresh enough for `describe instance`
            tracked.dirty = True
            tracked.probes_written = now
        if ok:
            tracked.failures, tracked.counted = 0, None
            if not tracked.ready:
                tracked.phase, tracked.ready = RUNNING, True
                self._event(tracked, "Normal", "Ready", detail or "the probe passed")
                self.notify()
            return
        if tracked.counted is not None and now - tracked.counted < interval:
            return
        tracked.failures, tracked.counted = tracked.failures + 1, now
        if tracked.failures >= threshold and tracked.phase != UNHEALTHY:
            tracked.phase, tracked.ready = UNHEALTHY, False
            failed = f"{tracked.failures} probes failed in a row ({detail})"
            if tracked.runtime == "external":
                # a restart would forget it and record it again, at the same URL: no use
                self._event(
                    tracked,
                    "Warning",
                    "Unhealthy",
                    f"{failed}: not ready until a probe passes (an external server is not "
                    "restarted)",
                )
            else:
                self._event(tracked, "Warning", "Unhealthy", f"{failed}: restarting it")
                self._restart.add(instance)
            self.notify()

    # ---- bookkeeping -------------------------------------------------------------------

    def _new_name(self, server: str, *, taken: set[str]) -> str:
        while True:
            suffix = "".join(secrets.choice(_SUFFIX) for _ in range(5))
            name = f"{server[:57]}-{suffix}"
            if name not in self.tracked and name not in taken:
                return name

    def _server_event(self, server: str, type_: str, reason: str, message: str) -> None:
        self._events.append(_Event(type_, reason, message, "Server", server))

    def _event(self, tracked: Tracked, type_: str, reason: str, message: str) -> None:
        self._events.append(_Event(type_, reason, message, KIND, tracked.name))
        if reason in ("BackOff", "FailedStart", "Unhealthy", "Lost"):
            self._events.append(
                _Event(
                    type_, reason, f"instance {tracked.name}: {message}", "Server", tracked.server
                )
            )

    async def _write(self, wanted: Mapping[str, Wanted]) -> None:
        statuses = {name: self._status_of(w) for name, w in wanted.items()}
        changed = {n: s for n, s in statuses.items() if self._server_status.get(n) != s}
        dirty = [t for t in self.tracked.values() if t.dirty and t.stored]
        if not changed and not dirty and not self._events:
            return
        events, self._events = self._events, []
        written = {tracked.name: tracked.status() for tracked in dirty}
        versions = {tracked.name: tracked.changes for tracked in dirty}
        async with self.sessions() as session, session.begin():
            await self._fence(session)
            await write_instance_statuses(session, written)
            for name, status in changed.items():
                await write_server_status(session, name, status)
            for e in events:
                await record_event(
                    session,
                    type=e.type,
                    reason=e.reason,
                    message=e.message,
                    kind=e.kind,
                    name=e.name,
                    source=f"mcpd/{self.node}",
                )
        for tracked in dirty:
            # what changed meanwhile (a probe answered) is written at the next round
            tracked.written = versions[tracked.name]
        self._server_status.update(changed)

    def _status_of(self, want: Wanted) -> dict[str, Any]:
        mine = [t for t in self.tracked.values() if t.server == want.server]
        current = [t for t in mine if t.revision == want.revision and t.phase != TERMINATING]
        ready = sum(1 for t in mine if t.ready)
        conditions: list[dict[str, Any]] = []
        if want.problem is not None:
            conditions.append(_condition("Runnable", False, "InvalidSpec", want.problem))
        elif want.runtime in self._unavailable:
            conditions.append(
                _condition("Runnable", False, "RuntimeUnavailable", self._unavailable[want.runtime])
            )
        else:
            conditions.append(_condition("Runnable", True, "Resolved", ""))
        wanted = want.replicas
        conditions.append(
            _condition(
                "Ready",
                ready >= wanted,
                "AllReady" if ready >= wanted else "NotReady",
                f"{ready} of {wanted} ready",
            )
        )
        rolling = any(t.revision != want.revision for t in mine if t.phase != TERMINATING)
        conditions.append(
            _condition(
                "Progressing",
                rolling,
                "Rolling" if rolling else "Current",
                "a new revision is rolling out" if rolling else "",
            )
        )
        if want.problem is not None or want.runtime in self._unavailable:
            health = "Invalid" if want.problem is not None else "Unavailable"
        elif wanted == 0:
            health = "Stopped"
        elif ready >= wanted:
            health = "Healthy"
        else:
            health = "Degraded" if ready else "Unavailable"
        return {
            "replicas": wanted,
            "updatedReplicas": len(current),
            "readyReplicas": ready,
            "health": health,
            "revision": want.revision,
            "observedGeneration": want.generation,
            "runtime": want.runtime,
            "conditions": conditions,
        }


def _stop_order(tracked: Tracked) -> tuple[bool, float]:
    """Stop the not-ready first, then the newest."""
    return (tracked.ready, -(tracked.started or 0.0))


def _condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
