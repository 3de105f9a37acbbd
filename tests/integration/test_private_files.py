"""mcpd keeps its state dir private: what it creates there is for its own user alone.

Each test starts mcpd under the umask 022 (what a login shell usually has), so
that whatever is private is made so by mcpd. On SQLite the database is mcpd's
default, `mcpd.db` in the state dir, with its WAL and shared memory beside it.
The files are looked at while mcpd runs, when the WAL exists.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.gitrepo import Clone, quiet
from tests.support.manifests import manifest, server
from tests.support.mcpd import failed_start, running_mcpd
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The umask 022 for this test and the mcpd it starts (which inherits it)."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """None for mcpd's default (SQLite in the state dir), else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.create_database()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def expected_mode(relative: Path, *, directory: bool) -> int:
    """Directories 0700, files 0600; git's objects read-only (0400), its hook executable."""
    if directory:
        return 0o700
    if relative.parts[:2] == ("state.git", "objects"):
        return 0o400
    if relative == Path("state.git/hooks/pre-receive"):
        return 0o700
    return 0o600


def not_private(state: Path) -> list[str]:
    """Every path under `state` (not `state` itself) whose mode is not the expected one."""
    wrong = []
    for top, directories, files in os.walk(state):
        for name in directories + files:
            path = Path(top) / name
            assert not path.is_symlink(), path
            relative = path.relative_to(state)
            want = expected_mode(relative, directory=name in directories)
            if mode_of(path) != want:
                wrong.append(f"{relative}: {mode_of(path):04o}, not {want:04o}")
    return wrong


def test_everything_mcpd_creates_is_private_though_the_state_dir_is_open(
    database: str | None, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    with running_mcpd(state, database) as mcpd, mcpd.client() as client:
        items = [
            manifest("Secret", "github", {"data": {"token": "ghp_private"}}),
            server("one", replicas=0),
        ]
        client.post("/api/v1/apply", json={"items": items}).raise_for_status()
        for n in range(3):
            answer = client.put("/api/v1/servers/one", json=server("one", f"cmd-{n}", replicas=0))
            answer.raise_for_status()
        quiet(client)  # the clone starts from main with every write in it
        clone = Clone.of(mcpd, tmp_path / "clone")  # git's own processes write into the repo
        clone.write("servers/pushed.yaml", yaml.safe_dump(server("pushed", replicas=0)))
        clone.commit("Add pushed")
        assert clone.push().returncode == 0
        quiet(client)
        created = {p.name for p in state.iterdir()}
        wrong = not_private(state)
        log = mcpd.log.read_text()

    expected = {"state.git", "sealing.key", "ssh", "config", "initial-admin-password"}
    if database is None:
        expected |= {"mcpd.db", "mcpd.db-wal", "mcpd.db-shm"}
    assert expected <= created
    assert wrong == []
    # mcpd leaves the dir's own mode to whoever set it, and says how to close it
    assert mode_of(state) == 0o755
    warnings = [line for line in log.splitlines() if " WARNING " in line and "state dir" in line]
    assert len(warnings) == 1, log
    assert f"run `chmod 700 {state}`" in warnings[0]


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757], ids=oct)
def test_a_state_dir_others_may_write_to_is_refused_with_the_fix(mode: int, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(mode)

    refused = failed_start(state)

    assert refused.returncode == 2
    assert f"mcpd: error: the state dir {state} is writable by other users" in refused.log
    assert f"run `chmod 700 {state}`" in refused.log
    assert list(state.iterdir()) == []  # refused before anything was created
    assert mode_of(state) == mode


def test_a_state_dir_mcpd_creates_is_private_and_not_warned_about(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_mcpd(state) as mcpd:
        log = mcpd.log.read_text()
        wrong = not_private(state)

    assert mode_of(state) == 0o700
    assert wrong == []
    assert "state dir" not in log
