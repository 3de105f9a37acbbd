"""History and merges: what the mirror asks of git when mcpd's `main` meets a remote's.

The mirror (`reconciler.mirroring`) compares the fetched commit with `main`
(`descends_from`, `merge_base`), finds which objects `main` changed since the
two diverged and in which commit (`changed_since`), and, once the remote's
changes are imported, makes the merge commit whose tree is mcpd's version of
everything (`merge_commit`). The push endpoint (`api.githttp`) uses
`commit_at` and `descends_from` too, to judge a pushed commit. Blocking calls:
callers run them in a worker thread.
"""

from __future__ import annotations

import pygit2

from mcpctl.manifests.references import Key
from mcpctl.staterepo.layout import key_for
from mcpctl.staterepo.reading import tree_changes
from mcpctl.staterepo.repo import COMMITTER, StateRepo


def commit_at(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    """The commit that `rev` (an id) names, peeled from a tag if need be."""
    return repo[rev].peel(pygit2.Commit)


def descends_from(repo: pygit2.Repository, commit: pygit2.Oid, ancestor: pygit2.Oid | str) -> bool:
    """Whether `commit` has `ancestor` in its history (a commit does not descend from itself)."""
    other = ancestor if isinstance(ancestor, pygit2.Oid) else pygit2.Oid(hex=ancestor)
    return bool(repo.descendant_of(commit, other))


def merge_base(
    repo: pygit2.Repository, one: pygit2.Commit, other: pygit2.Commit
) -> pygit2.Commit | None:
    """The best common ancestor of two commits (None: they share no history)."""
    base_id = repo.merge_base(one.id, other.id)
    return repo[base_id].peel(pygit2.Commit) if base_id is not None else None


def changed_since(
    repo: pygit2.Repository, base: pygit2.Commit, head: pygit2.Commit
) -> dict[Key, tuple[str, str]]:
    """The objects `head` changed since `base`, each with (author, id) of the newest commit
    that did (walking back topologically; `head` itself, authored by mcpd, when no single
    commit is found, e.g. a change undone and redone)."""
    changed = tree_changes(repo, base.tree, head.tree)
    keys = dict.fromkeys(key for path in changed if (key := key_for(path)) is not None)
    found: dict[Key, tuple[str, str]] = {}
    walker = repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.hide(base.id)
    for commit in walker:
        if len(found) == len(keys):
            break
        parent = commit.parents[0] if commit.parents else None
        touched = tree_changes(repo, parent.tree if parent else None, commit.tree)
        for path in touched:
            key = key_for(path)
            if key in keys and key not in found:
                found[key] = (commit.author.name, str(commit.id))
    for key in keys:
        found.setdefault(key, ("mcpd", str(head.id)))
    return found


def merge_commit(
    state: StateRepo,
    head: pygit2.Commit,
    theirs: pygit2.Commit,
    base: pygit2.Commit,
    applied: list[Key],
    message: str,
) -> None:
    """`main` becomes a merge of `head` and `theirs`: `head`'s tree, plus the files of the
    objects in `applied` as `theirs` changed them since `base`."""
    repo = state.repo
    index = pygit2.Index()
    index.read_tree(head.tree)
    theirs_changes = tree_changes(repo, base.tree, theirs.tree)
    wanted = set(applied)
    for path, content in theirs_changes.items():
        if key_for(path) not in wanted:
            continue
        if content is None:
            if path in index:
                index.remove(path)
        elif isinstance(content, bytes):  # (a link or a submodule was refused by the import)
            blob = repo.create_blob(content)
            index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(repo)
    signature = pygit2.Signature(*COMMITTER)
    oid = repo.create_commit(None, signature, signature, message, tree, [head.id, theirs.id])
    state.move_main(oid, head.id, message)
