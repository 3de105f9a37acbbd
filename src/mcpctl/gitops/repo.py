"""The state repo: a bare git repository written with pygit2, without a work tree.

`StateRepo.commit_files` turns a set of file changes into one commit on
`main` (or none, when the tree would not change), writing blobs and trees
straight into the object database. Every call is blocking: mcpd runs it in a
worker thread, one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pygit2

from mcpctl.errors import BackendUnavailable
from mcpctl.gitops.layout import README, README_PATH

BRANCH = "main"
REF = f"refs/heads/{BRANCH}"
COMMITTER = ("mcpd", "mcpd@localhost")


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    @classmethod
    def of(cls, actor: str) -> Author:
        """The git identity of an acting user (or `serviceaccount:NAME`)."""
        safe = actor.replace(":", "-").replace(" ", "-") or "unknown"
        return cls(actor or "unknown", f"{safe}@mcpctl.invalid")


class StateRepo:
    """A bare repository holding the exported manifests on `main`."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo

    @classmethod
    def open_or_init(cls, path: Path) -> StateRepo:
        """Open the bare repo at `path`, creating it (with a README commit) if missing."""
        try:
            if (path / "HEAD").exists():
                return cls(pygit2.Repository(str(path)))
            repo = pygit2.init_repository(str(path), bare=True, initial_head=BRANCH)
        except pygit2.GitError as e:
            raise BackendUnavailable(f"state repo {path}: {e}") from e
        state = cls(repo)
        state.commit_files(
            {README_PATH: README.encode()},
            Author("mcpd", "mcpd@localhost"),
            "Initialize the state repository",
        )
        return state

    def head(self) -> pygit2.Commit | None:
        try:
            target = self.repo.references[REF].target
        except KeyError:
            return None
        return self.repo[target].peel(pygit2.Commit)

    def files(self, commit: pygit2.Commit | None = None) -> dict[str, bytes]:
        """Every file of `commit` (default: the head of main) by path."""
        commit = commit or self.head()
        if commit is None:
            return {}
        out: dict[str, bytes] = {}
        self._walk(commit.tree, "", out)
        return out

    def _walk(self, tree: pygit2.Tree, prefix: str, out: dict[str, bytes]) -> None:
        for entry in tree:
            path = prefix + str(entry.name)
            obj = self.repo[entry.id]
            if isinstance(obj, pygit2.Tree):
                self._walk(obj, path + "/", out)
            elif isinstance(obj, pygit2.Blob):
                out[path] = obj.data

    def commit_files(
        self,
        changes: Mapping[str, bytes | None],
        author: Author,
        message: str,
        *,
        when: datetime | None = None,
    ) -> pygit2.Oid | None:
        """Commit `changes` (path -> content, None to delete) on main; None if nothing changed."""
        head = self.head()
        files = self.files(head) if head is not None else {}
        for path, content in changes.items():
            if content is None:
                files.pop(path, None)
            else:
                files[path] = content
        tree = self._write_tree(files)
        if head is not None and head.tree_id == tree:
            return None
        stamp = int(when.timestamp()) if when else None
        signature = (
            pygit2.Signature(author.name, author.email, stamp, 0)
            if stamp is not None
            else pygit2.Signature(author.name, author.email)
        )
        committer = (
            pygit2.Signature(*COMMITTER, stamp, 0)
            if stamp is not None
            else pygit2.Signature(*COMMITTER)
        )
        parents = [head.id] if head is not None else []
        try:
            return self.repo.create_commit(REF, signature, committer, message, tree, parents)
        except pygit2.GitError as e:
            raise BackendUnavailable(f"cannot commit to the state repo: {e}") from e

    def _write_tree(self, files: Mapping[str, bytes]) -> pygit2.Oid:
        root: dict[str, object] = {}
        for path, content in files.items():
            node = root
            parts = path.split("/")
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                assert isinstance(child, dict)
                node = child
            node[parts[-1]] = content
        return self._build(root)

    def _build(self, node: Mapping[str, object]) -> pygit2.Oid:
        builder = self.repo.TreeBuilder()
        for name in sorted(node):
            value = node[name]
            if isinstance(value, bytes):
                builder.insert(name, self.repo.create_blob(value), pygit2.enums.FileMode.BLOB)
            else:
                assert isinstance(value, dict)
                builder.insert(name, self._build(value), pygit2.enums.FileMode.TREE)
        return builder.write()
