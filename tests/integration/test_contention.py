"""Contention is not an error: another process moves or locks `main` under a real mcpd.

docs/architecture.md, "mcpd start and stop order" (the supervisor) and "Restore and
timelines". Another writer of the state repo (here the git CLI, as git's own gc or
an operator would be) moves `main` between the exporter's commit and its
compare-and-swap, or holds `refs/heads/main.lock`. The export is retried quietly and
counted, lands once, and the log holds no traceback. Windows are opened by a fault
point or by the lock file itself, and closed by the test: nothing is timed.

The race is the state repo's, not the database's: SQLite only.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpctl.reconciler.supervisor import CONTENTION_ATTEMPTS
from tests.support.gitrepo import assert_in_sync, bare, main_of, quiet
from tests.support.manifests import server
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, running_mcpd

pytestmark = pytest.mark.integration

#: The other writer: the git CLI, with no config of the machine's and a name of its own.
OTHER = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "GIT_AUTHOR_NAME": "other",
    "GIT_AUTHOR_EMAIL": "other@example.com",
    "GIT_COMMITTER_NAME": "other",
    "GIT_COMMITTER_EMAIL": "other@example.com",
}


def other_git(state: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(state / "state.git"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=OTHER,
    )
    return done.stdout.strip()


def main_lock(state: Path) -> Path:
    return state / "state.git" / "refs" / "heads" / "main.lock"


def contention(client: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/api/v1/gitops/status").raise_for_status().json()
    counts: dict[str, Any] = answer["contention"]
    return counts


def wait_contended(client: httpx.Client, loop: str, at_least: int) -> None:
    """Wait until `loop` met contention `at_least` times (the limit is a hang guard)."""
    end = time.monotonic() + WAIT_TIMEOUT
    while contention(client)["loops"][loop] < at_least:
        assert time.monotonic() < end, f"no contention counted: {contention(client)}"
        time.sleep(0.02)


def exported(state: Path, change: int) -> int:
    """How many commits of main say they export `change` (its `Mcpctl-Change` trailer)."""
    trailers = bare(state, "log", "--format=%(trailers:key=Mcpctl-Change,valueonly)", "main")
    return trailers.split().count(str(change))


def assert_no_traceback(mcpd: Mcpd) -> None:
    logged = mcpd.logged()
    assert "Traceback" not in logged, logged
    assert " ERROR " not in logged, logged


def test_an_export_meeting_main_locked_by_another_process_lands_once_it_is_free(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with running_mcpd(state) as mcpd, mcpd.client() as client:
        base = quiet(client)
        main_lock(state).touch()  # another process is writing main
        client.post("/api/v1/servers", json=server("x")).raise_for_status()

        wait_contended(client, "git-replica", 2)  # retried, not given up
        status = client.get("/api/v1/gitops/status").raise_for_status().json()
        assert status["pending"] is True
        assert main_of(state) == base["head"]

        main_lock(state).unlink()
        status = assert_in_sync(client)
        assert exported(state, status["lastChange"]) == 1
        assert status["contention"]["requests"] == {"push": 0, "restore": 0, "sync": 0}
        assert "servers/x.yaml" in bare(state, "ls-tree", "-r", "--name-only", "main")
    assert_no_traceback(mcpd)


def test_an_export_whose_main_moved_under_it_lands_once_on_top_of_the_other_commit(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with running_mcpd(state):
        pass  # the first start's exports are done: the next start commits nothing at once
    release = tmp_path / "release"
    env = {"MCPD_FAULTS": f"export.after-objects=hold:{release}"}
    with running_mcpd(state, env=env) as mcpd, mcpd.client() as client:
        base = quiet(client)
        client.post("/api/v1/servers", json=server("x")).raise_for_status()
        # the exporter has written its commit on main as it was, and not moved main yet
        mcpd.wait_logged("fault export.after-objects: holding")
        theirs = other_git(state, "commit-tree", "main^{tree}", "-p", "main", "-m", "another")
        other_git(state, "update-ref", "refs/heads/main", theirs, base["head"])
        release.touch()

        status = assert_in_sync(client)
        assert status["contention"]["loops"]["git-replica"] >= 1
        assert exported(state, status["lastChange"]) == 1
        # nothing of the other writer's is lost: the export is built on top of it
        assert bare(state, "rev-parse", "main~1").strip() == theirs
    assert_no_traceback(mcpd)


def test_a_restore_that_cannot_move_main_answers_503_and_main_follows_once_free(
    tmp_path: Path,
) -> None:
    """The database is restored before main moves: a lock held throughout the retries gets
    a 503 that says so, and the exporter commits the restore once the lock goes."""
    state = tmp_path / "state"
    with running_mcpd(state) as mcpd, mcpd.client() as client:
        client.post("/api/v1/servers", json=server("x", "first")).raise_for_status()
        first = quiet(client)["head"]
        client.put("/api/v1/servers/x", json=server("x", "second")).raise_for_status()
        quiet(client)

        main_lock(state).touch()
        answer = client.post("/api/v1/gitops/restore", json={"to": first})
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        problem = answer.json()
        assert problem["type"].endswith("/unavailable")
        assert f"the database is restored to {first}" in problem["detail"]
        assert "mcpd commits it on main once the state repo is free" in problem["detail"]
        requests = contention(client)["requests"]
        assert requests["restore"] == CONTENTION_ATTEMPTS - 1
        x = client.get("/api/v1/servers/x").raise_for_status().json()
        assert x["spec"]["command"] == ["first"]

        main_lock(state).unlink()
        assert_in_sync(client)
        assert "first" in bare(state, "show", "main:servers/x.yaml")
        timelines = client.get("/api/v1/gitops/timelines").raise_for_status().json()
        assert len(timelines["items"]) == 1
    assert_no_traceback(mcpd)
