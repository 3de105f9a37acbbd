"""Replicas starting at once on one empty PostgreSQL database: the schema is migrated and
the admin created once, nobody fails for it, and every mcpd says something clear.

The races are run at two levels: the store's migrations and identity's bootstrap in
several processes let go at once (`tests/support/racing.py`), a few rounds of fresh
databases each; and whole mcpd processes started together.
"""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from mcpctl.identity import IdentityService
from mcpctl.objects import ObjectService
from mcpctl.store import (
    ChangeRow,
    CredentialRow,
    SessionRow,
    head_revision,
    make_engine,
    make_sessionmaker,
    upgrade,
)
from tests.support import racing
from tests.support.mcpd import spawned_mcpd
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

#: Fresh databases raced on, and processes racing on each.
ROUNDS = 3
RACERS = 4


def migrated(database_url: str) -> None:
    async def run() -> None:
        engine = make_engine(database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_processes_migrating_one_empty_database_at_once_all_end_at_head(
    postgres: PostgresServer,
) -> None:
    for _ in range(ROUNDS):
        database_url = postgres.create_database()

        outcomes = racing.race(racing.migrate, database_url, *[()] * RACERS)

        assert outcomes == [("migrated", head_revision())] * RACERS


def test_processes_bootstrapping_one_database_at_once_create_the_admin_once(
    postgres: PostgresServer,
) -> None:
    for _ in range(ROUNDS):
        database_url = postgres.create_database()
        migrated(database_url)
        state_dirs = [f"/replica-{n}" for n in range(RACERS)]

        outcomes = racing.race(racing.bootstrap, database_url, *[(d,) for d in state_dirs])

        assert [o for o in outcomes if o[0] == "error"] == []
        created = [o for o in outcomes if o[0] == "created"]
        assert len(created) == 1, outcomes
        _, creator, password = created[0]
        # the others waited for it, and name it
        found = sorted((o[1], o[2]) for o in outcomes if o[0] == "found")
        assert found == [(d, creator) for d in state_dirs if d != creator]
        assert_bootstrapped_once(database_url, password)


def assert_bootstrapped_once(database_url: str, password: str) -> None:
    """One password and one session for the admin, the seed written once, and the
    password logs in."""

    async def check() -> tuple[int, int, int]:
        engine = make_engine(database_url)
        try:
            sessions = make_sessionmaker(engine)
            async with sessions() as session:
                counts = [
                    await session.scalar(select(func.count()).select_from(table))
                    for table in (CredentialRow, SessionRow, ChangeRow)
                ]
            identity = IdentityService(sessions, ObjectService(sessions))
            await identity.login("admin", password)  # after the counts: it makes a session
            return counts[0] or 0, counts[1] or 0, counts[2] or 0
        finally:
            await engine.dispose()

    # one password and one session (the CLI context's), and 3 seed objects written once
    assert asyncio.run(check()) == (1, 1, 3)


def test_three_mcpd_starting_at_once_on_one_empty_database_create_the_admin_once(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Each with a state dir of its own: all run, one leads and creates the admin (an mcpd
    refused would say so in one line). The others say where its password is, once the
    leader has made it, and log in with it."""
    database_url = postgres.create_database()
    states = [(tmp_path / f"replica-{n}").resolve() for n in range(3)]
    with ExitStack() as stack:
        replicas = [stack.enter_context(spawned_mcpd(state, database_url)) for state in states]

        ready = [replica.settle() for replica in replicas]

        logs = [replica.logged() for replica in replicas]
        for replica, log in zip(replicas, logs, strict=True):
            assert "Traceback" not in log, log
            if replica.process.poll() is not None:
                assert replica.process.returncode == 2, log
                assert log.splitlines()[-1].startswith("mcpd: error: "), log
        holders = [state for state in states if (state / "initial-admin-password").exists()]
        assert len(holders) == 1, logs
        creator = holders[0]
        password = (creator / "initial-admin-password").read_text().strip()
        assert any(ready), logs
        told = (
            f"the admin was created by mcpd on {socket.gethostname()} (state dir {creator}): "
            f"its initial password is in {creator / 'initial-admin-password'}; log in with "
        )
        for state, replica, up, log in zip(states, replicas, ready, logs, strict=True):
            if not up:
                continue
            if state == creator:
                assert "first start: created user admin" in log
            else:  # a follower says it once the leader has made the admin
                hint = told + f"`mcpctl login {replica.url} --username admin`"
                deadline = time.monotonic() + 120
                while hint not in replica.logged():
                    assert time.monotonic() < deadline, replica.logged()
                    time.sleep(0.05)
                assert not (state / "config").exists()
            login = {"username": "admin", "password": password}
            answer = httpx.post(f"{replica.url}/api/v1/auth/login", json=login, timeout=120)
            assert answer.status_code == 200, answer.text
