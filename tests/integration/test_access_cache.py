"""The access cache: a request that hits it costs no query; a change drops it.

mcpd's services in this process, on SQLite and PostgreSQL; the statements
sent to the database are counted (work bounded by count, not by time).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from mcpctl.access import cache
from mcpctl.access.policy import SYSTEM
from mcpctl.errors import Forbidden
from mcpctl.identity import AdminCreated, Bootstrapper, IdentityService
from mcpctl.identity.credentials import Unauthenticated
from mcpctl.objects import ObjectService
from mcpctl.schemas import Rbac, Server
from mcpctl.store import make_engine, make_sessionmaker, upgrade
from tests.support.manifests import binding, manifest

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-battery"


@dataclass
class Mcpd:
    objects: ObjectService
    identity: IdentityService
    statements: list[str]
    admin: str = ""


@asynccontextmanager
async def services(database_url: str) -> AsyncIterator[Mcpd]:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        statements: list[str] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        objects = ObjectService(make_sessionmaker(engine))
        identity = IdentityService(make_sessionmaker(engine), objects)
        yield Mcpd(objects, identity, statements)
    finally:
        await engine.dispose()


async def a_user(mcpd: Mcpd, name: str, *bindings: dict[str, Any]) -> str:
    """A User holding `bindings`, logged in: its session token."""
    items = [manifest("User", name, {"email": f"{name}@example.com"})]
    if bindings:
        subjects = [{"kind": "User", "name": name}]
        items.append(manifest("Rbac", name, {"subjects": subjects, "bindings": list(bindings)}))
    await mcpd.objects.apply(SYSTEM, items)
    admin = await mcpd.identity.authenticate(await admin_session(mcpd))
    await mcpd.identity.set_password(admin, name, PASSWORD)
    return (await mcpd.identity.login(name, PASSWORD)).token


async def admin_session(mcpd: Mcpd) -> str:
    """The first start's admin session (made on the first call)."""
    if not mcpd.admin:
        made = await mcpd.identity.bootstrap(Bootstrapper("test", "nowhere"))
        assert isinstance(made, AdminCreated)
        mcpd.admin = made.token
    return mcpd.admin


def run(database_url: str, test: Callable[[Mcpd], Awaitable[None]]) -> None:
    async def go() -> None:
        async with services(database_url) as mcpd:
            await admin_session(mcpd)
            await test(mcpd)

    asyncio.run(go())


def test_a_request_that_hits_the_cache_sends_only_its_own_query(database_url: str) -> None:
    async def test(mcpd: Mcpd) -> None:
        await mcpd.objects.apply(
            SYSTEM,
            [manifest("Server", "s", {"command": ["x"]})]
            + [
                manifest(
                    "Rbac",
                    f"r{i}",
                    {
                        "subjects": [{"kind": "User", "name": "admin"}],
                        "bindings": [binding("view", "servers")],
                    },
                )
                for i in range(30)
            ],
        )
        token = await a_user(mcpd, "reader", binding("view", "servers"))
        await mcpd.objects.get(await mcpd.identity.authenticate(token), Server, None, "s")
        mcpd.statements.clear()
        rounds = 20
        for _ in range(rounds):
            principal = await mcpd.identity.authenticate(token)
            await mcpd.objects.get(principal, Server, None, "s")
        # each round reads its object; the epoch is looked at no more than once a round
        # (once a second: a round slower than that on a busy machine); without the cache a
        # round also reads the session and every Rbac and Group (3 or more)
        assert len(mcpd.statements) <= 2 * rounds, mcpd.statements

    run(database_url, test)


def test_a_change_in_this_process_takes_effect_at_once(database_url: str) -> None:
    async def test(mcpd: Mcpd) -> None:
        await mcpd.objects.apply(SYSTEM, [manifest("Server", "s", {"command": ["x"]})])
        token = await a_user(mcpd, "ann", binding("view", "servers"))
        ann = await mcpd.identity.authenticate(token)
        await mcpd.objects.get(ann, Server, None, "s")

        await mcpd.objects.delete(SYSTEM, Rbac, None, "ann")
        with pytest.raises(Forbidden):
            await mcpd.objects.get(ann, Server, None, "s")

        await mcpd.identity.logout(token)
        with pytest.raises(Unauthenticated):
            await mcpd.identity.authenticate(token)

    run(database_url, test)


def test_another_process_change_is_seen_at_the_next_look_at_the_epoch(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def test(mcpd: Mcpd) -> None:
        token = await a_user(mcpd, "bob", binding("view", "servers"))
        await mcpd.identity.authenticate(token)
        # another mcpd on the same database (another replica, `mcpd admin-reset`) logs bob out
        async with services(database_url) as other:
            await other.identity.logout(token)
        monkeypatch.setattr(cache, "POLL", 3600.0)
        assert (await mcpd.identity.authenticate(token)).name == "bob"  # not looked yet
        monkeypatch.setattr(cache, "POLL", 0.0)
        with pytest.raises(Unauthenticated):
            await mcpd.identity.authenticate(token)

    run(database_url, test)
