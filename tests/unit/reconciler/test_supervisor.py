"""The supervisor, in-process: rounds, retries, reports and the stop order (no sleeps to wait)."""

from __future__ import annotations

import asyncio
import logging

from mcpctl.reconciler.supervisor import (
    Backoff,
    LoopReport,
    LoopSpec,
    PermanentError,
    Supervisor,
    TemporaryError,
)

log = logging.getLogger(__name__)

#: A guard against a hung test only: each wait is for in-process work of microseconds.
HANG = 60


class Flaky:
    """A loop whose rounds fail as `outcomes` say, then succeed; due when woken."""

    def __init__(self, outcomes: list[Exception | None], *, eager: bool = False) -> None:
        self.spec = LoopSpec(
            "flaky", "a flaky round", log, retry=Backoff(0.001, 2.0, 0.01), eager=eager
        )
        self.outcomes = outcomes
        self.rounds = 0
        self.wake = asyncio.Event()
        self.waiting = asyncio.Event()  # the supervisor waits for the next due round
        self.done = asyncio.Event()
        self.events: list[str] = []

    async def due(self) -> None:
        self.waiting.set()
        await self.wake.wait()
        self.wake.clear()

    async def round(self) -> None:
        self.rounds += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.done.set()

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")


def _only(supervisor: Supervisor) -> LoopReport:
    (report,) = supervisor.report()
    return report


def test_a_failing_round_is_retried_without_waiting_until_due() -> None:
    async def main() -> None:
        loop = Flaky([RuntimeError("boom"), TemporaryError("later", delay=0.001)])
        supervisor = Supervisor()
        await supervisor.start(loop)
        loop.wake.set()
        async with asyncio.timeout(HANG):
            await loop.done.wait()
        report = _only(supervisor)
        assert (loop.rounds, report.rounds, report.retries, report.last_error) == (3, 3, 0, None)
        assert report.running
        await supervisor.stop()
        assert loop.events == ["start", "stop"]
        assert supervisor.report() == []

    asyncio.run(main())


def test_a_permanent_error_waits_for_the_next_due_round_and_is_reported() -> None:
    async def main() -> None:
        loop = Flaky([PermanentError("remote unreachable")], eager=True)
        supervisor = Supervisor()
        await supervisor.start(loop)
        async with asyncio.timeout(HANG):
            await loop.waiting.wait()  # after the failed round: waiting, not retrying
        report = _only(supervisor)
        assert (loop.rounds, report.retries, report.last_error) == (1, 1, "remote unreachable")
        loop.wake.set()
        async with asyncio.timeout(HANG):
            await loop.done.wait()
        assert _only(supervisor).retries == 0
        await supervisor.stop()

    asyncio.run(main())


def test_parts_stop_in_the_reverse_order_of_their_start() -> None:
    order: list[str] = []

    class Part:
        def __init__(self, name: str) -> None:
            self.name = name

        async def start(self) -> None:
            order.append(f"start {self.name}")

        async def stop(self) -> None:
            order.append(f"stop {self.name}")

    async def main() -> None:
        supervisor = Supervisor()
        for name in ("exporter", "endpoint", "mirror"):
            await supervisor.start(Part(name))
        await supervisor.stop()

    asyncio.run(main())
    assert order == [
        "start exporter",
        "start endpoint",
        "start mirror",
        "stop mirror",
        "stop endpoint",
        "stop exporter",
    ]


def test_backoff_grows_to_its_ceiling() -> None:
    assert [Backoff(1.0, 2.0, 5.0).delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert Backoff().delay(7) == 1.0
