"""Contention in a real bare repository: another git process moves main or holds a lock file
while the state repo writes, and the state repo says so with a type of its own."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pygit2
import pytest

from mcpctl.errors import BackendUnavailable, Contention
from mcpctl.staterepo import Author, LockHeld, RefMoved, StateRepo
from mcpctl.staterepo.contention import contention_in
from mcpctl.staterepo.timelines import NOTES_REF, save_timeline

AUTHOR = Author("ann", "ann@example.com")
#: The other writer's git: no config of the machine's, an identity of its own.
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "GIT_AUTHOR_NAME": "other",
    "GIT_AUTHOR_EMAIL": "other@example.com",
    "GIT_COMMITTER_NAME": "other",
    "GIT_COMMITTER_EMAIL": "other@example.com",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=ENV,
    )
    return done.stdout.strip()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.git"


@pytest.fixture
def repo(path: Path) -> StateRepo:
    return StateRepo.open_or_init(path)


def test_main_moved_by_another_process_under_a_commit_is_ref_moved(
    repo: StateRepo, path: Path
) -> None:
    head = repo.head()
    assert head is not None
    signature = pygit2.Signature(AUTHOR.name, AUTHOR.email)
    ours = repo.repo.create_commit(None, signature, signature, "ours", head.tree_id, [head.id])
    # another writer moves main between our read of it and our compare-and-swap
    theirs = git(path, "commit-tree", "main^{tree}", "-p", "main", "-m", "another writer")
    git(path, "update-ref", "refs/heads/main", theirs)

    with pytest.raises(RefMoved):
        repo.move_main(ours, head.id, "ours")
    assert git(path, "rev-parse", "main") == theirs  # nothing overwritten

    # built again on where main is now, the commit lands
    assert repo.commit_files({"servers/a.yaml": b"a\n"}, AUTHOR, "add a") is not None
    assert git(path, "rev-parse", "main~1") == theirs


def test_a_lock_file_held_by_another_process_is_lock_held_until_it_goes(
    repo: StateRepo, path: Path
) -> None:
    before = git(path, "rev-parse", "main")
    lock = path / "refs" / "heads" / "main.lock"
    lock.touch()

    with pytest.raises(LockHeld) as held:
        repo.commit_files({"servers/a.yaml": b"a\n"}, AUTHOR, "add a")
    assert isinstance(held.value, Contention)
    assert isinstance(held.value, BackendUnavailable)  # what an edge answers 503 to
    assert "main.lock" in str(held.value)
    assert git(path, "rev-parse", "main") == before

    lock.unlink()
    assert repo.commit_files({"servers/a.yaml": b"a\n"}, AUTHOR, "add a") is not None


def test_a_timeline_meeting_a_held_notes_lock_is_lock_held(repo: StateRepo, path: Path) -> None:
    (path / f"{NOTES_REF}.lock").parent.mkdir(parents=True, exist_ok=True)
    (path / f"{NOTES_REF}.lock").touch()
    with pytest.raises(LockHeld):
        save_timeline(repo, "a restore", datetime(2025, 1, 2, tzinfo=UTC))


def test_gits_own_words_for_contention_are_recognised_and_nothing_else() -> None:
    held = (
        "error: cannot lock ref 'refs/mirror/main': Unable to create "
        "'/s/state.git/refs/mirror/main.lock': File exists.\n\n"
        "Another git process seems to be running in this repository, e.g.\n"
        "an editor opened by 'git commit'."
    )
    found = contention_in(held, "fetch failed")
    assert isinstance(found, LockHeld)
    assert str(found) == (
        "fetch failed: error: cannot lock ref 'refs/mirror/main': Unable to create "
        "'/s/state.git/refs/mirror/main.lock': File exists."
    )
    moved = "fatal: cannot lock ref 'refs/heads/main': is at 1a2b but expected 3c4d"
    assert isinstance(contention_in(moved, "update"), RefMoved)
    # a name clash: no retry fixes it
    clash = "error: cannot lock ref 'refs/mirror/main': 'refs/mirror' exists"
    assert contention_in(clash, "fetch failed") is None
    assert contention_in("fatal: repository not found", "fetch failed") is None
