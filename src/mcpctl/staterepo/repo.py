"""The state repo: a bare git repository written with pygit2, without a work tree.

`StateRepo.commit_files` turns a set of file changes into one commit on
`main` (or none, when the tree would not change), writing blobs and trees
straight into the object database. Every call is blocking: mcpd runs it in a
worker thread, one at a time.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

import pygit2

from mcpctl.errors import BackendUnavailable
from mcpctl.faults import fault
from mcpctl.staterepo.contention import RefMoved, contention_in, writing
from mcpctl.staterepo.layout import README, README_PATH, key_for
from mcpctl.staterepo.trees import BLOB, TREE, TreeEntries, blob_ids, file_entries

BRANCH = "main"
REF = f"refs/heads/{BRANCH}"
COMMITTER = ("mcpd", "mcpd@localhost")
#: Loose objects past which `maintain` packs them (git's own default is 6,700: with a
#: 10,000-file directory, each commit writes a 380 KB tree, so that is gigabytes).
GC_AUTO = 1000

#: The pygit2 types that cross this package's edge: callers name them without pygit2.
Repository: TypeAlias = pygit2.Repository
Commit: TypeAlias = pygit2.Commit
Oid: TypeAlias = pygit2.Oid


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
        self._objects = Path(repo.path) / "objects"
        #: Directory path -> (the tree it last wrote there, that tree's entries): the
        #: next commit changing that directory starts from them instead of reading the
        #: tree again (10,000 entries take milliseconds to load). Used by one writer at
        #: a time (the replica's lock); checked against the base tree.
        self._builders: dict[str, tuple[pygit2.Oid, TreeEntries]] = {}
        #: Called before `main` moves; raises to refuse (a replica that no longer leads:
        #: `reconciler.leadership.Leadership.check`).
        self.fence: Callable[[], None] | None = None

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

    def identity(self) -> str:
        """A random id of this repo, made at its first use: a database names the repo it follows."""
        config = self.repo.config
        try:
            return str(config["mcpd.repoid"])
        except KeyError:
            value = uuid.uuid4().hex
            config["mcpd.repoid"] = value
            return value

    def holds(self, directory: str) -> bool:
        """Whether the head of main has a top-level `directory` (e.g. `secrets`)."""
        head = self.head()
        return head is not None and directory in head.tree

    def files(self, commit: pygit2.Commit | None = None) -> dict[str, bytes]:
        """Every file of `commit` (default: the head of main) by path."""
        ids = self.file_ids(commit)
        return {path: self.repo[oid].peel(pygit2.Blob).data for path, oid in ids.items()}

    def holds_objects(self) -> bool:
        """Whether main holds any object's file (more than the README), blobs unread."""
        return any(key_for(path) is not None for path in self.file_ids())

    def file_ids(self, commit: pygit2.Commit | None = None) -> dict[str, pygit2.Oid]:
        """The blob id of every file of `commit` (default: main), without reading the blobs."""
        commit = commit or self.head()
        return blob_ids(self.repo, commit.tree) if commit is not None else {}

    def file_entries(
        self, commit: pygit2.Commit | None = None
    ) -> dict[str, tuple[pygit2.Oid, int]]:
        """The id and mode of every entry of `commit` (default: main) but directories: files,
        links and submodules, unread."""
        commit = commit or self.head()
        return file_entries(self.repo, commit.tree) if commit is not None else {}

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
        tree = self._updated_tree(head.tree if head is not None else None, changes)
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
        with writing("cannot commit to the state repo"):
            oid = self.repo.create_commit(None, signature, committer, message, tree, parents)
        fault("export.after-objects")
        self.move_main(oid, head.id if head is not None else None, message)
        return oid

    def loose_objects(self) -> int:
        """How many objects the repo holds loose (not in a pack)."""
        return sum(
            1
            for directory in self._objects.iterdir()
            if len(directory.name) == 2 and directory.is_dir()
            for entry in directory.iterdir()
            if not entry.name.startswith("tmp_")
        )

    def maintain(self) -> bool:
        """Pack the loose objects once there are more than `GC_AUTO`; True if it did.

        Every commit writes the trees it changes whole and loose, and only a push
        runs git's own automatic gc. Packed, a tree that differs by one entry from
        the last is a delta of a few bytes. `git repack -d` packs the loose objects
        (counted here: git's own count is an estimate from one directory), then
        `git gc --auto` merges packs and expires old reflogs by git's thresholds.
        Safe beside writers and readers, as git's automatic gc is: nothing
        reachable, or younger than two weeks, goes.
        """
        packed = self.loose_objects() > GC_AUTO
        if packed:
            self._git("repack", "-d", "-q")
        self._git("-c", "gc.autoDetach=false", "gc", "--auto", "--quiet")
        return packed

    def _git(self, *args: str) -> None:
        command = ["git", "--git-dir", self.repo.path, *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BackendUnavailable(f"cannot pack the state repo: {e}") from e
        if done.returncode != 0:
            what = "cannot pack the state repo"
            raise contention_in(done.stderr, what) or BackendUnavailable(
                f"{what}: {done.stderr.strip()}"
            )

    def move_main(
        self, new: pygit2.Oid, old: pygit2.Oid | None, message: str, *, fenced: bool = True
    ) -> None:
        """Point main at `new`, if it still points at `old` (a compare-and-swap).

        `fence` is asked first, unless not `fenced` (a follower following the leader).
        Raises `RefMoved` when main is elsewhere (libgit2 checks again under the ref's
        lock), `LockHeld` when another process holds the lock: both `Contention`."""
        log_message = f"commit: {message.splitlines()[0] if message else ''}"
        if fenced and self.fence is not None:
            self.fence()
        with writing("cannot move main"):
            if old is None:
                try:
                    self.repo.references.create(REF, new)
                except pygit2.AlreadyExistsError:
                    raise RefMoved("main was created during a commit") from None
                return
            ref = self.repo.references[REF]
            if ref.target != old:
                raise RefMoved(f"main moved from {old} to {ref.target} during a commit")
            ref.set_target(new, log_message)
            if fenced and self.fence is not None:
                self._unless_deposed(new, old)

    def _unless_deposed(self, new: pygit2.Oid, old: pygit2.Oid) -> None:
        """Ask the fence again once main moved: a replica paused between the first ask and
        the move (and deposed meanwhile) takes the move back, if main is still there."""
        assert self.fence is not None
        try:
            self.fence()
        except Exception:
            ref = self.repo.references[REF]
            if ref.target == new:
                ref.set_target(old, "take back a commit made by a replica deposed meanwhile")
            raise

    def _updated_tree(
        self, base: pygit2.Tree | None, changes: Mapping[str, bytes | None]
    ) -> pygit2.Oid:
        """The tree `base` with `changes` applied, rewriting only the directories they touch."""
        oid = self._updated(base.id if base is not None else None, changes, "")
        if oid is None:  # everything deleted: an empty root
            return TreeEntries().write(self._objects)
        return oid

    def _updated(
        self, base: pygit2.Oid | None, changes: Mapping[str, bytes | None], where: str
    ) -> pygit2.Oid | None:
        """As `_updated_tree` (`base` by id), but None for a tree left empty (so its parent
        drops it)."""
        here: dict[str, bytes | None] = {}
        below: dict[str, dict[str, bytes | None]] = {}
        for path, content in changes.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = content
            else:
                here[head] = content
        builder = self._builder(base, where)
        for name, content in here.items():
            if content is None:
                if builder.get(name) is not None:
                    builder.remove(name)
            else:
                builder.insert(name, self._blob(content), BLOB)
        for name, sub in below.items():
            entry = builder.get(name)
            oid = self._updated(entry[1] if entry is not None else None, sub, f"{where}{name}/")
            if oid is None:
                if entry is not None:
                    builder.remove(name)
            else:
                builder.insert(name, oid, TREE)
        if len(builder) == 0:
            self._builders.pop(where, None)
            return None
        written = builder.write(self._objects)
        self._builders[where] = (written, builder)
        return written

    def _blob(self, content: bytes) -> pygit2.Oid:
        """The blob of `content`, written only if the repo lacks it (a restore's files are
        in history already: hashing is ten times cheaper than writing them again)."""
        oid = pygit2.hash(content)
        return oid if oid in self.repo else self.repo.create_blob(content)

    def _builder(self, base: pygit2.Oid | None, where: str) -> TreeEntries:
        """The entries of tree `base`: the cached ones if they wrote `base` last (then the
        tree is not even read)."""
        cached = self._builders.pop(where, None)
        if base is None:
            return TreeEntries()
        if cached is not None and cached[0] == base:
            return cached[1]
        return TreeEntries.of(self.repo[base].peel(pygit2.Tree))
