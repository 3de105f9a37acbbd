"""Fixtures for the git hook tests: a real, throw-away git repository with no outside config.

The environment is set on the test process (through monkeypatch), so that
git run by a test, by mcpctl in-process, and by the hook git itself runs all
see the same isolated configuration: a temp HOME, no system config, a fixed
author, and a ceiling so that no enclosing repository is ever found.
"""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from click.testing import CliRunner, Result

from mcpctl.cli.main import cli

#: Variables git sets for hooks, or a caller may have set, that would point git elsewhere.
_GIT_LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


class Run(Protocol):
    def __call__(self, *args: str) -> Result: ...


@dataclass(frozen=True)
class Repo:
    """A git work tree at `root`, and the few operations the tests need."""

    root: Path

    def git(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run git; the completed process, whatever its exit status."""
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """Run git, which must succeed; its stdout."""
        done = self.git(*args)
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def commit_all(self, message: str = "change") -> str:
        """Stage everything and commit it without running hooks; the new HEAD."""
        self.ok("add", "-A")
        self.ok("commit", "-q", "--no-verify", "-m", message)
        return self.head()

    def head(self) -> str:
        """The commit HEAD names ("" before the first commit)."""
        done = self.git("rev-parse", "--verify", "--quiet", "HEAD")
        return done.stdout.strip()

    def show(self, rev_path: str) -> str:
        return self.ok("show", rev_path)


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for name in _GIT_LOCATION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """An empty repository (branch main), which is the current directory."""
    root = tmp_path / "repo"
    root.mkdir()
    made = Repo(root)
    made.ok("init", "-q", "-b", "main")
    monkeypatch.chdir(root)
    return made


@pytest.fixture
def run() -> Run:
    """Invoke `mcpctl ARGS...` in-process, in the current directory."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False, prog_name="mcpctl")

    return invoke
