"""Health probes: each running instance asked, through the channel the proxy uses, whether
it answers.

The Server's `healthCheck` says how: a tool called with its arguments (a failure
is an error answer or a result with `isError`), or by default a liveness probe:
`server/discover` for a server of the 2026-07-28 era, `tools/list` for the
initialize-handshake ones (the channel finds out which one the server speaks, and
its opening is the first probe of a new instance). Every
`intervalSeconds` once ready, and every `READY_POLL` seconds until the first
success; each probe gets `timeoutSeconds`. A success makes the instance ready;
`failureThreshold` failures in a row, counted at most once per `intervalSeconds`
(so a starting server has as long to answer as a ready one), make it Unhealthy:
the runtime reconciler restarts it, or, for an external server, which it cannot
restart, keeps it not ready until a probe passes (`RuntimeReconciler.probed`).
The last results are kept in the Instance's status (`describe instance`).

A loop of the leader's supervisor (with the runtime reconciler): one round starts
the probes that are due, each a task of its own, so a server that never answers
holds up no other probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from mcpctl.reconciler.running import RUNNING, STARTING, UNHEALTHY, RuntimeReconciler, Tracked
from mcpctl.reconciler.supervisor import Backoff, LoopSpec
from mcpctl.schemas import HealthCheck
from mcpctl.upstream import ChannelPool, UpstreamError

log = logging.getLogger(__name__)

#: Seconds between probes of an instance that is not ready yet.
READY_POLL = 1.0

__all__ = ["READY_POLL", "Prober"]


class Prober:
    """The loop of the health probes (see the module's docstring)."""

    def __init__(
        self,
        runtime: RuntimeReconciler,
        pool: ChannelPool,
        health: Callable[[str], HealthCheck],
        *,
        ready_poll: float = READY_POLL,
    ) -> None:
        self.runtime = runtime
        self.pool = pool
        #: the health check of a Server, by name (the runtime's latest view of it)
        self._health = health
        self.ready_poll = ready_poll
        self._next: dict[str, float] = {}
        self._probing: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.spec = LoopSpec(
            "probes", "probing the instances' health", log, retry=Backoff(1.0, 2.0, 10.0)
        )

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self.runtime.probing = True
        # told of every start: a new instance's first probe is due at once, while this
        # loop may be asleep until the next probe of the ready ones (up to their interval)
        self.runtime.probe_now = self.notify

    async def stop(self) -> None:
        tasks = list(self._probing.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._probing.clear()
        self.runtime.probing = False
        self.runtime.probe_now = None
        await self.pool.aclose()

    def _candidates(self) -> list[Tracked]:
        return [
            t
            for t in self.runtime.tracked.values()
            if t.phase in (STARTING, RUNNING, UNHEALTHY) and t.started is not None
        ]

    async def due(self) -> None:
        now = time.monotonic()
        # An instance being probed is due again only once its probe has ended (which
        # wakes this loop): counting it would spin the loop for as long as the probe runs.
        waits = [
            self._next.get(t.name, now) - now
            for t in self._candidates()
            if t.name not in self._probing
        ]
        timeout = max(0.0, min(waits)) if waits else self.ready_poll
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def round(self) -> None:
        now = time.monotonic()
        alive = {t.name for t in self._candidates()}
        for name in list(self._next):
            if name not in alive:
                del self._next[name]
        for tracked in self._candidates():
            if tracked.name in self._probing or self._next.get(tracked.name, now) > now:
                continue
            health = self._health(tracked.server)
            self._probing[tracked.name] = asyncio.create_task(
                self._probe(tracked, health), name=f"probe-{tracked.name}"
            )

    async def _probe(self, tracked: Tracked, health: HealthCheck) -> None:
        name = tracked.name
        started = time.monotonic()
        try:
            ok, detail = await self._ask(name, health)
        finally:
            self._probing.pop(name, None)
        if name not in self.runtime.tracked or self.runtime.tracked[name] is not tracked:
            return  # stopped or replaced meanwhile
        took = (time.monotonic() - started) * 1000
        self.runtime.probed(
            name,
            ok,
            f"{detail} ({took:.0f} ms)",
            threshold=health.failure_threshold,
            interval=float(health.interval_seconds),
        )
        interval = health.interval_seconds if tracked.ready else self.ready_poll
        self._next[name] = time.monotonic() + interval
        self.notify()

    async def _ask(self, instance: str, health: HealthCheck) -> tuple[bool, str]:
        timeout = float(health.timeout_seconds)
        try:
            async with asyncio.timeout(timeout):
                channel = await self.pool.get(instance)
                if health.tool is not None:
                    result = await channel.request(
                        "tools/call",
                        {"name": health.tool, "arguments": dict(health.arguments)},
                        timeout=timeout,
                    )
                    if result.get("isError"):
                        return False, f"{health.tool} answered with an error"
                    return True, f"{health.tool} answered"
                method = "server/discover" if channel.era == "modern" else "tools/list"
                await channel.request(method, {}, timeout=timeout)
                return True, f"{method} answered"
        except TimeoutError:
            return False, f"no answer within {timeout:g} s"
        except UpstreamError as e:
            return False, f"error {e.code}: {e.message}"[:300]
        except Exception as e:  # a probe's failure is its result, whatever it is
            return False, f"{type(e).__name__}: {e}"[:300]
