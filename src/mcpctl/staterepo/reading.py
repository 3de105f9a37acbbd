"""Reading commits back: the files two trees differ in, as manifests and deletions.

The importer (pushes, the mirror, restore) never walks whole trees when it
need not: `tree_changes` compares trees by object id, so a commit touching
one file of 10,000 reads one blob. `read_changes` turns the changed files into
manifests, checking the layout on the way: every file is a regular one (not a
symbolic link, a submodule or an executable), sits where the layout puts its
object, holds exactly that one object, and carries secret values only sealed.
Every issue names the file and the line.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import pygit2

from mcpctl.errors import ManifestIssue, McpctlError
from mcpctl.manifests import Manifest, load_bytes
from mcpctl.manifests.references import Key, format_key
from mcpctl.schemas import Secret
from mcpctl.staterepo.layout import README_PATH, key_for, path_for
from mcpctl.staterepo.trees import BLOB, file_entries

#: Opens one sealed Secret value: (secret name, key, sealed text) -> plaintext; raises
#: an McpctlError naming the Secret and key when it cannot.
Opener = Callable[[str, str, str], str]

LAYOUT_HINT = "<plural>/<name>.yaml, or prompts/<project>/<name>.yaml"

_LINK = int(pygit2.enums.FileMode.LINK)
_GITLINK = int(pygit2.enums.FileMode.COMMIT)
_EXECUTABLE = int(pygit2.enums.FileMode.BLOB_EXECUTABLE)


@dataclass(frozen=True)
class NotRegular:
    """What a commit holds at a path instead of a regular file: a link, a submodule..."""

    mode: int

    def message(self, path: str) -> str:
        path = shlex.quote(path)
        what, fix = {
            _LINK: ("a symbolic link", "commit the file itself"),
            _GITLINK: ("a submodule (gitlink)", f"remove it: git rm --cached {path}"),
            _EXECUTABLE: (
                "an executable file",
                f"clear its executable bit: git update-index --chmod=-x {path}",
            ),
        }.get(self.mode, ("not a regular file", "commit a regular file"))
        return (
            f"{what} (mode {self.mode:06o}): the state repo holds regular files only "
            f"(mode {BLOB:06o}); {fix}"
        )


#: What a commit holds at a changed path: a regular file's content, something that is not
#: a regular file, or None (deleted).
Content = bytes | NotRegular | None


@dataclass
class ReadResult:
    """What a set of changed files asks for: objects to write, objects to delete."""

    manifests: list[Manifest] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)
    issues: list[ManifestIssue] = field(default_factory=list)
    #: Secret keys whose sealed value could not be opened (with `skip_unopenable`).
    skipped: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[Key]:
        return [m.key for m in self.manifests] + list(self.deleted)


def tree_changes(
    repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree
) -> dict[str, Content]:
    """Path -> what `new` holds there, for every path where `new` differs from `old` (its
    content, None: deleted, NotRegular: a link, a submodule, an executable; a change of
    mode alone is a change)."""
    if old is None:
        return {
            path: _content(repo, oid, mode) for path, (oid, mode) in file_entries(repo, new).items()
        }
    diff = old.diff_to_tree(new)
    changes: dict[str, Content] = {}
    for delta in diff.deltas:
        status = delta.status
        if status == pygit2.enums.DeltaStatus.DELETED:
            # a file that became a link is a delete and an add of its path, in either order
            changes.setdefault(delta.old_file.path, None)
        elif status in (pygit2.enums.DeltaStatus.ADDED, pygit2.enums.DeltaStatus.MODIFIED):
            new_file = delta.new_file
            changes[new_file.path] = _content(repo, new_file.id, new_file.mode)
        else:  # a type change (file <-> link): both sides, as a delete and an add
            changes.setdefault(delta.old_file.path, None)
            new_file = delta.new_file
            changes[new_file.path] = _content(repo, new_file.id, new_file.mode)
    return changes


def _content(repo: pygit2.Repository, oid: pygit2.Oid, mode: int) -> bytes | NotRegular:
    """A regular file's content; anything else, unread (a submodule's commit is not even
    in this repo)."""
    if mode != BLOB:
        return NotRegular(mode)
    return repo[oid].peel(pygit2.Blob).data


def read_changes(
    changes: Mapping[str, Content],
    opener: Opener,
    *,
    allow_readme: bool = False,
    skip_unopenable: bool = False,
) -> ReadResult:
    """The manifests and deletions `changes` ask for, with every layout and content issue."""
    result = ReadResult()
    for path in sorted(changes):
        content = changes[path]
        if isinstance(content, NotRegular):  # even the README: the export writes files only
            result.issues.append(
                ManifestIssue(message=content.message(path), code="layout", file=path, line=1)
            )
            continue
        if path == README_PATH:
            if not allow_readme:
                result.issues.append(
                    ManifestIssue(
                        message="README.md is written by mcpd: change manifests only",
                        code="layout",
                        file=path,
                    )
                )
            continue
        key = key_for(path)
        if key is None:
            result.issues.append(
                ManifestIssue(
                    message=f"outside the state repo's layout (expected {LAYOUT_HINT})",
                    code="layout",
                    file=path,
                )
            )
            continue
        if content is None:
            result.deleted.append(key)
            continue
        _read_file(path, key, content, opener, result, skip_unopenable)
    return result


def _read_file(
    path: str,
    key: Key,
    content: bytes,
    opener: Opener,
    result: ReadResult,
    skip_unopenable: bool,
) -> None:
    loaded = load_bytes(content, path)
    if loaded.issues:
        result.issues.extend(loaded.issues)
        return
    if len(loaded.manifests) != 1:
        result.issues.append(
            ManifestIssue(
                message=f"holds {len(loaded.manifests)} objects: a file here holds exactly one",
                code="layout",
                file=path,
                line=1,
            )
        )
        return
    manifest = loaded.manifests[0]
    if manifest.key != key:
        where = path_for(*manifest.key)
        result.issues.append(
            manifest.issue(
                f"holds {format_key(manifest.key)}, which belongs in {where}; "
                f"this path is for {format_key(key)}",
                "layout",
                ("metadata", "name"),
            )
        )
        return
    resource = manifest.resource
    if isinstance(resource, Secret):
        opened = _open_secret(manifest, resource, opener, result, skip_unopenable)
        if opened is None:
            return
        manifest = replace(manifest, resource=opened)
    result.manifests.append(manifest)


def _open_secret(
    manifest: Manifest,
    secret: Secret,
    opener: Opener,
    result: ReadResult,
    skip_unopenable: bool,
) -> Secret | None:
    """`secret` with its sealed values opened into `data`; None (and issues) if it cannot be."""
    if secret.spec.data:
        for key in sorted(secret.spec.data):
            result.issues.append(
                manifest.issue(
                    "a Secret value in plaintext must never be committed: "
                    "set it with `mcpctl create secret` or `mcpctl apply` "
                    "(mcpd seals it into this file)",
                    "plaintext-secret",
                    ("spec", "data", key),
                )
            )
        return None
    data: dict[str, str] = {}
    failed = False
    for key, sealed in sorted(secret.spec.sealed_data.items()):
        try:
            data[key] = opener(secret.name, key, sealed)
        except McpctlError as e:  # it names the Secret and the key, never the value
            if skip_unopenable:
                # the key stays (what refers to it still resolves), its value is left out
                result.skipped.append(f"Secret {secret.name!r} key {key!r}")
                data[key] = ""
                continue
            result.issues.append(
                manifest.issue(str(e), "sealed-value", ("spec", "sealedData", key))
            )
            failed = True
    if failed:
        return None
    spec = secret.spec.model_copy(update={"data": data, "sealed_data": {}})
    return secret.model_copy(update={"spec": spec})


def keys_of(paths: Iterable[str]) -> list[Key]:
    """The objects of the layout paths among `paths`."""
    return [key for key in map(key_for, paths) if key is not None]
