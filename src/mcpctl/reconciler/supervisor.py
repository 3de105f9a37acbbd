"""One supervisor for mcpd's loops: it starts them, stops them, retries them and reports them.

Before it, each loop wrote its own task, cancellation and retry (the
exporter slept a second after a failure, the mirror logged and went on), and
nothing could say whether a loop was running or failing. A loop now only says
when its next round is due (`Loop.due`) and what one round does
(`Loop.round`); `Supervisor` runs them, in the order `mcpd` starts them
(`daemon.main.serve`), and stops them in the reverse order.

A round that fails tells the supervisor how, in the manner of kopf:

- `TemporaryError(delay)`: retry after `delay` seconds (None: the loop's
  back-off), without waiting for the round to be due;
- `PermanentError`: retrying will not help: logged (without a traceback), and
  the next round runs when it is due;
- `errors.Contention` (a ref moved under a commit, a lock file held by another
  writer): not a failure but an expected race. Counted (`LoopReport.contention`),
  logged at DEBUG only, and retried promptly after a short jittered back-off
  (`LoopSpec.contention`), whether the loop retries failures or not. Past
  `QUIET_CONTENTION` such rounds in a row (a lock file left by a killed
  process, say) it is said at WARNING, without a traceback, and reported as
  the loop's last error, every `QUIET_CONTENTION` rounds;
- any other exception is a bug or an unforeseen failure: logged with its
  traceback (the one `except Exception` of the loops is here), then retried
  after the loop's back-off, or at the next due round for a loop without one.

A part's start and stop meeting contention are retried too (at most
`CONTENTION_ATTEMPTS` times, counted), and `retry_contended` gives a request
(a push's commit on top, a restore, a sync) the same bounded retries.

`Supervisor.report()` says, cheaply, where each loop is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar, runtime_checkable

from mcpctl.errors import Contention, Deposed

log = logging.getLogger(__name__)

T = TypeVar("T")


class TemporaryError(Exception):
    """A round failed in a way that passes: retry it after `delay` seconds (None: back-off)."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(Exception):
    """A round failed in a way retrying at once will not fix: the next round runs when due."""


@dataclass(frozen=True)
class Backoff:
    """The delays between retries of a failing round: `first`, times `factor` after each
    failure in a row, at most `most` seconds. The default is a constant second."""

    first: float = 1.0
    factor: float = 1.0
    most: float = 60.0

    def delay(self, retries: int) -> float:
        """The delay before retry number `retries` (1 for the first)."""
        return float(min(self.most, self.first * self.factor ** max(retries - 1, 0)))

    def jittered(self, retries: int) -> float:
        """`delay`, times a random factor from 0.5 to 1.5: writers that met each other do
        not meet again at the same instant."""
        return self.delay(retries) * random.uniform(0.5, 1.5)  # timing, not secrecy


#: The delays before retrying what met contention: short, doubling, at most a second.
CONTENTION = Backoff(first=0.02, factor=2.0, most=1.0)
#: Rounds in a row meeting contention that stay quiet (DEBUG); then a WARNING, every as many.
QUIET_CONTENTION = 20
#: How often a part's start or stop, or a request, tries what meets contention in all.
CONTENTION_ATTEMPTS = 8


@dataclass(frozen=True)
class LoopSpec:
    """How the supervisor runs a loop."""

    #: The name of its task, and in `report()`.
    name: str
    #: What a round does, for the log: "{what} failed ...".
    what: str
    #: The logger its failures go to (the loop's module's).
    log: logging.Logger
    #: After an unforeseen failure, retry after these delays; None: at the next due round.
    retry: Backoff | None = Backoff()
    #: Run a first round at once (else the first round waits until `due`).
    eager: bool = False
    #: After a round met contention, retry after these delays (jittered).
    contention: Backoff = CONTENTION


@runtime_checkable
class Service(Protocol):
    """Something started and stopped with mcpd (a loop's catch-up, a socket)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Loop(Protocol):
    """A loop: rounds that run whenever one is due."""

    @property
    def spec(self) -> LoopSpec: ...

    async def due(self) -> None:
        """Return when the next round is due."""

    async def round(self) -> None:
        """One round (raising `TemporaryError`, `PermanentError` or anything)."""


@dataclass
class LoopReport:
    """Where a loop is: running or not, its rounds, its current failures."""

    name: str
    running: bool = False
    rounds: int = 0
    #: Failed rounds in a row (0: the last round went well).
    retries: int = 0
    last_error: str | None = None
    last_round: datetime | None = None
    last_failure: datetime | None = field(default=None)
    #: Rounds (and starts, stops) that met contention and were retried, since the start.
    contention: int = 0
    #: Rounds in a row that met contention (0: the last round did not).
    contended: int = 0

    def count(self) -> None:
        """One more round, start or stop that met contention."""
        self.contention += 1


@dataclass
class _Part:
    part: Service | Loop
    report: LoopReport
    task: asyncio.Task[None] | None = None


class Supervisor:
    """Starts services and loops in order, stops them in reverse order, runs the loops."""

    def __init__(self) -> None:
        self._parts: list[_Part] = []

    async def start(
        self,
        part: Service | Loop,
        *,
        starting: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Start `part`: its `start()` (or `starting`, when given), then its rounds if a loop.

        A part whose start fails is stopped all the same by `stop` (its `stop()` undoes
        what its start did halfway), as `mcpd` always did."""
        name = part.spec.name if isinstance(part, Loop) else type(part).__name__
        entry = _Part(part, LoopReport(name))
        self._parts.append(entry)
        if starting is None and isinstance(part, Service):
            starting = part.start
        if starting is not None:
            await retry_contended(f"starting {name}", log, starting, counted=entry.report.count)
        if isinstance(part, Loop):
            entry.task = asyncio.create_task(self._run(part, entry.report), name=name)
            entry.report.running = True

    async def stop(self) -> None:
        """Stop every part in the reverse order of their start: a loop's rounds, then its
        `stop()`. Each part stops even if the one before failed to (the first error is raised)."""
        failure: BaseException | None = None
        while self._parts:
            entry = self._parts.pop()
            try:
                if entry.task is not None:
                    entry.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await entry.task
                    entry.task = None
                    entry.report.running = False
                if isinstance(entry.part, Service):
                    name = entry.report.name
                    count = entry.report.count
                    await retry_contended(f"stopping {name}", log, entry.part.stop, counted=count)
            except Exception as e:  # the next parts stop all the same
                failure = failure or e
        if failure is not None:
            raise failure

    def report(self) -> list[LoopReport]:
        """The state of every loop started (copies: they do not change under the caller),
        with the loops of the supervisors a part runs (the leader's, under the election)."""
        reports: list[LoopReport] = []
        for entry in self._parts:
            if isinstance(entry.part, Loop):
                reports.append(LoopReport(**vars(entry.report)))
            nested = getattr(entry.part, "parts", None)
            if isinstance(nested, Supervisor):
                reports.extend(nested.report())
        return reports

    async def _run(self, loop: Loop, report: LoopReport) -> None:
        spec = loop.spec
        due = not spec.eager
        while True:
            if due:
                await loop.due()
            retry = await _attempt(loop, report)
            due = retry is None
            if retry is not None:
                await asyncio.sleep(retry)


async def _attempt(loop: Loop, report: LoopReport) -> float | None:
    """One round of `loop`, its failure logged; the delay before a retry (None: when due)."""
    spec = loop.spec
    try:
        await loop.round()
    except Contention as e:  # an expected race: counted, retried soon, quiet
        return _contended(spec, report, e)
    except TemporaryError as e:
        _failed(report, e)
        delay = e.delay if e.delay is not None else (spec.retry or Backoff()).delay(report.retries)
        spec.log.warning("%s failed: %s; retrying in %g s", spec.what, e, delay)
        return delay
    except PermanentError as e:
        _failed(report, e)
        spec.log.warning("%s failed: %s", spec.what, e)
        return None
    except Deposed as e:  # the replica lost the lease: the election stops this loop
        _failed(report, e)
        spec.log.info("%s stopped: %s", spec.what, e)
        return None
    except Exception as e:  # a supervisor: log the traceback, retry (next round, or back-off)
        _failed(report, e)
        if spec.retry is None:
            spec.log.exception("%s failed", spec.what)
            return None
        delay = spec.retry.delay(report.retries)
        spec.log.exception("%s failed; retrying in %g s", spec.what, delay)
        return delay
    report.rounds += 1
    report.retries = 0
    report.contended = 0
    report.last_error = None
    report.last_round = datetime.now(UTC)
    return None


def _contended(spec: LoopSpec, report: LoopReport, error: Contention) -> float:
    """Count a round that met contention; the delay before its retry. Quiet, unless it has
    gone on for `QUIET_CONTENTION` rounds in a row: then a warning (no traceback) every as
    many rounds, and the loop's last error says it."""
    report.rounds += 1
    report.count()
    report.contended += 1
    report.last_round = datetime.now(UTC)
    delay = spec.contention.jittered(report.contended)
    if report.contended % QUIET_CONTENTION:
        spec.log.debug("%s met contention: %s; retrying in %.3f s", spec.what, error, delay)
    else:
        report.last_error = str(error)
        report.last_failure = report.last_round
        spec.log.warning(
            "%s met contention %d times in a row: %s; retrying (if no other process "
            "writes the state repo, a lock file may be left from a killed one)",
            spec.what,
            report.contended,
            error,
        )
    return delay


def _failed(report: LoopReport, error: BaseException) -> None:
    report.rounds += 1
    report.retries += 1
    report.contended = 0
    report.last_error = str(error) or type(error).__name__
    report.last_failure = report.last_round = datetime.now(UTC)


async def retry_contended(
    what: str,
    logger: logging.Logger,
    work: Callable[[], Awaitable[T]],
    *,
    counted: Callable[[], object],
    attempts: int = CONTENTION_ATTEMPTS,
    backoff: Backoff = CONTENTION,
) -> T:
    """`work`, tried again after a short jittered pause each time it meets contention, at most
    `attempts` times in all; `counted()` is called for each retry. Past that, a `Contention`
    saying how often it was tried (an edge answers 503 to it). `work` must be safe to run
    again: it met contention before anything it did was durable, or what it did is a
    function of the database (an export)."""
    tries = 0
    while True:
        tries += 1
        try:
            return await work()
        except Contention as e:
            if tries >= attempts:
                raise Contention(
                    f"{what}: the state repo stayed busy through {tries} attempts ({e})"
                ) from e
            counted()
            delay = backoff.jittered(tries)
            logger.debug("%s met contention: %s; retrying in %.3f s", what, e, delay)
            await asyncio.sleep(delay)


async def attempt(what: str, logger: logging.Logger, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work` once in the background of a loop (a repo's packing), logging its failure
    with the traceback: the loop tries again at its next occasion and never waits for it.
    Contention (another git process packing or writing at the same time) is no failure:
    logged at DEBUG only."""
    try:
        await work()
    except Contention as e:
        logger.debug("%s met contention: %s; the next occasion tries again", what, e)
    except Exception:  # a supervised side task: log, the next occasion tries again
        logger.exception("%s failed", what)
