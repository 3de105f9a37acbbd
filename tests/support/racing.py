"""Work for processes let go at once on one database: migrations and bootstraps racing.

Each function runs in a process of its own (multiprocessing's `spawn`), with an
engine of its own, as replicas of mcpd would: it connects first, waits at the
barrier until every process has, then does its work and puts what came of it
(or the traceback of what it raised) on `results`. `race` starts them and
collects the results.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable, Coroutine
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from sqlalchemy import text

from mcpctl.identity import AdminCreated, Bootstrapper, IdentityService
from mcpctl.objects import ObjectService
from mcpctl.store import current_revision, make_engine, make_sessionmaker, upgrade
from mcpctl.store.database import Engine

#: A hang guard, not a time budget: processes that take this long to meet are hung.
HANG = 120.0

Outcome = tuple[str, ...]  # ("error", traceback) or what the work returned


def race(work: Callable[..., None], database_url: str, *args: tuple[Any, ...]) -> list[Outcome]:
    """Run `work(database_url, *arg, barrier, results)` in one process per item of `args`,
    all let go at once; their outcomes, in the order they came."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args), timeout=HANG)
    results: Queue[Outcome] = context.Queue()
    processes = [
        context.Process(target=work, args=(database_url, *arg, barrier, results)) for arg in args
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=HANG) for _ in processes]
    finally:
        for process in processes:
            process.join(HANG)
            if process.exitcode is None:
                process.kill()
                process.join(HANG)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return outcomes


def _run(results: Queue[Outcome], work: Callable[[], Coroutine[Any, Any, Outcome]]) -> None:
    try:
        results.put(asyncio.run(work()))
    except BaseException:
        results.put(("error", traceback.format_exc()))


async def _meet(engine: Engine, barrier: Barrier) -> None:
    """Connect (so that no process is let go still connecting), then wait for the others."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    await asyncio.to_thread(barrier.wait)


def migrate(database_url: str, barrier: Barrier, results: Queue[Outcome]) -> None:
    """Migrate to head; ("migrated", the revision the database is at after)."""

    async def work() -> Outcome:
        engine = make_engine(database_url)
        try:
            await _meet(engine, barrier)
            await upgrade(engine)
            return "migrated", str(await current_revision(engine))
        finally:
            await engine.dispose()

    _run(results, work)


def bootstrap(database_url: str, state_dir: str, barrier: Barrier, results: Queue[Outcome]) -> None:
    """Bootstrap as the mcpd of `state_dir`: ("created", `state_dir`, the admin's
    password), or ("found", `state_dir`, the state dir of the mcpd that created it)."""

    async def work() -> Outcome:
        engine = make_engine(database_url)
        try:
            sessions = make_sessionmaker(engine)
            identity = IdentityService(sessions, ObjectService(sessions))
            await _meet(engine, barrier)
            outcome = await identity.bootstrap(Bootstrapper("racer", state_dir))
            if isinstance(outcome, AdminCreated):
                return "created", state_dir, outcome.password
            return "found", state_dir, outcome.creator.state_dir if outcome.creator else ""
        finally:
            await engine.dispose()

    _run(results, work)
