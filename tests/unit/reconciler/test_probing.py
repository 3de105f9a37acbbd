"""The probe loop, in-process: when it is due, with a stand-in runtime and channel pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from mcpctl.reconciler.probing import Prober
from mcpctl.reconciler.running import RUNNING, RuntimeReconciler, Tracked
from mcpctl.schemas import HealthCheck
from mcpctl.upstream import ChannelPool

#: A guard against a hung test only.
HANG = 60


class _Runtime:
    """What the prober reads of the runtime reconciler: its instances and `probed`."""

    def __init__(self, *names: str) -> None:
        self.probing = False
        self.probe_now: Callable[[], None] | None = None
        self.tracked = {name: _running(name) for name in names}
        self.results: list[tuple[str, bool]] = []

    def probed(
        self, instance: str, ok: bool, detail: str, *, threshold: int, interval: float
    ) -> None:
        self.results.append((instance, ok))


def _running(name: str) -> Tracked:
    return Tracked(
        name=name,
        server="s",
        revision="r",
        runtime="process",
        generation=1,
        node="n",
        phase=RUNNING,
        started=time.monotonic(),
    )


class _Channel:
    era = "legacy"

    def __init__(self, answer: asyncio.Event) -> None:
        self.answer = answer
        self.asked = asyncio.Event()

    async def request(self, method: str, params: Any, *, timeout: float) -> dict[str, Any]:
        self.asked.set()
        await self.answer.wait()
        return {}


class _Pool:
    def __init__(self, channel: _Channel) -> None:
        self.channel = channel

    async def get(self, instance: str) -> _Channel:
        return self.channel

    async def aclose(self) -> None:
        pass


def _prober(runtime: _Runtime, channel: _Channel, *, ready_poll: float) -> Prober:
    health = HealthCheck.model_validate({"timeoutSeconds": 3600, "intervalSeconds": 3600})
    return Prober(
        cast(RuntimeReconciler, runtime),
        cast(ChannelPool, _Pool(channel)),
        lambda server: health,
        ready_poll=ready_poll,
    )


def test_an_instance_being_probed_does_not_make_the_loop_due() -> None:
    asyncio.run(_being_probed())


async def _being_probed() -> None:
    # Before: an instance whose probe was under way counted as due at once, so the
    # loop spun (a round that started nothing, again and again) while the probe ran.
    answer = asyncio.Event()
    channel = _Channel(answer)
    runtime = _Runtime("i-1")
    prober = _prober(runtime, channel, ready_poll=3600)
    async with asyncio.timeout(HANG):
        await prober.due()  # never probed: due at once
        await prober.round()
        await channel.asked.wait()
        due = asyncio.create_task(prober.due())
        # however many times the loop gets to run, it is not due while the probe runs
        for _ in range(100):
            await asyncio.sleep(0)
        assert not due.done()
        answer.set()  # the probe ends and wakes the loop
        await due
        assert runtime.results == [("i-1", True)]
        await prober.stop()


def test_the_loop_is_due_for_an_instance_not_yet_probed_while_another_is() -> None:
    asyncio.run(_another_probed())


async def _another_probed() -> None:
    answer = asyncio.Event()
    channel = _Channel(answer)
    runtime = _Runtime("i-1")
    prober = _prober(runtime, channel, ready_poll=3600)
    async with asyncio.timeout(HANG):
        await prober.round()
        await channel.asked.wait()
        runtime.tracked["i-2"] = _running("i-2")
        await prober.due()  # i-2 is due at once
        await prober.round()
        assert set(prober._probing) == {"i-1", "i-2"}
        answer.set()
        while len(runtime.results) < 2:
            await prober.due()
        assert sorted(runtime.results) == [("i-1", True), ("i-2", True)]
        await prober.stop()


def test_an_instance_started_while_the_loop_sleeps_is_probed_at_once() -> None:
    asyncio.run(_started_while_asleep())


async def _started_while_asleep() -> None:
    # Before: the loop slept until the next probe of the ready instances (their
    # interval, 30 s by default), and a new instance's first probe waited as long.
    answer = asyncio.Event()
    answer.set()
    runtime = _Runtime("i-1")
    prober = _prober(runtime, _Channel(answer), ready_poll=3600)
    await prober.start()
    async with asyncio.timeout(HANG):
        await prober.round()
        while not runtime.results:
            await prober.due()
        # i-1 answered: its next probe is an interval (3600 s) away, and so is the loop's
        asleep = asyncio.create_task(prober.due())
        for _ in range(100):
            await asyncio.sleep(0)
        assert not asleep.done()
        runtime.tracked["i-2"] = _running("i-2")
        assert runtime.probe_now is not None
        runtime.probe_now()  # what the runtime reconciler does at a start or an adoption
        await asleep
        await prober.round()
        assert "i-2" in prober._probing or ("i-2", True) in runtime.results
        await prober.stop()
    assert runtime.probe_now is None
