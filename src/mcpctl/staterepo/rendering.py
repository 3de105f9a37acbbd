"""Export: the canonical files of the database's objects, committed to the state repo.

The export is a function of the objects: `render_tree` gives every file the
repo must hold, so exporting again after a crash changes nothing that was
already written (the invariant of docs/architecture.md: when mcpd is quiet, the tree at
`main` is exactly the canonical export of the database). `export_changes`
writes one commit for one write (a batch apply included); `export_all`
brings `main` to the full export, e.g. at start. Every file of the export is a
regular file (mode 100644): `compare` (what `gitops verify` shows) counts a
link, a submodule or an executable at `main` as a difference, and
`export_all` replaces it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import pygit2

from mcpctl.manifests import Sealer, dump_object
from mcpctl.schemas import Resource
from mcpctl.staterepo.layout import README, README_PATH, path_for
from mcpctl.staterepo.repo import Author, StateRepo
from mcpctl.staterepo.trees import BLOB

#: The trailer naming the last database change a commit reflects.
CHANGE_TRAILER = "Mcpctl-Change"


def render_object(resource: Resource, seal: Sealer) -> bytes:
    """The file of one object: canonical YAML, secret values sealed."""
    return dump_object(resource, secrets="seal", sealer=seal).encode("utf-8")


def render_tree(resources: Iterable[Resource], seal: Sealer) -> dict[str, bytes]:
    """Every file the state repo holds for these objects (runtime kinds left out)."""
    files = {README_PATH: README.encode("utf-8")}
    for resource in resources:
        if resource.IN_GIT:
            files[path_for(resource.KIND, resource.project, resource.name)] = render_object(
                resource, seal
            )
    return files


def commit_message(summary: str, change: int | None) -> str:
    body = summary.strip() + "\n"
    if change is not None:
        body += f"\n{CHANGE_TRAILER}: {change}\n"
    return body


def export_changes(
    repo: StateRepo,
    written: Iterable[Resource],
    deleted: Iterable[tuple[str, str | None, str]],
    seal: Sealer,
    *,
    author: Author,
    summary: str,
    change: int | None = None,
) -> pygit2.Oid | None:
    """One commit for one write: the written objects' files, the deleted ones removed."""
    changes: dict[str, bytes | None] = {}
    for kind, project, name in deleted:
        try:
            changes[path_for(kind, project, name)] = None
        except ValueError:
            continue  # a runtime kind: never in the repo
    for resource in written:
        if resource.IN_GIT:
            changes[path_for(resource.KIND, resource.project, resource.name)] = render_object(
                resource, seal
            )
    if not changes:
        return None
    return repo.commit_files(changes, author, commit_message(summary, change))


def export_all(
    repo: StateRepo,
    resources: Iterable[Resource],
    seal: Sealer,
    *,
    summary: str = "Export the database",
    change: int | None = None,
) -> pygit2.Oid | None:
    """Make `main` hold exactly the full export (a commit only if anything differs)."""
    wanted = render_tree(resources, seal)
    current = repo.file_entries()
    changes: dict[str, bytes | None] = {
        path: content
        for path, content in wanted.items()
        if current.get(path) != (pygit2.hash(content), BLOB)
    }
    changes.update({path: None for path in current if path not in wanted})
    if not changes:
        return None
    return repo.commit_files(
        changes, Author("mcpd", "mcpd@localhost"), commit_message(summary, change)
    )


def differences(repo: StateRepo, resources: Iterable[Resource], seal: Sealer) -> list[str]:
    """The paths where `main` and the full export differ (empty: the invariant holds)."""
    return compare(repo, resources, seal)[0]


#: The most lines of unified diff `compare` gives (a verify of a badly broken repo stays short).
DIFF_LINES = 400


def compare(
    repo: StateRepo, resources: Iterable[Resource], seal: Sealer, *, limit: int = DIFF_LINES
) -> tuple[list[str], str]:
    """The paths where `main` and the full export differ, and a unified diff of them
    (`a/` is main, `b/` the export; secret values sealed on both sides, as in git)."""
    wanted = render_tree(resources, seal)
    current = repo.file_entries()
    paths = sorted(
        path
        for path in set(wanted) | set(current)
        if path not in wanted or current.get(path) != (pygit2.hash(wanted[path]), BLOB)
    )
    lines: list[str] = []
    for path in paths:
        new = wanted.get(path)
        old = None
        if path in current:
            oid, mode = current[path]
            if mode != BLOB and new is not None:  # git's way of showing a change of mode
                lines.extend(
                    (
                        f"diff --git a/{path} b/{path}",
                        f"old mode {mode:06o}",
                        f"new mode {BLOB:06o}",
                    )
                )
            old = _entry_content(repo, oid, mode)
        lines.extend(
            difflib.unified_diff(
                _text_lines(old),
                _text_lines(new),
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
                lineterm="",
            )
        )
        if len(lines) > limit:
            lines = [*lines[:limit], f"... (diff cut at {limit} lines)"]
            break
    return paths, "\n".join(lines) + ("\n" if lines else "")


def _entry_content(repo: StateRepo, oid: pygit2.Oid, mode: int) -> bytes:
    """What an entry of `main` holds, as `git diff` shows it (a submodule by its commit)."""
    if mode == int(pygit2.enums.FileMode.COMMIT):
        return f"Subproject commit {oid}\n".encode()
    return repo.repo[oid].peel(pygit2.Blob).data


def _text_lines(content: bytes | None) -> list[str]:
    if content is None:
        return []
    return content.decode("utf-8", errors="replace").splitlines()
