"""Export: the canonical files of the database's objects, committed to the state repo.

The export is a function of the objects: `render_tree` gives every file the
repo must hold, so exporting again after a crash changes nothing that was
already written (the invariant of DESIGN.md: when mcpd is quiet, the tree at
`main` is exactly the canonical export of the database). `export_changes`
writes one commit for one write (a batch apply included); `export_all`
brings `main` to the full export, e.g. at start.
"""

from __future__ import annotations

from collections.abc import Iterable

import pygit2

from mcpctl.gitops.layout import README, README_PATH, path_for
from mcpctl.gitops.repo import Author, StateRepo
from mcpctl.manifests import Sealer, dump_object
from mcpctl.schemas import Resource

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
    current = repo.files()
    changes: dict[str, bytes | None] = {
        path: content for path, content in wanted.items() if current.get(path) != content
    }
    changes.update({path: None for path in current if path not in wanted})
    if not changes:
        return None
    return repo.commit_files(
        changes, Author("mcpd", "mcpd@localhost"), commit_message(summary, change)
    )


def differences(repo: StateRepo, resources: Iterable[Resource], seal: Sealer) -> list[str]:
    """The paths where `main` and the full export differ (empty: the invariant holds)."""
    wanted = render_tree(resources, seal)
    current = repo.files()
    return sorted(
        path for path in set(wanted) | set(current) if wanted.get(path) != current.get(path)
    )
