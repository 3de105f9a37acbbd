"""Reading commits back: the files two trees differ in, as manifests and deletions.

The importer (pushes, the mirror, restore) never walks whole trees when it
need not: `tree_changes` compares trees by object id, so a commit touching
one file of 10,000 reads one blob. `read_changes` turns the changed files into
manifests, checking the layout on the way: every file sits where the layout
puts its object, holds exactly that one object, and carries secret values
only sealed. Every issue names the file and the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import pygit2

from mcpctl.errors import ManifestIssue, McpctlError
from mcpctl.manifests import Manifest, load_bytes
from mcpctl.manifests.references import Key, format_key
from mcpctl.schemas import Secret
from mcpctl.staterepo.layout import README_PATH, key_for, path_for
from mcpctl.staterepo.trees import blob_ids

#: Opens one sealed Secret value: (secret name, key, sealed text) -> plaintext; raises
#: an McpctlError naming the Secret and key when it cannot.
Opener = Callable[[str, str, str], str]

LAYOUT_HINT = "<plural>/<name>.yaml, or prompts/<project>/<name>.yaml"


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
) -> dict[str, bytes | None]:
    """Path -> new content (None: deleted) for every file where `new` differs from `old`."""
    if old is None:
        return {path: _blob(repo, oid) for path, oid in blob_ids(repo, new).items()}
    diff = old.diff_to_tree(new)
    changes: dict[str, bytes | None] = {}
    for delta in diff.deltas:
        status = delta.status
        if status == pygit2.enums.DeltaStatus.DELETED:
            changes[delta.old_file.path] = None
        elif status in (pygit2.enums.DeltaStatus.ADDED, pygit2.enums.DeltaStatus.MODIFIED):
            changes[delta.new_file.path] = _blob(repo, delta.new_file.id)
        else:  # a type change (file <-> link): both sides, as a delete and an add
            changes[delta.old_file.path] = None
            changes[delta.new_file.path] = _blob(repo, delta.new_file.id)
    return changes


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes:
    obj = repo[oid]
    return obj.data if isinstance(obj, pygit2.Blob) else b""


def read_changes(
    changes: Mapping[str, bytes | None],
    opener: Opener,
    *,
    allow_readme: bool = False,
    skip_unopenable: bool = False,
) -> ReadResult:
    """The manifests and deletions `changes` ask for, with every layout and content issue."""
    result = ReadResult()
    for path in sorted(changes):
        content = changes[path]
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
