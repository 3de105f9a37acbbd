"""The state repo (pygit2): layout, commits without a work tree, export.

Import of pushed commits, conflicts, restore, timelines and the mirror build
on these pieces (docs/architecture.md, "The flows and the invariant").
"""

from mcpctl.staterepo.contention import LockHeld, RefMoved
from mcpctl.staterepo.layout import README_PATH, key_for, path_for
from mcpctl.staterepo.rendering import (
    CHANGE_TRAILER,
    compare,
    differences,
    export_all,
    export_changes,
    render_object,
    render_tree,
)
from mcpctl.staterepo.repo import (
    BRANCH,
    COMMITTER,
    REF,
    Author,
    Commit,
    Oid,
    Repository,
    StateRepo,
)

__all__ = [
    "BRANCH",
    "CHANGE_TRAILER",
    "COMMITTER",
    "README_PATH",
    "REF",
    "Author",
    "Commit",
    "LockHeld",
    "Oid",
    "RefMoved",
    "Repository",
    "StateRepo",
    "compare",
    "differences",
    "export_all",
    "export_changes",
    "key_for",
    "path_for",
    "render_object",
    "render_tree",
]
