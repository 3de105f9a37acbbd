"""The supervisor, in-process: rounds, retries, reports and the stop order (no sleeps to wait)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mcpctl.errors import Contention
from mcpctl.reconciler.supervisor import (
    CONTENTION_ATTEMPTS,
    QUIET_CONTENTION,
    Backoff,
    LoopReport,
    LoopSpec,
    PermanentError,
    Supervisor,
    TemporaryError,
    retry_contended,
)

log = logging.getLogger(__name__)

#: A guard against a hung test only: each wait is for in-process work of microseconds.
HANG = 60
#: The back-off of failures in these tests: a millisecond, doubling.
FAST = Backoff(0.001, 2.0, 0.01)
#: The back-off after contention in these tests: a tenth of a millisecond.
TINY = Backoff(0.0001, 1.0, 0.0001)


class Flaky:
    """A loop whose rounds fail as `outcomes` say, then succeed; due when woken."""

    def __init__(
        self,
        outcomes: list[Exception | None],
        *,
        eager: bool = False,
        retry: Backoff | None = FAST,
    ) -> None:
        self.spec = LoopSpec(
            "flaky", "a flaky round", log, retry=retry, eager=eager, contention=TINY
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


# ---- contention: expected races, retried quietly and counted -------------------------------


def _loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What was logged above DEBUG, or with a traceback."""
    return [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]


def test_contention_is_retried_at_once_counted_and_logged_at_debug_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even a loop that waits for its next due round after a failure (the mirror) retries
    contention at once: the supervisor never waits for `due` here (nothing wakes it)."""
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        outcomes: list[Exception | None] = [Contention("main moved") for _ in range(3)]
        loop = Flaky(outcomes, eager=True, retry=None)
        supervisor = Supervisor()
        await supervisor.start(loop)
        async with asyncio.timeout(HANG):
            await loop.done.wait()
        report = _only(supervisor)
        assert (loop.rounds, report.rounds, report.contention) == (4, 4, 3)
        assert (report.retries, report.contended, report.last_error) == (0, 0, None)
        await supervisor.stop()

    asyncio.run(main())
    assert _loud(caplog) == []
    assert [r.levelno for r in caplog.records if "met contention" in r.getMessage()] == [
        logging.DEBUG
    ] * 3


def test_contention_that_goes_on_is_said_at_warning_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lock file left by a killed process never goes away on its own: past
    `QUIET_CONTENTION` rounds in a row the loop says so, and reports it as its last error."""
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        outcomes: list[Exception | None] = [
            Contention("main.lock is held") for _ in range(QUIET_CONTENTION)
        ]
        loop = Flaky(outcomes, eager=True)
        supervisor = Supervisor()
        await supervisor.start(loop)
        async with asyncio.timeout(HANG):
            await loop.done.wait()
        report = _only(supervisor)
        assert report.contention == QUIET_CONTENTION
        assert report.last_error is None  # the round after went well
        await supervisor.stop()

    asyncio.run(main())
    loud = _loud(caplog)
    assert [(r.levelno, r.exc_info) for r in loud] == [(logging.WARNING, None)]
    assert f"{QUIET_CONTENTION} times in a row" in loud[0].getMessage()


def test_a_start_meeting_contention_is_retried_and_counted() -> None:
    async def main() -> None:
        loop = Flaky([])
        tries: list[int] = []

        async def starting() -> None:
            tries.append(1)
            if len(tries) < 3:
                raise Contention("main.lock is held")

        supervisor = Supervisor()
        await supervisor.start(loop, starting=starting)
        assert (len(tries), _only(supervisor).contention) == (3, 2)
        await supervisor.stop()

    asyncio.run(main())


def test_a_request_retries_contention_a_bounded_number_of_times_then_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    counted: list[str] = []

    async def busy() -> None:
        raise Contention("restore: main.lock is held")

    async def main() -> None:
        with pytest.raises(Contention) as raised:
            await retry_contended(
                "restore", log, busy, counted=lambda: counted.append("restore"), backoff=TINY
            )
        assert f"through {CONTENTION_ATTEMPTS} attempts" in str(raised.value)
        assert isinstance(raised.value.__cause__, Contention)

        answers = iter([Contention("moved"), None])

        async def once_busy() -> str:
            error = next(answers)
            if error is not None:
                raise error
            return "done"

        assert await retry_contended("sync", log, once_busy, counted=lambda: None) == "done"

    asyncio.run(main())
    assert counted == ["restore"] * (CONTENTION_ATTEMPTS - 1)
    assert _loud(caplog) == []


def test_contention_delays_are_jittered_around_the_backoff() -> None:
    delays = [Backoff(1.0, 2.0, 4.0).jittered(n) for n in (1, 2, 3, 9)]
    for delay, base in zip(delays, (1.0, 2.0, 4.0, 4.0), strict=True):
        assert base * 0.5 <= delay <= base * 1.5
