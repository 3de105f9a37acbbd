"""The leader's lease on a real PostgreSQL: renewal, takeover after expiry, and the fence.

Several `Leadership` objects on one database stand for replicas. Time is the
database's: a lease of a few seconds is let run out by waiting for it (a
poll of the lease row, bounded by a hang guard), never by a sleep that
guesses how long the machine takes.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import text

from mcpctl.errors import BackendUnavailable, Deposed
from mcpctl.reconciler.leadership import Leadership
from mcpctl.store import make_engine, make_sessionmaker, upgrade
from mcpctl.store.leases import read_lease
from mcpctl.store.replicas import FORGET
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

T = TypeVar("T")
HANG_GUARD = 120.0
LEASE = 2.0


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.create_database()


def run(url: str, body: Callable[[Callable[[str], Leadership]], Awaitable[T]]) -> T:
    """Run `body` with a maker of replicas (each its own engine) on a migrated database."""

    async def main() -> T:
        engines = []

        def replica(name: str) -> Leadership:
            engine = make_engine(url)
            engines.append(engine)
            return Leadership(make_sessionmaker(engine), name, f"http://{name}", seconds=LEASE)

        first = make_engine(url)
        try:
            await upgrade(first)
            return await body(replica)
        finally:
            await first.dispose()
            for engine in engines:
                await engine.dispose()

    return asyncio.run(main())


async def until_ended(replica: Leadership) -> None:
    """Wait until the lease has ended in the database's clock."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        async with replica.sessions() as session:
            lease = await read_lease(session)
        assert lease is not None
        if not lease.held:
            return
        assert time.monotonic() < deadline, "the lease never ended"
        await asyncio.sleep(0.1)


def test_one_replica_leads_and_the_others_follow_until_its_lease_ends(url: str) -> None:
    async def body(replica: Callable[[str], Leadership]) -> list[object]:
        a, b, c = replica("a"), replica("b"), replica("c")
        seen: list[object] = [await a.campaign(), await b.campaign(), await c.campaign()]
        seen.append(await a.campaign())  # renewed: the same term
        seen.append(a.term)
        await until_ended(a)
        seen.append(await b.campaign())  # taken over: a new term
        seen.append(b.term)
        seen.append(await a.campaign())  # the old leader is a follower now
        seen.append(a.leader_url())
        return seen

    assert run(url, body) == [True, False, False, True, 1, True, 2, False, "http://b"]


def test_a_deposed_leaders_fenced_write_is_refused_and_changes_nothing(url: str) -> None:
    async def body(replica: Callable[[str], Leadership]) -> tuple[str, int]:
        a, b = replica("a"), replica("b")
        assert await a.campaign()
        await until_ended(a)
        assert await b.campaign()
        # a does not know yet: by its own clock it may still lead, the database says no
        a._deadline = time.monotonic() + 60  # as if its clock had not run (a paused VM)
        async with a.sessions() as session, session.begin():
            await session.execute(text("CREATE TABLE effects (x int)"))

        async def effect() -> None:
            async with a.sessions() as session, session.begin():
                await session.execute(text("INSERT INTO effects VALUES (1)"))
                await a.fence(session)

        with pytest.raises(Deposed) as refused:
            await effect()
        async with a.sessions() as session:
            count = await session.scalar(text("SELECT count(*) FROM effects"))
        return str(refused.value), int(count or 0)

    message, effects = run(url, body)

    assert "term 1" in message
    assert "term 2" in message
    assert effects == 0


def test_a_takeover_waits_for_the_old_terms_fenced_transaction_in_flight(url: str) -> None:
    """The old leader fenced a transaction while it still led; the takeover raises the term
    only once it ended: the effect and the new term never overlap."""

    async def body(replica: Callable[[str], Leadership]) -> list[str]:
        a, b = replica("a"), replica("b")
        assert await a.campaign()
        order: list[str] = []
        fenced = asyncio.Event()
        finish = asyncio.Event()

        async def old_leader() -> None:
            async with a.sessions() as session, session.begin():
                await a.fence(session)
                fenced.set()
                while not finish.is_set():  # busy, not idle: PostgreSQL lets it be
                    await session.execute(text("SELECT pg_sleep(0.05)"))
            order.append("old term's effect committed")

        async def new_leader() -> None:
            await fenced.wait()
            await until_ended(a)
            attempt = asyncio.create_task(b.campaign())
            await waiting_for_the_fence(b)
            order.append("takeover waits")
            finish.set()
            try:
                took = await attempt
            except BackendUnavailable:  # its lock timeout came first: once more
                took = await b.campaign()
            assert took
            order.append(f"term {b.term} began")

        await asyncio.gather(old_leader(), new_leader())
        return order

    assert run(url, body) == ["takeover waits", "old term's effect committed", "term 2 began"]


async def waiting_for_the_fence(replica: Leadership) -> None:
    """Wait until a session waits for the fence's advisory lock (the takeover's)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        async with replica.sessions() as session:
            waiting = await session.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
        if waiting:
            return
        assert time.monotonic() < deadline, "no takeover waited for the fence"
        await asyncio.sleep(0.02)


def test_a_released_lease_is_taken_at_once(url: str) -> None:
    async def body(replica: Callable[[str], Leadership]) -> tuple[bool, bool, int | None]:
        a, b = replica("a"), replica("b")
        assert await a.campaign()
        refused = await b.campaign()
        await a.release()
        return refused, await b.campaign(), b.term

    assert run(url, body) == (False, True, 2)


def test_the_holder_renews_a_lease_that_ended_when_nobody_took_it(url: str) -> None:
    """A leader late to renew (a busy machine) keeps its term if no one took over."""

    async def body(replica: Callable[[str], Leadership]) -> tuple[bool, int | None]:
        a = replica("a")
        assert await a.campaign()
        await until_ended(a)
        return await a.campaign(), a.term

    assert run(url, body) == (True, 1)


def test_a_leader_stopped_inside_a_fenced_transaction_is_cut_off_and_the_takeover_goes_on(
    url: str,
) -> None:
    """A leader paused (SIGSTOP) inside a fenced transaction would hold the fence for ever:
    PostgreSQL ends that transaction once idle for a lease, and its effect never commits."""

    async def body(replica: Callable[[str], Leadership]) -> tuple[bool, str, int]:
        a, b = replica("a"), replica("b")
        assert await a.campaign()
        async with a.sessions() as session, session.begin():
            await session.execute(text("CREATE TABLE effects (x int)"))
        cut_off = "committed"
        try:
            async with a.sessions() as session, session.begin():
                await a.fence(session)
                await session.execute(text("INSERT INTO effects VALUES (1)"))
                await until_ended(b)  # a is "paused": its transaction idles meanwhile
                took = False
                while not took:  # the takeover waits for the fence, then PostgreSQL frees it
                    try:
                        took = await b.campaign()
                    except BackendUnavailable:
                        continue
        except Exception as e:  # its commit fails: the connection was terminated
            cut_off = type(e).__name__
        async with b.sessions() as session:
            count = await session.scalar(text("SELECT count(*) FROM effects"))
        return took, cut_off, int(count or 0)

    took, cut_off, effects = run(url, body)

    assert took
    assert cut_off != "committed"
    assert effects == 0


def test_every_campaign_says_where_its_replica_serves(url: str) -> None:
    """`store.replicas`: each replica's campaigns keep its row fresh; a new process of the
    same replica starts its row again; a replica unseen for a day is forgotten."""

    async def body(replica: Callable[[str], Leadership]) -> None:
        a, b = replica("a"), replica("b")
        assert await a.campaign()
        assert not await b.campaign()
        seen = {p.name: p for p in await a.peers()}
        assert set(seen) == {"a", "b"}
        assert (seen["a"].url, seen["a"].holder) == ("http://a", a.holder)
        first_start = seen["b"].started_at
        assert not await b.campaign()
        again = {p.name: p for p in await a.peers()}
        assert again["b"].started_at == first_start  # the same process
        b2 = replica("b")  # b restarted
        assert not await b2.campaign()
        restarted = {p.name: p for p in await a.peers()}
        assert restarted["b"].holder == b2.holder
        assert restarted["b"].started_at > first_start
        async with a.sessions() as session, session.begin():  # b unseen for a day
            await session.execute(
                text("UPDATE replicas SET seen_at = seen_at - :age WHERE name = 'b'"),
                {"age": FORGET + 1},
            )
        assert [p.name for p in await a.peers()] == ["a"]
        assert await a.campaign()  # the next heartbeat forgets it
        async with a.sessions() as session:
            names = (await session.execute(text("SELECT name FROM replicas"))).scalars().all()
        assert list(names) == ["a"]

    run(url, body)


def test_a_lease_held_by_a_gone_process_of_this_replica_is_taken_at_once(url: str) -> None:
    """A process that finds the lease held by an earlier process of its own replica whose
    address refuses connections takes the lease over before it ends; one whose earlier
    process still listens (alive, maybe paused), or another replica's, does not."""

    async def body(replica: Callable[[str], Leadership]) -> None:
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        try:
            alive_url = f"http://127.0.0.1:{listening.getsockname()[1]}"
            gone_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
            alive = replica("x")
            alive.url = alive_url
            assert await alive.campaign()
            assert await replica("x").gone_predecessor() is None  # it still listens
            await alive.release()

            old = replica("z")
            old.url = gone_url
            assert await old.campaign()
            assert await replica("y").gone_predecessor() is None  # not its own predecessor
            new = replica("z")
            assert await new.gone_predecessor() == old.holder
            term = old.term
            assert await new.campaign(preempt=old.holder)
            assert new.term == (term or 0) + 1
            with pytest.raises(Deposed):
                async with old.sessions() as session, session.begin():
                    await old.fence(session)
        finally:
            listening.close()
            closed.close()

    run(url, body)
