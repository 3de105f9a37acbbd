"""Git hooks and CI entry points: reading manifests out of git, the pre-commit hook.

Uses the `git` command (always present where hooks run) rather than pygit2,
which belongs to the state repo in `gitops`.
"""

from mcpctl.hooks.gitrev import (
    GitRepo,
    load_at_revision,
    load_staged,
)
from mcpctl.hooks.precommit import HOOK_MARKER, install_pre_commit, run_pre_commit

__all__ = [
    "HOOK_MARKER",
    "GitRepo",
    "install_pre_commit",
    "load_at_revision",
    "load_staged",
    "run_pre_commit",
]
