"""`mcpd admin-reset USER`, the break-glass, with real mcpd processes and databases.

The main use: the only admin's password is lost. admin-reset, run beside a
stopped or a running mcpd, must give a password that logs in, an Rbac granting
every permission, an audit entry and a commit on main (at once when mcpd is
stopped, at mcpd's next write when it runs), and refuse a state dir or a
database mcpd does not serve without creating anything.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.test_access import EVERYTHING
from tests.integration.test_gitops_restore import empty_database
from tests.support.gitrepo import assert_in_sync, bare, main_of, quiet, subjects
from tests.support.manifests import manifest
from tests.support.mcpd import Mcpd, mcpd_command, running_mcpd
from tests.support.postgres import free_port

pytestmark = pytest.mark.integration

AUTHOR = "mcpd admin-reset <mcpd-admin-reset@mcpctl.invalid>"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A state dir and SQLite database an mcpd served, then stopped (for the module)."""
    base = tmp_path_factory.mktemp("served")
    state, database_url = base / "state", f"sqlite:///{base / 'mcpd.db'}"
    with running_mcpd(state, database_url):
        pass
    return state, database_url


def admin_reset(state: Path, database_url: str, user: str) -> subprocess.CompletedProcess[str]:
    options = ["--state-dir", str(state), "--database-url", database_url]
    return subprocess.run(
        [*mcpd_command(), "admin-reset", user, *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def new_password(done: subprocess.CompletedProcess[str]) -> str:
    """The password admin-reset printed: stdout holds it alone, on one line."""
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1, done.stdout
    password = done.stdout.strip()
    assert len(password) >= 20
    assert password not in done.stderr
    return password


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `check` until it holds, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)


def log_in(mcpd: Mcpd, user: str, password: str) -> httpx.Response:
    with mcpd.client("") as client:
        return client.post("/api/v1/auth/login", json={"username": user, "password": password})


def session_of(mcpd: Mcpd, user: str, password: str) -> str:
    answer = log_in(mcpd, user, password)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def assert_admin(mcpd: Mcpd, token: str) -> None:
    with mcpd.client(token) as client:
        held = client.get("/api/v1/auth/me").json()["permissions"]
    assert sorted(held, key=str) == sorted(EVERYTHING, key=str)


def test_with_mcpd_stopped_a_lost_admin_password_is_reset_and_committed(
    database_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with running_mcpd(state, database_url) as first, first.client() as admin:
        kept = manifest("Server", "kept", {"command": ["x"]})
        assert admin.post("/api/v1/servers", json=kept).status_code == 201
        before = quiet(admin)["head"]
        old_session = first.admin_token
    # the password in initial-admin-password is gone, and nobody knows another

    done = admin_reset(state, database_url, "admin")

    password = new_password(done)
    assert "committed to the state repo: main is at " in done.stderr
    assert "mcpctl passwd" in done.stderr
    assert subjects(state, before) == [
        f"{AUTHOR}|mcpd|create Rbac/admin-reset-admin",
    ]
    assert "rbacs/admin-reset-admin.yaml" in bare(state, "ls-tree", "-r", "--name-only", "main")
    with running_mcpd(state, database_url) as again:
        token = session_of(again, "admin", password)
        assert_admin(again, token)
        with again.client(old_session) as client:
            assert client.get("/api/v1/auth/me").status_code == 401  # sessions ended
        with again.client(token) as client:
            assert_in_sync(client)
            assert client.get("/api/v1/servers/kept").status_code == 200
            audit = client.get("/api/v1/auditevents", params={"kind": "User"})
            entries = [e["spec"] for e in audit.json()["items"]]
            resets = [e for e in entries if e["verb"] == "admin-reset" and e["name"] == "admin"]
            assert [(e["user"], e["outcome"]) for e in resets] == [("mcpd admin-reset", "success")]


def test_a_missing_user_is_created_and_a_second_reset_changes_only_the_password(
    served: tuple[Path, str],
) -> None:
    state, database_url = served
    before = main_of(state)

    done = admin_reset(state, database_url, "rescuer")

    first = new_password(done)
    assert "created User 'rescuer'" in done.stderr
    head = main_of(state)
    assert subjects(state, before) == [f"{AUTHOR}|mcpd|2 objects: create 2"]
    # again: the User and the Rbac are there as they are (no commit), the password is new
    second = new_password(admin_reset(state, database_url, "rescuer"))
    assert main_of(state) == head
    with running_mcpd(state, database_url) as again:
        assert log_in(again, "rescuer", first).status_code == 401
        token = session_of(again, "rescuer", second)
        assert_admin(again, token)
        with again.client(token) as client:
            user = client.get("/api/v1/users/rescuer").json()
            assert user["spec"]["email"] == "rescuer@localhost.localdomain"
            assert_in_sync(client)


def test_with_mcpd_running_the_reset_works_at_once_and_is_committed_by_it(
    database_url: str, tmp_path: Path
) -> None:
    """On SQLite, mcpd commits the reset at its next write (nothing wakes its exporter
    before); on PostgreSQL, the write's notification wakes the leader at once."""
    state = tmp_path / "state"
    with running_mcpd(state, database_url) as mcpd, mcpd.client() as admin:
        before = quiet(admin)["head"]

        done = admin_reset(state, database_url, "admin")

        password = new_password(done)
        lock = state / "mcpd.lock"
        if database_url.startswith("sqlite"):  # one mcpd, holding the lock alone, its pid in it
            assert f"mcpd is running (pid {mcpd.process.pid} holds {lock})" in done.stderr
        else:  # replicas on PostgreSQL share it, and name no pid
            assert f"mcpd is running (mcpd replicas on PostgreSQL share {lock})" in done.stderr
        postgres = database_url.startswith("postgresql")
        if postgres:
            assert "the replica that leads commits this change" in done.stderr
        else:
            assert "at its next write, or when it restarts" in done.stderr
        token = session_of(mcpd, "admin", password)
        assert_admin(mcpd, token)
        # the old session ended: mcpd drops what it cached once it sees the access epoch move
        eventually(lambda: admin.get("/api/v1/auth/me").status_code == 401)
        if postgres:
            eventually(lambda: main_of(state) != before)
            assert [s.split("|")[0] for s in subjects(state, before)] == [AUTHOR]
        else:
            assert main_of(state) == before
        with mcpd.client(token) as client:
            created = client.post(
                "/api/v1/servers", json=manifest("Server", "x", {"command": ["x"]})
            )
            assert created.status_code == 201, created.text
            assert_in_sync(client)
        assert [s.split("|")[0] for s in subjects(state, before)] == [
            AUTHOR,
            "admin <admin@mcpctl.invalid>",
        ]  # on PostgreSQL too: the reset's commit came first, at once


def test_admin_reset_refuses_a_state_dir_without_a_state_repo_and_creates_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "nowhere"

    done = admin_reset(state, f"sqlite:///{state / 'mcpd.db'}", "admin")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"mcpd: error: no state repo at {state / 'state.git'}: give the --state-dir mcpd serves\n"
    )
    assert not state.exists()


def test_admin_reset_refuses_a_database_mcpd_never_made(
    served: tuple[Path, str], database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    state, _ = served
    other = empty_database(database_url, request, tmp_path / "other.db")

    done = admin_reset(state, other, "admin")

    assert done.returncode == 2
    assert done.stdout == ""
    if other.startswith("sqlite"):
        expected = f"no database at {tmp_path / 'other.db'}: give the --database-url mcpd serves"
        assert not (tmp_path / "other.db").exists()
    else:
        expected = "holds no database of mcpd: give the --database-url it serves"
    assert expected in done.stderr, done.stderr


def test_admin_reset_refuses_a_database_that_follows_another_state_repo(
    served: tuple[Path, str], tmp_path: Path
) -> None:
    state, _ = served
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    with running_mcpd(tmp_path / "other", other_db):
        pass

    done = admin_reset(state, other_db, "admin")

    assert done.returncode == 2
    assert done.stdout == ""
    assert f"does not follow the state repo {state / 'state.git'}" in done.stderr


def test_admin_reset_says_which_database_does_not_answer(served: tuple[Path, str]) -> None:
    state, _ = served
    unreachable = f"postgresql://mcpd:secret@127.0.0.1:{free_port()}/mcpd"

    done = admin_reset(state, unreachable, "admin")

    assert done.returncode == 2
    assert done.stderr.startswith(
        f"mcpd: error: {unreachable.replace('secret', '***')}: the database does not answer: "
    )
    assert "secret" not in done.stderr
