"""The one exception tree of mcpctl.

Every error the project raises on purpose derives from `McpctlError`; each edge
(the CLI, later the API and the proxy) maps these classes to its own answer
once, in one place::

    McpctlError
     +-- InvalidInput            a request or a file is wrong; nothing was changed
     |    +-- InvalidManifest    one or more manifest issues, each with file/line/field
     +-- NotFound                a named object, file or revision does not exist
     +-- Conflict                the object changed or exists already
     +-- Forbidden               the caller may not do this
     +-- BackendUnavailable      a component we depend on (git, a database) failed
          +-- Contention         another writer got there first (a ref moved, a lock file
                                 held): expected, retried and counted, not a failure
          +-- Deposed            this mcpd replica no longer holds the leader's lease

`ManifestIssue` is the unit of every validation report: where (file, line,
column, document, object, field) and what (a message and a stable code).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class McpctlError(Exception):
    """Root of every error mcpctl raises on purpose."""


class InvalidInput(McpctlError):
    """The input is wrong; nothing was changed."""


class NotFound(McpctlError):
    """A named object, file or revision does not exist."""


class Conflict(McpctlError):
    """The object changed since it was read, or exists already."""


class Forbidden(McpctlError):
    """The caller lacks the permission this needs."""


class BackendUnavailable(McpctlError):
    """A component mcpctl depends on failed or cannot be reached."""


class Deposed(BackendUnavailable):
    """This mcpd replica does not hold the leader's lease (any more): what only the leader
    may do (move `main`, import a commit, push the mirror) is refused, changing nothing."""


class Contention(BackendUnavailable):
    """Another writer got there first: a ref moved under a compare-and-swap, a lock file is
    held. Expected wherever several writers share a repository; whoever meets it tries again
    (the supervisor's loops, a request a bounded number of times) and counts it.
    Still a `BackendUnavailable` for an edge that sees it after the retries."""


@dataclass(frozen=True, slots=True)
class ManifestIssue:
    """One problem found in a set of manifests.

    `line` and `column` are 1-based; `document` is the 0-based index of the YAML
    document in its file; `field` is a dotted path such as
    ``spec.env[2].valueFrom.secretRef.name``. Any of them may be unknown.
    """

    message: str
    code: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    document: int | None = None
    kind: str | None = None
    name: str | None = None
    project: str | None = None
    field: str | None = None

    @property
    def object_ref(self) -> str | None:
        """``Kind/name`` or ``Kind/project/name``, when known."""
        if self.kind is None:
            return None
        if self.name is None:
            return self.kind
        if self.project is not None:
            return f"{self.kind}/{self.project}/{self.name}"
        return f"{self.kind}/{self.name}"

    def location(self) -> str:
        """``file:line:column`` as far as known (``<input>`` without a file)."""
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def context(self) -> str:
        """`` (document 2, Server/x, field spec.env[0])`` as far as known, or ``""``."""
        parts = []
        if self.document is not None:
            parts.append(f"document {self.document + 1}")
        if self.object_ref:
            parts.append(self.object_ref)
        if self.field:
            parts.append(f"field {self.field}")
        return f" ({', '.join(parts)})" if parts else ""

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}{self.context()}"


class InvalidManifest(InvalidInput):
    """One or more manifests are invalid; `issues` says where and why."""

    def __init__(self, issues: Sequence[ManifestIssue]) -> None:
        self.issues: tuple[ManifestIssue, ...] = tuple(issues)
        if len(self.issues) == 1:
            summary = str(self.issues[0])
        else:
            summary = f"{len(self.issues)} manifest issues; first: {self.issues[0]}"
        super().__init__(summary)
