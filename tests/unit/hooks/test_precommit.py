"""`mcpctl hooks install` and the hook it installs, driven by real `git commit`s.

Only what is staged counts: the hook validates the index, which is what the
commit records, whatever the working tree holds.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from mcpctl.hooks import HOOK_MARKER

from .conftest import Repo, Run

pytestmark = pytest.mark.integration

VALID = """
    apiVersion: mcpctl/v1
    kind: Server
    metadata:
      name: time
    spec:
      command: [mcp-server-time]
    """

#: VALID with an unknown field at line 7, column 3.
BROKEN = VALID + "  colour: red\n"

FOREIGN_HOOK = "#!/bin/sh\necho 'a hook someone else wrote'\n"


@pytest.fixture
def installed(run: Run, repo: Repo) -> Repo:
    """A repository with the hook installed and one valid commit."""
    result = run("hooks", "install")
    assert result.exit_code == 0, result.output
    repo.write("servers/time.yaml", VALID)
    repo.commit_all("base")
    return repo


def commit(repo: Repo, *args: str) -> tuple[int, str]:
    """`git commit -m msg ARGS...` with hooks; its exit status and stderr."""
    done = repo.git("commit", "-q", "-m", "change", *args)
    return done.returncode, done.stderr


class TestInstall:
    def test_writes_an_executable_hook_that_runs_this_interpreter(
        self, run: Run, repo: Repo
    ) -> None:
        result = run("hooks", "install")

        hook = repo.root / ".git" / "hooks" / "pre-commit"
        assert result.exit_code == 0, result.output
        assert result.stdout == f"installed {hook}\n"
        assert hook.stat().st_mode & stat.S_IXUSR
        text = hook.read_text(encoding="utf-8")
        assert HOOK_MARKER in text
        assert f"{sys.executable} -m mcpctl hooks pre-commit -- ." in text

    def test_installing_again_replaces_its_own_hook(self, run: Run, repo: Repo) -> None:
        assert run("hooks", "install").exit_code == 0

        result = run("hooks", "install", "manifests")

        assert result.exit_code == 0, result.output
        hook = (repo.root / ".git" / "hooks" / "pre-commit").read_text(encoding="utf-8")
        assert "hooks pre-commit -- manifests" in hook

    def test_a_foreign_hook_is_kept_and_the_install_exits_two(self, run: Run, repo: Repo) -> None:
        hook = repo.root / ".git" / "hooks" / "pre-commit"
        hook.write_text(FOREIGN_HOOK, encoding="utf-8")

        result = run("hooks", "install")

        assert result.exit_code == 2
        assert result.stderr == (
            f"error: {hook} exists and was not installed by mcpctl; use --force to replace it "
            "(or call `mcpctl hooks pre-commit` from it)\n"
        )
        assert hook.read_text(encoding="utf-8") == FOREIGN_HOOK

    def test_force_replaces_a_foreign_hook(self, run: Run, repo: Repo) -> None:
        hook = repo.root / ".git" / "hooks" / "pre-commit"
        hook.write_text(FOREIGN_HOOK, encoding="utf-8")

        result = run("hooks", "install", "--force")

        assert result.exit_code == 0, result.output
        assert HOOK_MARKER in hook.read_text(encoding="utf-8")

    def test_outside_a_git_work_tree_exits_two(
        self, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)

        result = run("hooks", "install")

        assert result.exit_code == 2
        assert result.stderr == f"error: {tmp_path}: not inside a git work tree\n"

    def test_core_hooks_path_is_honoured(self, run: Run, repo: Repo) -> None:
        repo.ok("config", "core.hooksPath", ".githooks")

        result = run("hooks", "install")

        hook = repo.root / ".githooks" / "pre-commit"
        assert result.exit_code == 0, result.output
        assert result.stdout == f"installed {hook}\n"
        assert not (repo.root / ".git" / "hooks" / "pre-commit").exists()
        repo.write("servers/time.yaml", BROKEN)
        repo.ok("add", "servers/time.yaml")
        assert commit(repo)[0] != 0  # git ran the hook from core.hooksPath


class TestCommit:
    def test_a_valid_staged_change_is_committed(self, installed: Repo) -> None:
        before = installed.head()
        installed.write("servers/time.yaml", VALID + "  replicas: 2\n")
        installed.ok("add", "servers/time.yaml")

        status, stderr = commit(installed)

        assert status == 0, stderr
        assert installed.head() != before

    def test_an_invalid_staged_manifest_is_refused_naming_file_and_line(
        self, installed: Repo
    ) -> None:
        before = installed.head()
        installed.write("servers/time.yaml", BROKEN)
        installed.ok("add", "servers/time.yaml")

        status, stderr = commit(installed)

        assert status != 0
        assert "servers/time.yaml:7:3: error: unknown field 'colour'" in stderr
        assert "mcpctl: commit refused" in stderr
        assert installed.head() == before

    def test_a_broken_staged_version_is_refused_though_the_working_tree_is_fixed(
        self, installed: Repo
    ) -> None:
        before = installed.head()
        installed.write("servers/time.yaml", BROKEN)
        installed.ok("add", "servers/time.yaml")
        installed.write("servers/time.yaml", VALID + "  replicas: 2\n")

        status, stderr = commit(installed)

        assert status != 0
        assert "servers/time.yaml:7:3" in stderr
        assert installed.head() == before

    def test_a_broken_unstaged_edit_does_not_block_a_valid_staged_version(
        self, installed: Repo
    ) -> None:
        staged = VALID + "  replicas: 2\n"
        installed.write("servers/time.yaml", staged)
        installed.ok("add", "servers/time.yaml")
        installed.write("servers/time.yaml", BROKEN)

        status, stderr = commit(installed)

        assert status == 0, stderr
        assert installed.show("HEAD:servers/time.yaml") == installed.ok(
            "show", ":servers/time.yaml"
        )
        assert "replicas: 2" in installed.show("HEAD:servers/time.yaml")

    def test_commit_all_checks_the_tracked_changes_it_is_about_to_record(
        self, installed: Repo
    ) -> None:
        before = installed.head()
        installed.write("servers/time.yaml", BROKEN)

        status, stderr = commit(installed, "-a")

        assert status != 0
        assert "servers/time.yaml:7:3" in stderr
        assert installed.head() == before

    def test_no_verify_skips_the_hook(self, installed: Repo) -> None:
        installed.write("servers/time.yaml", BROKEN)
        installed.ok("add", "servers/time.yaml")

        status, stderr = commit(installed, "--no-verify")

        assert status == 0, stderr


class TestPreCommitCommand:
    """`mcpctl hooks pre-commit` in-process, for what needs no commit to observe."""

    def test_a_valid_index_exits_zero(self, run: Run, repo: Repo) -> None:
        repo.write("servers/time.yaml", VALID)
        repo.ok("add", "-A")

        result = run("hooks", "pre-commit")

        assert result.exit_code == 0, result.output
        assert result.output == ""

    def test_an_invalid_index_exits_one_with_every_issue_on_stderr(
        self, run: Run, repo: Repo
    ) -> None:
        repo.write("servers/time.yaml", BROKEN)
        repo.write("users.yaml", "apiVersion: mcpctl/v1\nkind: User\nmetadata: {name: Bob}\n")
        repo.ok("add", "-A")

        result = run("hooks", "pre-commit")

        assert result.exit_code == 1
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert lines[0].startswith("servers/time.yaml:7:3: error: unknown field 'colour'")
        assert lines[1].startswith("users.yaml:3:")
        assert (
            lines[-1] == "mcpctl: commit refused; fix the manifests above (or commit --no-verify)"
        )

    def test_an_index_before_the_first_commit_is_checked(self, run: Run, repo: Repo) -> None:
        repo.write("servers/time.yaml", BROKEN)
        repo.ok("add", "-A")

        assert run("hooks", "pre-commit").exit_code == 1

    def test_references_are_checked_across_the_staged_set(self, run: Run, repo: Repo) -> None:
        repo.write("servers/time.yaml", VALID)
        repo.write(
            "projects/demo.yaml",
            """
            apiVersion: mcpctl/v1
            kind: Project
            metadata: {name: demo}
            spec: {servers: [time, ghost]}
            """,
        )
        repo.ok("add", "-A")

        result = run("hooks", "pre-commit")

        assert result.exit_code == 1
        assert result.stderr.startswith(
            "projects/demo.yaml:4:24: error: Project 'demo' refers to Server/ghost"
        )

    def test_a_directory_argument_ignores_files_outside_it(self, run: Run, repo: Repo) -> None:
        repo.write("manifests/time.yaml", VALID)
        repo.write("docs/example.yaml", BROKEN)
        repo.ok("add", "-A")

        assert run("hooks", "pre-commit", "manifests").exit_code == 0
        assert run("hooks", "pre-commit").exit_code == 1

    def test_staged_deletions_are_not_validated(self, run: Run, repo: Repo) -> None:
        repo.write("servers/time.yaml", BROKEN)
        repo.commit_all()
        repo.ok("rm", "-q", "servers/time.yaml")

        assert run("hooks", "pre-commit").exit_code == 0

    def test_hidden_directories_and_other_files_are_skipped(self, run: Run, repo: Repo) -> None:
        repo.write(".github/workflows/ci.yml", "on: push\n")
        repo.write("README.md", "# not a manifest\n")
        repo.write("servers/time.yaml", VALID)
        repo.ok("add", "-A")

        assert run("hooks", "pre-commit").exit_code == 0

    def test_paths_are_relative_to_the_current_directory(
        self, run: Run, repo: Repo, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        repo.write("deploy/manifests/time.yaml", VALID)
        repo.write("deploy/broken/time.yaml", BROKEN)
        repo.ok("add", "-A")
        monkeypatch.chdir(repo.root / "deploy")

        assert run("hooks", "pre-commit", "manifests").exit_code == 0
        assert run("hooks", "pre-commit", "broken").exit_code == 1


def test_the_installed_hook_is_a_posix_shell_script(run: Run, repo: Repo) -> None:
    assert run("hooks", "install", "my manifests").exit_code == 0
    hook = repo.root / ".git" / "hooks" / "pre-commit"

    first = hook.read_text(encoding="utf-8").splitlines()[0]

    assert first == "#!/bin/sh"
    assert "'my manifests'" in hook.read_text(encoding="utf-8")
    assert os.access(hook, os.X_OK)
