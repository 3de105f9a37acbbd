"""Manifests as they are in a git revision or in the index, read with the git CLI.

`mcpctl diff --base REV` compares the manifests at REV with the working
tree; the pre-commit hook validates what is staged. Both read blobs through
one `git cat-file --batch` process, so thousands of files cost one process.
Paths are given as the user typed them (relative to the current directory)
and follow the same rules as directory loading: `*.yaml`, `*.yml`, `*.json`,
hidden entries below a named directory skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcpctl.errors import BackendUnavailable, InvalidInput, NotFound
from mcpctl.manifests import MAX_FILE_SIZE, LoadResult, load_bytes
from mcpctl.manifests.loading import MANIFEST_SUFFIXES

GIT_TIMEOUT = 60.0


def git(args: Sequence[str], cwd: Path, *, input: bytes | None = None) -> bytes:
    """Run git in `cwd`; its stdout, or BackendUnavailable naming git's last error line."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as e:
        raise BackendUnavailable("git is not installed (or not on PATH)") from e
    except subprocess.TimeoutExpired as e:
        raise BackendUnavailable(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from e
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitFailed(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


class _GitFailed(BackendUnavailable):
    pass


@dataclass(frozen=True)
class GitRepo:
    """A git work tree, found from a directory inside it."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> GitRepo:
        start = start or Path.cwd()
        try:
            out = git(["rev-parse", "--show-toplevel"], start)
        except _GitFailed as e:
            raise InvalidInput(f"{start}: not inside a git work tree") from e
        return cls(Path(out.decode().strip()))

    def resolve(self, rev: str) -> str:
        """The commit id `rev` names."""
        if rev.startswith("-"):
            raise InvalidInput(f"invalid revision {rev!r}")
        try:
            out = git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                self.root,
            )
        except _GitFailed as e:
            raise NotFound(f"unknown revision {rev!r}") from e
        return out.decode().strip()

    def relative(self, path: str) -> str:
        """`path` (relative to the current directory) relative to the repo root."""
        absolute = Path(os.path.abspath(path))
        try:
            rel = absolute.relative_to(self.root.resolve())
        except ValueError:
            try:
                rel = absolute.relative_to(self.root)
            except ValueError as e:
                raise InvalidInput(f"{path}: outside the repository {self.root}") from e
        text = rel.as_posix()
        return "" if text == "." else text

    def has_path(self, rev: str, path: str) -> bool:
        """Whether `path` (repo-relative) exists in commit `rev`."""
        commit = self.resolve(rev)
        spec = f"{commit}:{path}" if path else commit
        try:
            git(["cat-file", "-e", spec], self.root)
        except _GitFailed:
            return False
        return True

    def read_blobs(self, oids: Sequence[str]) -> list[bytes]:
        """The contents of blobs, in order, through one `git cat-file --batch`."""
        if not oids:
            return []
        out = git(
            ["cat-file", "--batch"], self.root, input="".join(f"{o}\n" for o in oids).encode()
        )
        blobs: list[bytes] = []
        pos = 0
        for oid in oids:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            if len(header) != 3:
                raise BackendUnavailable(f"git cat-file: cannot read object {oid}")
            size = int(header[2])
            blobs.append(out[end + 1 : end + 1 + size])
            pos = end + 1 + size + 1
        return blobs


def _wanted(path: str, prefixes: Sequence[str]) -> bool:
    """Whether a repo path is a manifest under one of `prefixes` (repo-relative)."""
    if not path.endswith(MANIFEST_SUFFIXES):
        return False
    for prefix in prefixes:
        if prefix == "":
            below = path
        elif path == prefix:
            return True
        elif path.startswith(prefix + "/"):
            below = path[len(prefix) + 1 :]
        else:
            continue
        if not any(part.startswith(".") for part in below.split("/")):
            return True
    return False


def _load_entries(
    repo: GitRepo, entries: list[tuple[str, str]], label: str, max_file_size: int
) -> LoadResult:
    result = LoadResult()
    blobs = repo.read_blobs([oid for _, oid in entries])
    for (path, _), data in zip(entries, blobs, strict=True):
        result.extend(load_bytes(data, f"{label}{path}", max_file_size=max_file_size))
    return result


def load_at_revision(
    repo: GitRepo, rev: str, paths: Sequence[str], *, max_file_size: int = MAX_FILE_SIZE
) -> LoadResult:
    """The manifests under `paths` as they are in commit `rev` (files named `REV:path`)."""
    commit = repo.resolve(rev)
    prefixes = [repo.relative(p) for p in paths] or [""]
    out = git(["ls-tree", "-r", "-z", "--full-tree", commit], repo.root)
    entries: list[tuple[str, str]] = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind == "blob" and mode.startswith("100") and _wanted(path, prefixes):
            entries.append((path, oid))
    return _load_entries(repo, sorted(entries), f"{rev}:", max_file_size)


def load_staged(
    repo: GitRepo, paths: Sequence[str], *, max_file_size: int = MAX_FILE_SIZE
) -> LoadResult:
    """The manifests under `paths` as they are staged in the index."""
    prefixes = [repo.relative(p) for p in paths] or [""]
    out = git(["ls-files", "-z", "--stage", "--full-name"], repo.root)
    entries: list[tuple[str, str]] = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, oid, _stage = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if mode.startswith("100") and _wanted(path, prefixes):
            entries.append((path, oid))
    return _load_entries(repo, sorted(set(entries)), "", max_file_size)
