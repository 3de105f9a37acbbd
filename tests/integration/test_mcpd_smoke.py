"""mcpd starts on SQLite and PostgreSQL, bootstraps its admin, and serves the API; one mcpd
per state dir and per SQLite file, replicas on PostgreSQL sharing a state dir; a database
out of reach said in one line."""

from __future__ import annotations

import signal
import socket
import stat
from pathlib import Path

import psycopg
import pytest

from tests.support.mcpd import Mcpd, failed_start, running_mcpd, spawned_mcpd
from tests.support.postgres import PostgresServer, free_port

pytestmark = pytest.mark.integration


def test_first_start_writes_a_private_context_and_admin_password(mcpd: Mcpd) -> None:
    for name in ("config", "initial-admin-password"):
        mode = stat.S_IMODE((mcpd.state_dir / name).stat().st_mode)
        assert mode == 0o600, name
    with mcpd.client() as client:
        me = client.get("/api/v1/auth/me").json()
    assert me["user"] == "admin"


def test_the_seeded_default_backend_exists(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        backend = client.get("/api/v1/secretbackends/default").json()
    assert backend["spec"] == {"type": "plaintext", "default": True}


def test_a_second_mcpd_on_the_same_state_dir_is_refused_naming_the_lock_and_its_pid(
    tmp_path: Path,
) -> None:
    state, database_url = tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}"
    with running_mcpd(state, database_url) as first:
        refused = failed_start(state, database_url)
        assert refused.returncode == 2
        assert f"pid {first.process.pid} holds {state / 'mcpd.lock'}" in refused.log, refused.log
        with first.client() as client:
            assert client.get("/readyz").status_code == 200
    # the lock dies with its process: the file left behind stops nobody
    with running_mcpd(state, database_url):
        pass


def test_a_second_mcpd_on_the_same_sqlite_file_is_refused_though_its_state_dir_differs(
    tmp_path: Path,
) -> None:
    database = tmp_path / "mcpd.db"
    with running_mcpd(tmp_path / "one", f"sqlite:///{database}") as first:
        refused = failed_start(tmp_path / "two", f"sqlite:///{database}")

        assert refused.returncode == 2
        assert refused.log == (
            f"mcpd: error: the database {database} is in use: pid {first.process.pid} holds "
            f"{database}.lock (a running mcpd); SQLite serves one mcpd: stop it first, give "
            "another --database-url, or run replicas on PostgreSQL\n"
        )
        assert [p.name for p in (tmp_path / "two").iterdir()] == ["mcpd.lock"]
        with first.client() as client:
            assert client.get("/readyz").status_code == 200


def test_mcpd_replicas_on_postgresql_share_a_state_dir_and_sqlite_may_not_join_them(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    state, database_url = tmp_path / "state", postgres.create_database()
    with (
        running_mcpd(state, database_url) as first,
        running_mcpd(state, database_url, log=tmp_path / "second.log") as second,
    ):
        for replica in (first, second):
            with replica.client() as client:
                assert client.get("/api/v1/auth/me").json()["user"] == "admin"
        # the admin was created in this very state dir: nothing to tell
        assert "the admin was created" not in second.logged()

        refused = failed_start(state, f"sqlite:///{tmp_path / 'mcpd.db'}")

    assert refused.returncode == 2
    assert (
        f"mcpd: error: the state dir {state} is in use: mcpd replicas on PostgreSQL share "
        f"{state / 'mcpd.lock'}; only mcpd on PostgreSQL may share a state dir" in refused.log
    )


def test_a_database_out_of_reach_is_one_line_naming_it_with_its_password_masked(
    tmp_path: Path,
) -> None:
    port = free_port()

    refused = failed_start(tmp_path / "state", f"postgresql://mcpd:secret@127.0.0.1:{port}/mcpd")

    assert refused.returncode == 2
    [line] = refused.log.splitlines()
    assert line.startswith(
        f"mcpd: error: postgresql://mcpd:***@127.0.0.1:{port}/mcpd: the database does not "
        "answer: connection failed: "
    )
    assert "secret" not in refused.log


def test_a_restart_says_nothing_new_and_another_mcpd_is_told_how_to_log_in_as_the_admin(
    database_url: str, tmp_path: Path
) -> None:
    first = (tmp_path / "first").resolve()
    with running_mcpd(first, database_url) as started:
        assert "first start: created user admin" in started.logged()
    with running_mcpd(first, database_url) as again:
        log = again.logged()
    assert "first start" not in log
    assert "the admin was created" not in log

    # until the loops have a leader, the other's state repo may well be refused: what
    # matters here is what it says about the admin before
    with spawned_mcpd(tmp_path / "other", database_url) as other:
        other.settle()
        log = other.logged()

    assert (
        f"INFO mcpd: the admin was created by mcpd on {socket.gethostname()} (state dir "
        f"{first}): its initial password is in {first / 'initial-admin-password'}; log in "
        f"with `mcpctl login {other.url} --username admin`"
    ) in log, log
    assert not (tmp_path / "other" / "initial-admin-password").exists()
    assert not (tmp_path / "other" / "config").exists()


def test_sigterm_stops_mcpd_cleanly_and_lets_the_lease_go(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """An orchestrator stops mcpd with SIGTERM: it must stop as on SIGINT, through its
    stop (the last export, then the lease let go, so a follower takes over at once)."""
    database = postgres.create_database()
    with running_mcpd(tmp_path / "state", database) as mcpd:
        mcpd.process.send_signal(signal.SIGTERM)
        code = mcpd.process.wait(timeout=120)
        logged = mcpd.logged()

    assert code == 0, logged
    with psycopg.connect(database) as connection:
        row = connection.execute(
            "SELECT holder, expires_at FROM leases WHERE name = 'leader'"
        ).fetchone()
    assert row is not None
    assert row[0], "nobody ever held the lease"
    assert row[1] == 0.0, f"the lease was not let go: {row}"
