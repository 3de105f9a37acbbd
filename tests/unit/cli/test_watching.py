"""What `apply --watch` watches, which changed paths start a round, and how a round is told."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from watchfiles import Change

from mcpctl.cli.watching import ManifestFilter, describe_changes, summarize, watch_roots
from mcpctl.manifests import Change as ObjectChange
from mcpctl.manifests import ChangeSet


def touch(path: Path, text: str = "kind: Server\n") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A resolved temp dir (the watcher reports paths under the resolved roots)."""
    return Path(os.path.realpath(tmp_path))


@pytest.mark.parametrize("name", ["a.yaml", "a.yml", "a.json", "sub/deep/b.yaml"])
def test_manifests_under_a_directory_start_a_round(root: Path, name: str) -> None:
    (root / "m").mkdir()
    accepts = ManifestFilter([str(root / "m")])

    assert accepts(Change.modified, str(root / "m" / name))
    assert accepts(Change.added, str(root / "m" / name))
    assert accepts(Change.deleted, str(root / "m" / name))


@pytest.mark.parametrize(
    "name",
    [
        ".a.yaml.swp",  # vim
        ".a.yaml",  # hidden
        "a.yaml~",  # backup
        "#a.yaml#",  # emacs auto-save
        ".#a.yaml",  # emacs lock
        "4913",  # vim's check that it may write here
        "a.yaml.tmp",
        "a.yaml___jb_tmp___",  # JetBrains
        "notes.txt",
        ".git/config.yaml",
        "sub/.hidden/x.yaml",
    ],
)
def test_editor_files_hidden_files_and_other_files_do_not(root: Path, name: str) -> None:
    (root / "m").mkdir()
    accepts = ManifestFilter([str(root / "m")])

    assert not accepts(Change.modified, str(root / "m" / name))
    assert not accepts(Change.added, str(root / "m" / name))


def test_a_hidden_directory_given_is_watched_like_any_other(root: Path) -> None:
    (root / ".config").mkdir()
    accepts = ManifestFilter([str(root / ".config")])

    assert accepts(Change.modified, str(root / ".config" / "a.yaml"))


def test_a_file_given_by_name_counts_alone_whatever_its_name(root: Path) -> None:
    given = touch(root / "server.manifest")
    accepts = ManifestFilter([given])

    assert accepts(Change.modified, given)
    assert accepts(Change.added, given)  # saved by renaming a new file over it
    assert not accepts(Change.modified, str(root / "other.yaml"))


def test_a_directory_moved_away_counts_if_it_held_manifests_read(root: Path) -> None:
    (root / "m").mkdir()
    accepts = ManifestFilter([str(root / "m")])
    accepts.remember([str(root / "m" / "sub" / "a.yaml")])

    assert accepts(Change.deleted, str(root / "m" / "sub"))
    assert not accepts(Change.deleted, str(root / "m" / "empty"))


def test_a_directory_moved_in_counts_if_it_holds_manifests(root: Path) -> None:
    (root / "m" / "empty").mkdir(parents=True)
    touch(root / "m" / "full" / "a.yaml")
    accepts = ManifestFilter([str(root / "m")])

    assert accepts(Change.added, str(root / "m" / "full"))
    assert not accepts(Change.added, str(root / "m" / "empty"))


def test_roots_are_the_directories_and_the_directories_of_files_outside_them(root: Path) -> None:
    (root / "m" / "sub").mkdir(parents=True)
    inside = touch(root / "m" / "x.yaml")
    outside = touch(root / "elsewhere" / "y.yaml")

    assert watch_roots([str(root / "m"), str(root / "m" / "sub"), inside, outside]) == (
        [str(root / "m"), str(root / "elsewhere")],
        True,
    )
    assert watch_roots([inside, outside]) == ([str(root / "m"), str(root / "elsewhere")], False)


def test_a_round_says_what_became_of_each_path_not_which_events_came(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root)
    kept = touch(root / "m" / "a.yaml")
    new = touch(root / "m" / "b.yaml")
    gone = str(root / "m" / "c.yaml")
    fleeting = str(root / "m" / "d.yaml")

    text = describe_changes([kept, kept, new, gone, fleeting], known={kept, gone})

    assert text == "m/a.yaml changed; m/b.yaml added; m/c.yaml deleted"
    assert describe_changes([fleeting], known=set()) == "files changed"


def test_the_summary_counts_by_what_kubectl_says() -> None:
    changes = ChangeSet(
        [
            ObjectChange("remove", ("Server", None, "old")),
            ObjectChange("add", ("Server", None, "a")),
            ObjectChange("change", ("Server", None, "b")),
            ObjectChange("change", ("Server", None, "c")),
        ],
        unchanged=3,
    )

    assert (
        summarize(changes) == "applied 4 changes (1 created, 2 configured, 1 pruned), 3 unchanged"
    )
    assert summarize(ChangeSet([ObjectChange("add", ("Server", None, "a"))])) == (
        "applied 1 change (1 created)"
    )
    assert summarize(ChangeSet([], unchanged=2)) == "no changes (2 unchanged)"
