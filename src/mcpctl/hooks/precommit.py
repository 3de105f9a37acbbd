"""The pre-commit hook: validate the manifests as staged, refuse the commit if invalid.

`install_pre_commit` writes a small shell script into the repository's hooks
directory (honouring `core.hooksPath`) that runs `python -m mcpctl hooks
pre-commit PATH...` with the interpreter mcpctl is installed in, so that the
hook works whether or not a virtualenv is active.
"""

from __future__ import annotations

import shlex
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from mcpctl.errors import Conflict, ManifestIssue
from mcpctl.hooks.gitrev import GitRepo, git, load_staged
from mcpctl.manifests import LoadResult, check_set

HOOK_MARKER = "# installed by mcpctl hooks install"


def hooks_dir(repo: GitRepo) -> Path:
    out = git(["rev-parse", "--git-path", "hooks"], repo.root).decode().strip()
    path = Path(out)
    return path if path.is_absolute() else repo.root / path


def hook_script(paths: Sequence[str], python: str) -> str:
    args = " ".join(shlex.quote(p) for p in paths)
    py = shlex.quote(python)
    return (
        "#!/bin/sh\n"
        f"{HOOK_MARKER}: validates the staged manifests before each commit.\n"
        "# Skip once with: git commit --no-verify\n"
        f"if [ -x {py} ]; then\n"
        f"  exec {py} -m mcpctl hooks pre-commit -- {args}\n"
        "fi\n"
        f"exec mcpctl hooks pre-commit -- {args}\n"
    )


def install_pre_commit(
    repo: GitRepo, paths: Sequence[str], *, force: bool = False, python: str | None = None
) -> Path:
    """Write the pre-commit hook; refuse to replace a foreign hook unless `force`."""
    directory = hooks_dir(repo)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "pre-commit"
    if target.exists() and not force:
        existing = target.read_text(encoding="utf-8", errors="replace")
        if HOOK_MARKER not in existing:
            raise Conflict(
                f"{target} exists and was not installed by mcpctl; "
                "use --force to replace it (or call `mcpctl hooks pre-commit` from it)"
            )
    repo_paths = [repo.relative(p) or "." for p in paths] or ["."]
    target.write_text(hook_script(repo_paths, python or sys.executable), encoding="utf-8")
    mode = target.stat().st_mode
    target.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def run_pre_commit(repo: GitRepo, paths: Sequence[str]) -> tuple[LoadResult, list[ManifestIssue]]:
    """Load the staged manifests under `paths` and check them as a set."""
    result = load_staged(repo, paths)
    issues = list(result.issues)
    issues.extend(check_set(result.manifests))
    return result, issues
