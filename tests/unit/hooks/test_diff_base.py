"""`mcpctl diff --base REV [PATH...]`: a git revision against the working tree, in a real repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Repo, Run

pytestmark = pytest.mark.integration

SERVER = """
    apiVersion: mcpctl/v1
    kind: Server
    metadata:
      name: time
    spec:
      command: [mcp-server-time]
    """

USER = """
    apiVersion: mcpctl/v1
    kind: User
    metadata:
      name: alice
    spec:
      email: alice@example.com
    """

#: A YAML file that is not a manifest: read as one, it would be invalid.
WORKFLOW = """
    on: push
    jobs:
      check:
        runs-on: ubuntu-latest
    """


@pytest.fixture
def based(repo: Repo) -> Repo:
    """A repository with one commit: a Server, a User and a CI workflow."""
    repo.write("servers/time.yaml", SERVER)
    repo.write("users.yaml", USER)
    repo.write(".github/workflows/ci.yml", WORKFLOW)
    repo.commit_all("base")
    return repo


def test_an_untouched_working_tree_exits_zero(run: Run, based: Repo) -> None:
    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 0, result.output
    assert result.stdout == "0 to add, 0 to change, 0 to remove (2 unchanged)\n"


def test_a_working_tree_edit_exits_one_showing_the_change(run: Run, based: Repo) -> None:
    based.write("servers/time.yaml", SERVER + "  replicas: 3\n")

    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "~ Server/time",
        "    + spec.replicas: 3",
        "0 to add, 1 to change, 0 to remove (1 unchanged)",
    ]


def test_a_file_deleted_in_the_working_tree_shows_as_a_removal(run: Run, based: Repo) -> None:
    (based.root / "servers" / "time.yaml").unlink()

    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "- Server/time",
        "0 to add, 0 to change, 1 to remove (1 unchanged)",
    ]


def test_a_new_untracked_file_shows_as_an_addition(run: Run, based: Repo) -> None:
    based.write("users/bob.yaml", USER.replace("alice", "bob"))

    result = run("diff", "--base", "HEAD", "-o", "json")

    assert result.exit_code == 1
    changes = json.loads(result.stdout)["changes"]
    assert [(c["action"], c["kind"], c["name"]) for c in changes] == [("add", "User", "bob")]


def test_a_revision_expression_names_an_older_commit(run: Run, based: Repo) -> None:
    based.write("servers/time.yaml", SERVER + "  replicas: 2\n")
    based.commit_all("two replicas")

    assert run("diff", "--base", "HEAD").exit_code == 0
    result = run("diff", "--base", "HEAD~1")

    assert result.exit_code == 1
    assert "    + spec.replicas: 2" in result.stdout.splitlines()


def test_hidden_directories_are_ignored(run: Run, based: Repo) -> None:
    based.write(".github/workflows/ci.yml", WORKFLOW + "    timeout-minutes: 5\n")
    based.write(".github/workflows/new.yml", WORKFLOW)

    result = run("diff", "--base", "HEAD", ".")

    assert result.exit_code == 0, result.output


def test_hidden_directories_below_a_named_directory_are_ignored(run: Run, repo: Repo) -> None:
    repo.write("manifests/users.yaml", USER)
    repo.write("manifests/.drafts/old.yaml", WORKFLOW)
    repo.commit_all()
    repo.write("manifests/.drafts/new.yaml", WORKFLOW)

    result = run("diff", "--base", "HEAD", "manifests")

    assert result.exit_code == 0, result.output
    assert result.stdout == "0 to add, 0 to change, 0 to remove (1 unchanged)\n"


def test_a_relative_path_from_a_subdirectory_limits_both_sides(
    run: Run, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("deploy/manifests/time.yaml", SERVER)
    repo.write("deploy/other/users.yaml", USER)
    repo.write("notes.yaml", WORKFLOW)
    repo.commit_all()
    repo.write("deploy/manifests/time.yaml", SERVER + "  replicas: 3\n")
    (repo.root / "deploy" / "other" / "users.yaml").unlink()
    monkeypatch.chdir(repo.root / "deploy")

    result = run("diff", "--base", "HEAD", "manifests")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "~ Server/time",
        "    + spec.replicas: 3",
        "0 to add, 1 to change, 0 to remove (0 unchanged)",
    ]


def test_an_unknown_revision_exits_two_with_one_clear_line(run: Run, based: Repo) -> None:
    result = run("diff", "--base", "no-such-branch")

    assert result.exit_code == 2
    assert result.stderr == "error: unknown revision 'no-such-branch'\n"
    assert result.stdout == ""


def test_a_revision_that_looks_like_an_option_is_refused(run: Run, based: Repo) -> None:
    result = run("diff", "--base=--output=/tmp/x", ".")

    assert result.exit_code == 2
    assert result.stderr == "error: invalid revision '--output=/tmp/x'\n"


def test_before_the_first_commit_the_base_is_unknown(run: Run, repo: Repo) -> None:
    repo.write("users.yaml", USER)

    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 2
    assert result.stderr == "error: unknown revision 'HEAD'\n"


def test_outside_a_git_work_tree_exits_two(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)

    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 2
    assert result.stderr == f"error: {plain}: not inside a git work tree\n"


def test_a_path_outside_the_repository_exits_two(run: Run, based: Repo, tmp_path: Path) -> None:
    result = run("diff", "--base", "HEAD", str(tmp_path))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path}: outside the repository")


def test_an_invalid_manifest_at_the_base_exits_two_naming_revision_and_file(
    run: Run, repo: Repo
) -> None:
    repo.write("servers/time.yaml", SERVER + "  colour: red\n")
    repo.commit_all()
    repo.write("servers/time.yaml", SERVER)

    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 2
    assert "HEAD:servers/time.yaml:7:3: error: unknown field 'colour'" in result.stderr
    assert result.stdout == ""


def test_an_invalid_working_tree_exits_two(run: Run, based: Repo) -> None:
    based.write("servers/time.yaml", SERVER + "  colour: red\n")

    result = run("diff", "--base", "HEAD")

    assert result.exit_code == 2
    assert "servers/time.yaml:7:3: error: unknown field 'colour'" in result.stderr


def test_a_named_path_deleted_since_the_base_shows_its_objects_as_removals(
    run: Run, based: Repo
) -> None:
    based.ok("rm", "-rq", "servers")

    result = run("diff", "--base", "HEAD", "servers")

    assert result.exit_code == 1, result.output
    assert "- Server/time" in result.stdout


def test_a_named_path_missing_here_and_at_the_base_exits_two(run: Run, based: Repo) -> None:
    result = run("diff", "--base", "HEAD", "nowhere")

    assert result.exit_code == 2
    assert "nowhere: no such file or directory" in result.stderr


def test_a_symlink_at_the_base_is_not_read_as_a_manifest(run: Run, based: Repo) -> None:
    (based.root / "servers" / "link.yaml").symlink_to("time.yaml")
    based.commit_all("a link")
    (based.root / "servers" / "link.yaml").unlink()

    result = run("diff", "--base", "HEAD", "servers")

    assert result.exit_code == 0, result.output
