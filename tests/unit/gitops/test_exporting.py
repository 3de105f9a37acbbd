"""Export to a real bare repository: one file per object, one commit per write, sealed secrets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcpctl.manifests import check_set, load_paths, load_text
from mcpctl.schemas import Resource, Secret
from mcpctl.secrets import Sealer
from mcpctl.staterepo import (
    CHANGE_TRAILER,
    README_PATH,
    Author,
    StateRepo,
    differences,
    export_all,
    export_changes,
    key_for,
    path_for,
    render_object,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SEALER = Sealer.from_key(bytes(range(64)))
SEAL = SEALER.seal


def examples() -> list[Resource]:
    result = load_paths([str(EXAMPLES)])
    assert result.issues == []
    return [m.resource for m in result.manifests]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> StateRepo:
    return StateRepo.open_or_init(tmp_path / "state.git")


def test_a_new_repo_has_main_with_a_readme(repo: StateRepo, tmp_path: Path) -> None:
    assert git(tmp_path / "state.git", "ls-tree", "-r", "--name-only", "main").split() == [
        README_PATH
    ]
    assert StateRepo.open_or_init(tmp_path / "state.git").head() == repo.head()


def test_the_full_export_puts_one_canonical_file_per_object_in_the_layout(
    repo: StateRepo, tmp_path: Path
) -> None:
    resources = examples()

    export_all(repo, resources, SEAL, change=42)

    paths = set(git(tmp_path / "state.git", "ls-tree", "-r", "--name-only", "main").split())
    expected = {path_for(r.KIND, r.project, r.name) for r in resources} | {README_PATH}
    assert paths == expected
    assert "prompts/demo/code-review.yaml" in paths
    for resource in resources:
        path = path_for(resource.KIND, resource.project, resource.name)
        shown = git(tmp_path / "state.git", "show", f"main:{path}")
        assert shown.encode() == render_object(resource, SEAL)
    assert f"{CHANGE_TRAILER}: 42" in git(tmp_path / "state.git", "log", "-1", "--format=%B")
    assert differences(repo, resources, SEAL) == []


def test_exporting_the_same_objects_again_makes_no_commit(repo: StateRepo) -> None:
    resources = examples()
    export_all(repo, resources, SEAL)
    head = repo.head()

    assert export_all(repo, resources, SEAL) is None
    assert (
        export_changes(repo, resources[:3], [], SEAL, author=Author.of("alice"), summary="apply")
        is None
    )
    assert repo.head() == head


def test_one_write_is_one_commit_by_its_author_with_deletions(
    repo: StateRepo, tmp_path: Path
) -> None:
    resources = examples()
    export_all(repo, resources, SEAL)
    server = next(r for r in resources if r.KIND == "Server" and r.name == "time")
    changed = server.model_copy(update={"spec": server.spec.model_copy(update={"replicas": 3})})

    commit = export_changes(
        repo,
        [changed],
        [("Prompt", "demo", "on-call")],
        SEAL,
        author=Author.of("alice"),
        summary="update Server/time, delete Prompt/demo/on-call",
        change=7,
    )

    assert commit is not None
    log = git(tmp_path / "state.git", "log", "-1", "--format=%an%n%B")
    assert log.startswith("alice\nupdate Server/time")
    assert f"{CHANGE_TRAILER}: 7" in log
    names = git(tmp_path / "state.git", "show", "--name-status", "--format=", "main").split("\n")
    assert sorted(line for line in names if line) == [
        "D\tprompts/demo/on-call.yaml",
        "M\tservers/time.yaml",
    ]
    assert "replicas: 3" in git(tmp_path / "state.git", "show", "main:servers/time.yaml")


def test_no_secret_value_is_anywhere_in_the_history(repo: StateRepo, tmp_path: Path) -> None:
    resources = examples()
    values = [v for r in resources if isinstance(r, Secret) for v in r.spec.data.values() if v]
    assert values
    export_all(repo, resources, SEAL)
    export_changes(repo, resources, [], SEAL, author=Author.of("bob"), summary="again")

    objects = git(tmp_path / "state.git", "rev-list", "--all", "--objects").split("\n")
    contents = "".join(
        git(tmp_path / "state.git", "cat-file", "-p", line.split()[0])
        for line in objects
        if line.strip()
    )
    for value in values:
        assert value not in contents


def test_the_exported_tree_reads_back_as_a_valid_set_that_unseals(repo: StateRepo) -> None:
    resources = examples()
    export_all(repo, resources, SEAL)

    loaded = [
        m
        for path, data in repo.files().items()
        if path != README_PATH
        for m in load_text(data.decode(), path).manifests
    ]

    assert check_set(loaded) == []
    secrets = {m.resource.name: m.resource for m in loaded if isinstance(m.resource, Secret)}
    original = next(r for r in resources if isinstance(r, Secret) and r.name == "github")
    sealed = secrets["github"].spec.sealed_data["token"]
    assert SEALER.open("github", "token", sealed) == original.spec.data["token"]


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("servers/time.yaml", ("Server", None, "time")),
        ("prompts/demo/intro.yaml", ("Prompt", "demo", "intro")),
        ("README.md", None),
        ("servers/Time.yaml", None),
        ("servers/demo/time.yaml", None),
        ("prompts/intro.yaml", None),
        ("instances/x.yaml", None),
        ("servers/../x.yaml", None),
    ],
)
def test_only_files_of_the_layout_name_objects(
    path: str, key: tuple[str, str | None, str] | None
) -> None:
    assert key_for(path) == key


def test_runtime_kinds_have_no_place_in_the_repo() -> None:
    with pytest.raises(ValueError, match="not kept"):
        path_for("Instance", None, "x")


def test_deleting_the_last_file_of_a_directory_removes_the_directory(
    repo: StateRepo, tmp_path: Path
) -> None:
    export_all(repo, examples(), SEAL)

    export_changes(
        repo,
        [],
        [("Prompt", "demo", "on-call"), ("Prompt", "demo", "code-review")],
        SEAL,
        author=Author.of("alice"),
        summary="delete the prompts",
    )

    tree = git(tmp_path / "state.git", "ls-tree", "--name-only", "main").split()
    assert "prompts" not in tree
    assert "servers" in tree
