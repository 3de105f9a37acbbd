"""mcpd starts on SQLite and PostgreSQL, bootstraps its admin, and serves the API; one mcpd
per state dir; a database out of reach said in one line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.support.mcpd import Mcpd, failed_start, running_mcpd
from tests.support.postgres import free_port

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
