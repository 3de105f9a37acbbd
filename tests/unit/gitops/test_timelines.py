"""Timeline branches in a real bare repository: names, notes and their order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcpctl.staterepo import Author, StateRepo
from mcpctl.staterepo.timelines import list_timelines, save_timeline

AUTHOR = Author("ann", "ann@example.com")
NOW = datetime(2026, 11, 25, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path: Path) -> StateRepo:
    return StateRepo.open_or_init(tmp_path / "state.git")


def save_after_a_write(repo: StateRepo, index: int, when: datetime) -> str:
    """A write on main, then its head saved as a timeline (as a restore does); the name."""
    repo.commit_files({f"servers/s{index}.yaml": f"n: {index}\n".encode()}, AUTHOR, "write")
    saved = save_timeline(repo, f"restore {index}", when)
    assert saved is not None
    return saved.name


def test_timelines_saved_within_one_second_are_listed_newest_first(repo: StateRepo) -> None:
    # the names carry whole seconds only: the order comes from main's history
    names = [save_after_a_write(repo, i, NOW) for i in range(5)]

    listed = list_timelines(repo)

    assert [t.name for t in listed] == names[::-1]
    assert [t.note for t in listed] == [f"restore {i}" for i in reversed(range(5))]


def test_timelines_are_listed_by_the_time_they_were_saved(repo: StateRepo) -> None:
    names = [save_after_a_write(repo, i, NOW + timedelta(seconds=i)) for i in range(3)]

    listed = list_timelines(repo)

    assert [t.name for t in listed] == names[::-1]
    assert [t.saved_at for t in listed] == [NOW + timedelta(seconds=i) for i in (2, 1, 0)]
    assert listed[0].name == f"20261125T101502Z-{listed[0].commit[:12]}"
