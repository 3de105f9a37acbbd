"""Reading manifests from files, directories, stdin and text into resources.

`load_paths` walks files and directories (recursively, `*.yaml`, `*.yml`,
`*.json`, skipping hidden entries), `load_text` reads one text. Each document
may be one object or a `kind: List` of them. Nothing stops at the first
problem: the result holds every valid object and every issue, each issue
naming file, line, column, document, object and field.
"""

from __future__ import annotations

import difflib
import gc
import multiprocessing as mp
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mcpctl.errors import InvalidInput, InvalidManifest, ManifestIssue, NotFound
from mcpctl.manifests.parsing import Document, Path, format_path, parse_documents
from mcpctl.schemas import API_VERSION, BY_KIND, NAME_PATTERN, NAME_RULE, Resource

#: The largest manifest file accepted, in bytes.
MAX_FILE_SIZE = 4 * 1024 * 1024
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an object was read: file, document, and the path to it inside the document."""

    file: str | None
    document: Document
    prefix: Path = ()

    def locate(self, field_path: Path) -> tuple[int, int]:
        """Line and column of a field of the object (or its nearest ancestor)."""
        return self.document.locate(self.prefix + field_path)

    def issue(self, resource: Resource, message: str, code: str, field_path: Path) -> ManifestIssue:
        """An issue about `field_path` of `resource`, located in this origin."""
        line, column = self.locate(field_path)
        return ManifestIssue(
            message=message,
            code=code,
            file=self.file,
            line=line,
            column=column,
            document=self.document.index,
            kind=resource.KIND,
            name=resource.name,
            project=resource.project,
            field=format_path(field_path) or None,
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    """A valid object and where it came from (None for objects not read from a file)."""

    resource: Resource
    origin: Origin | None = None
    #: (kind, project, name): unique in a consistent set.
    key: tuple[str, str | None, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        r = self.resource
        object.__setattr__(self, "key", (r.KIND, r.project, r.name))

    def issue(self, message: str, code: str, field_path: Path = ()) -> ManifestIssue:
        if self.origin is not None:
            return self.origin.issue(self.resource, message, code, field_path)
        r = self.resource
        return ManifestIssue(
            message=message,
            code=code,
            kind=r.KIND,
            name=r.name,
            project=r.project,
            field=format_path(field_path) or None,
        )


@dataclass
class LoadResult:
    """Objects read, issues found, and how many files were read."""

    manifests: list[Manifest] = field(default_factory=list)
    issues: list[ManifestIssue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.manifests.extend(other.manifests)
        self.issues.extend(other.issues)
        self.files.extend(other.files)

    def raise_for_issues(self) -> None:
        """Raise `InvalidManifest` with every issue, if there is any."""
        if self.issues:
            raise InvalidManifest(self.issues)


def discover_files(paths: Sequence[str]) -> list[str]:
    """The manifest files named by `paths` (files as given, directories walked).

    A file named twice (directly and through its directory) is read once.
    """
    found: list[str] = []
    seen: set[str] = set()

    def add(file: str) -> None:
        real = os.path.normpath(os.path.abspath(file))
        if real not in seen:
            seen.add(real)
            found.append(file)

    for raw in paths:
        if raw == STDIN:
            found.append(STDIN)
            continue
        path = FsPath(raw)
        if path.is_dir():
            walked: list[str] = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                walked.extend(
                    os.path.join(root, name)
                    for name in files
                    if not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES)
                )
            for file in sorted(walked):
                add(file)
        elif path.exists():
            add(raw)
        else:
            raise NotFound(f"{raw}: no such file or directory")
    return found


#: Below this many files, loading stays in one process.
PARALLEL_FROM_FILES = 1000


def load_paths(
    paths: Sequence[str],
    *,
    max_file_size: int = MAX_FILE_SIZE,
    stdin: Any = None,
    workers: int | None = None,
) -> LoadResult:
    """Load every manifest under `paths` (`-` is standard input).

    Large sets are split across `workers` processes (default: one per CPU,
    from PARALLEL_FROM_FILES files on, where `fork` exists); the result is the
    same, in the same order.
    """
    files = discover_files(paths)
    if workers is None:
        workers = usable_cpus() if len(files) >= PARALLEL_FROM_FILES else 1
    with _gc_paused():
        if workers > 1 and STDIN not in files and "fork" in mp.get_all_start_methods():
            return _load_in_parallel(files, max_file_size, workers)
        return _load_files(files, max_file_size, stdin)


def usable_cpus() -> int:
    """The CPUs this process may run on (affinity-aware, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _load_in_parallel(files: list[str], max_file_size: int, workers: int) -> LoadResult:
    """Load chunks of `files` in forked processes, this one taking the first chunk."""
    size = -(-len(files) // workers)
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    context = mp.get_context("fork")  # children inherit the imported models: no start-up
    with ProcessPoolExecutor(max_workers=len(chunks) - 1, mp_context=context) as pool:
        futures = [pool.submit(_load_files, chunk, max_file_size, None) for chunk in chunks[1:]]
        result = _load_files(chunks[0], max_file_size, None)
        for future in futures:
            result.extend(future.result())
    return result


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large set is built.

    Loading creates many small objects that all survive (no cycles to find);
    each collection would rescan the growing heap, costing a third of the time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_files(files: list[str], max_file_size: int, stdin: Any) -> LoadResult:
    result = LoadResult()
    for file in files:
        if file == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read(max_file_size + 1)
            result.extend(load_bytes(data, "<stdin>", max_file_size=max_file_size))
            continue
        try:
            size = os.stat(file).st_size
            if size > max_file_size:
                result.files.append(file)
                result.issues.append(_too_large(file, size, max_file_size))
                continue
            with open(file, "rb") as f:
                # read(n) allocates n bytes up front: ask for what stat saw, then any growth
                data = f.read(size + 1)
                if len(data) > size:
                    data += f.read(max_file_size + 1 - len(data))
        except OSError as e:
            raise InvalidInput(f"{file}: cannot read: {e.strerror or e}") from e
        result.extend(load_bytes(data, file, max_file_size=max_file_size))
    return result


def _too_large(file: str, size: int, limit: int) -> ManifestIssue:
    return ManifestIssue(
        message=f"file is too large ({size} bytes; the limit is {limit})",
        code="file-too-large",
        file=file,
    )


def load_bytes(data: bytes, file: str | None, *, max_file_size: int = MAX_FILE_SIZE) -> LoadResult:
    """Load the manifests in raw bytes (UTF-8, an optional BOM)."""
    if len(data) > max_file_size:
        return LoadResult(
            files=[file or "<input>"],
            issues=[_too_large(file or "<input>", len(data), max_file_size)],
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return LoadResult(
            files=[file or "<input>"],
            issues=[
                ManifestIssue(
                    message=f"not valid UTF-8 (byte {e.start})",
                    code="encoding",
                    file=file,
                    line=line,
                )
            ],
        )
    return load_text(text, file)


def load_text(text: str, file: str | None = None) -> LoadResult:
    """Load the manifests in one YAML or JSON text."""
    result = LoadResult(files=[file or "<input>"])
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        result.issues.append(
            ManifestIssue(message="contains a NUL character", code="encoding", file=file, line=line)
        )
        return result
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: libyaml would raise this unwrapped
        line = text[: e.start].count("\n") + 1
        result.issues.append(
            ManifestIssue(
                message=f"not valid Unicode (a lone surrogate at character {e.start})",
                code="encoding",
                file=file,
                line=line,
            )
        )
        return result
    for item in parse_documents(text, file):
        if isinstance(item, ManifestIssue):
            result.issues.append(item)
        elif item.data is not None:
            _load_document(item, file, result)
            item.data = None  # the objects hold it now; origins keep only the marks
    return result


def _load_document(doc: Document, file: str | None, result: LoadResult) -> None:
    data = doc.data
    if isinstance(data, dict) and data.get("kind") == "List":
        allowed = {"apiVersion", "kind", "items", "metadata"}
        for key in data:
            if key not in allowed:
                result.issues.append(
                    _doc_issue(
                        doc, file, (key,), f"unknown field {key!r} in a List", "unknown-field"
                    )
                )
        if data.get("apiVersion") not in (API_VERSION, "v1"):
            result.issues.append(
                _doc_issue(
                    doc, file, ("apiVersion",), f"apiVersion must be {API_VERSION!r}", "api-version"
                )
            )
        items = data.get("items")
        if not isinstance(items, list):
            result.issues.append(
                _doc_issue(
                    doc, file, ("items",), "a List needs items: a list of objects", "list-items"
                )
            )
            return
        for i, item in enumerate(items):
            _load_object(item, Origin(file, doc, ("items", i)), result)
        return
    _load_object(data, Origin(file, doc), result)


def _doc_issue(
    doc: Document, file: str | None, path: Path, message: str, code: str
) -> ManifestIssue:
    line, column = doc.locate(path)
    return ManifestIssue(
        message=message,
        code=code,
        file=file,
        line=line,
        column=column,
        document=doc.index,
        field=format_path(path) or None,
    )


#: Kinds mcpd alone writes, at run time: a manifest of one is refused, saying what to do.
MADE_BY_MCPD = {
    "Instance": "Instances are made by mcpd for Servers: change the Server's replicas or spec "
    "(delete an Instance to have it replaced)",
    "Event": "Events are recorded by mcpd; they cannot be applied",
    "AuditEvent": "audit entries are recorded by mcpd; they cannot be applied",
}


def validate_object(data: Any, origin: Origin | None = None) -> Manifest | list[ManifestIssue]:
    """Check one object's envelope and schema; a Manifest, or every issue found."""
    result = LoadResult()
    if origin is None:
        origin = Origin(None, Document(index=0, data=data, line=1, column=1))
    _load_object(data, origin, result)
    return result.manifests[0] if result.manifests else result.issues


def _load_object(data: Any, origin: Origin, result: LoadResult) -> None:
    def issue(path: Path, message: str, code: str, kind: str | None = None) -> ManifestIssue:
        line, column = origin.locate(path)
        return ManifestIssue(
            message=message,
            code=code,
            file=origin.file,
            line=line,
            column=column,
            document=origin.document.index,
            kind=kind,
            name=ident[0],
            project=ident[1],
            field=format_path(path) or None,
        )

    ident: tuple[str | None, str | None] = (None, None)
    if not isinstance(data, dict):
        result.issues.append(
            issue(
                (),
                "a manifest must be a mapping with apiVersion, kind, metadata and spec",
                "not-a-mapping",
            )
        )
        return
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        name, project = metadata.get("name"), metadata.get("project")
        ident = (
            name if isinstance(name, str) else None,
            project if isinstance(project, str) else None,
        )
    kind = data.get("kind")
    if kind is None:
        result.issues.append(issue(("kind",), "required field 'kind' is missing", "missing-kind"))
        return
    model = BY_KIND.get(kind) if isinstance(kind, str) else None
    if model is None:
        hint = ""
        if isinstance(kind, str):
            close = difflib.get_close_matches(kind, list(BY_KIND), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(BY_KIND)
        result.issues.append(
            issue(("kind",), f"unknown kind {kind!r}{hint}; known kinds: {known}", "unknown-kind")
        )
        return
    if not model.PROJECT_SCOPED:
        ident = (ident[0], None)
    if model.KIND in MADE_BY_MCPD:
        result.issues.append(issue(("kind",), MADE_BY_MCPD[model.KIND], "made-by-mcpd", model.KIND))
        return
    try:
        resource = model.model_validate(data)
    except ValidationError as e:
        for error in e.errors(include_url=False):
            path, message, code = _explain(error, data, model)
            result.issues.append(issue(path, message, code, model.KIND))
        return
    result.manifests.append(Manifest(resource, origin))


def _explain(error: ErrorDetails, data: Any, model: type[Resource]) -> tuple[Path, str, str]:
    """The data path, a clear message and a code for one pydantic error."""
    path = _data_path(error["loc"], data)
    kind = error["type"]
    field_name = path[-1] if path else ""
    if kind == "extra_forbidden":
        if path == ("metadata", "project"):
            return (
                path,
                f"{model.KIND} is not project-scoped: remove metadata.project",
                "unknown-field",
            )
        return path, f"unknown field {field_name!r}", "unknown-field"
    if kind == "missing":
        if path == ("metadata", "project"):
            return (
                path,
                f"a {model.KIND} belongs to a project: set metadata.project",
                "missing-field",
            )
        return path, f"required field {field_name!r} is missing", "missing-field"
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == NAME_PATTERN:
        value = error.get("input")
        return path, f"invalid name {value!r}: {NAME_RULE}", "invalid-name"
    if kind == "string_too_long" and path and path[-1] == "name":
        return path, f"invalid name: {NAME_RULE}", "invalid-name"
    if kind == "literal_error" and path == ("apiVersion",):
        return path, f"apiVersion must be {API_VERSION!r}", "api-version"
    message = error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    return path, message, "schema"


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path:
    """Drop pydantic's union tags from `loc`, keeping the keys and indexes of the data."""
    path: list[str | int] = []
    current = data
    last = len(loc) - 1
    for i, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif i == last and part != "[key]":
            path.append(part)
        else:
            current = None
    return tuple(path)


def flatten(results: Iterable[LoadResult]) -> LoadResult:
    """One result from several."""
    total = LoadResult()
    for r in results:
        total.extend(r)
    return total
