"""TreeEntries writes the very tree libgit2 writes, readable by libgit2 and the git CLI; the
repo they fill with loose objects is packed by `StateRepo.maintain`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpctl.staterepo.trees import BLOB, TREE, TreeEntries

#: Names that sort differently as a file and as a directory ("a" < "a-b" < "a/"),
#: with multi-byte UTF-8 among them.
NAMES = st.sampled_from(["a", "a-b", "a.yaml", "a0", "b", "é.yaml", "z", "ab", "a_"])
OPS = st.lists(
    st.tuples(st.sampled_from(["blob", "tree", "remove"]), NAMES, st.integers(0, 3)),
    max_size=30,
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> pygit2.Repository:
    return pygit2.init_repository(str(tmp_path_factory.mktemp("trees") / "r.git"), bare=True)


def objects(repo: pygit2.Repository) -> Path:
    return Path(repo.path) / "objects"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_the_same_id_and_entries_as_libgit2(
    repo: pygit2.Repository, ops: list[tuple[str, str, int]]
) -> None:
    blobs = [repo.create_blob(f"content {i}\n".encode()) for i in range(4)]
    subtree = repo.TreeBuilder()
    subtree.insert("inner.yaml", blobs[0], BLOB)
    trees = [subtree.write(), repo.TreeBuilder().write()]
    ours, theirs = TreeEntries(), repo.TreeBuilder()
    for op, name, i in ops:
        if op == "remove":
            if ours.get(name) is not None:
                ours.remove(name)
                theirs.remove(name)
            continue
        oid, mode = (blobs[i], BLOB) if op == "blob" else (trees[i % 2], TREE)
        ours.insert(name, oid, mode)
        theirs.insert(name, oid, mode)
    written = ours.write(objects(repo))
    assert written == theirs.write()
    tree = repo[written]
    assert isinstance(tree, pygit2.Tree)
    assert len(ours) == len(tree)
    again = TreeEntries.of(tree)  # read back, it writes the same object
    assert again.write(objects(repo)) == written


def test_a_large_tree_reads_back_through_libgit2_and_git(repo: pygit2.Repository) -> None:
    blob = repo.create_blob(b"kind: Server\n")
    entries = TreeEntries()
    for i in range(10_000):
        entries.insert(f"s{i}.yaml", blob, BLOB)
    oid = entries.write(objects(repo))
    path = objects(repo) / str(oid)[:2] / str(oid)[2:]
    assert path.stat().st_mode & 0o777 == 0o400  # read-only as a loose object, and private
    assert entries.write(objects(repo)) == oid  # there already: not written again
    assert not list(path.parent.glob("tmp_obj_*"))
    tree = repo[oid]
    assert isinstance(tree, pygit2.Tree)
    assert len(tree) == 10_000
    assert tree["s9999.yaml"].id == blob
    listed = subprocess.run(
        ["git", "--git-dir", repo.path, "ls-tree", str(oid)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(listed) == 10_000
    assert listed[0] == f"100644 blob {blob}\ts0.yaml"
    subprocess.run(["git", "--git-dir", repo.path, "fsck", "--strict", "--no-dangling"], check=True)


def test_an_empty_tree_is_gits_empty_tree(repo: pygit2.Repository) -> None:
    assert str(TreeEntries().write(objects(repo))) == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def test_maintain_packs_the_loose_objects_and_the_repo_reads_on(tmp_path: Path) -> None:
    from mcpctl.staterepo.repo import GC_AUTO, Author, StateRepo

    state = StateRepo.open_or_init(tmp_path / "state.git")
    files = {f"servers/s{i}.yaml": f"kind: Server # {i}\n".encode() for i in range(300)}
    state.commit_files(files, Author("a", "a@example.com"), "seed")
    for i in range(GC_AUTO // 3):  # a blob, two trees and a commit each: past the threshold
        change = {f"servers/s{i % 300}.yaml": f"kind: Server # v{i}\n".encode()}
        state.commit_files(change, Author("a", "a@example.com"), f"change {i}")
    objects = tmp_path / "state.git" / "objects"

    def loose() -> int:
        return sum(1 for d in objects.iterdir() if len(d.name) == 2 for _ in d.iterdir())

    before = loose()
    state.maintain()

    assert before > GC_AUTO
    assert loose() < GC_AUTO // 10
    assert list((objects / "pack").glob("*.pack"))
    head = state.head()
    assert head is not None
    last = max(i for i in range(GC_AUTO // 3) if i % 300 == 0)
    assert state.files()["servers/s0.yaml"] == f"kind: Server # v{last}\n".encode()
    # the next commit starts from the cached entries of trees now packed
    oid = state.commit_files({"servers/new.yaml": b"kind: Server\n"}, Author("a", "a@e.com"), "n")
    assert oid is not None
    subprocess.run(
        ["git", "--git-dir", str(tmp_path / "state.git"), "fsck", "--strict"], check=True
    )
    assert state.files()["servers/new.yaml"] == b"kind: Server\n"
