"""`mcpctl schema export`: the files, the staleness check, and that other tools accept them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type information
import pytest
import yaml
from click.testing import CliRunner

from mcpctl.cli.main import cli
from mcpctl.schemas.kinds import KINDS

from .conftest import EXAMPLES, REPO_ROOT, Run

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
KIND_FILES = {f"{model.KIND.lower()}.json" for model in KINDS}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh export, shared by the tests that only read it."""
    directory = tmp_path_factory.mktemp("schemas")
    result = CliRunner().invoke(cli, ["schema", "export", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture(scope="module")
def validators(exported: Path) -> dict[str, Any]:
    """A checked validator per exported file (checking a schema is the slow part)."""
    found = {}
    for path in exported.iterdir():
        schema = load_json(path)
        jsonschema.Draft202012Validator.check_schema(schema)
        found[path.name] = jsonschema.Draft202012Validator(schema)
    return found


def load_json(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(body, dict)
    return body


def example_documents() -> list[Any]:
    """Every document of every example file, as params named `file#index`."""
    documents = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if doc is not None:
                documents.append(pytest.param(doc, id=f"{path.relative_to(EXAMPLES)}#{i}"))
    return documents


def test_export_writes_one_schema_per_kind_and_one_for_any_manifest(
    run: Run, tmp_path: Path
) -> None:
    target = tmp_path / "out"

    result = run("schema", "export", str(target))

    assert result.exit_code == 0, result.output
    assert {p.name for p in target.iterdir()} == KIND_FILES | {"manifest.json"}
    assert result.stdout == f"wrote {len(KIND_FILES) + 1} schema files to {target}\n"


def test_every_exported_file_is_a_valid_draft_2020_12_schema(
    exported: Path, validators: dict[str, Any]
) -> None:
    assert set(validators) == KIND_FILES | {"manifest.json"}  # each passed check_schema
    for path in exported.iterdir():
        assert load_json(path)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_check_exits_zero_when_the_files_are_up_to_date(run: Run, exported: Path) -> None:
    result = run("schema", "export", "--check", str(exported))

    assert result.exit_code == 0
    assert result.stdout == f"{exported}: up to date\n"


def test_check_exits_one_naming_the_stale_and_missing_files(run: Run, tmp_path: Path) -> None:
    assert run("schema", "export", str(tmp_path)).exit_code == 0
    (tmp_path / "server.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "user.json").unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    result = run("schema", "export", "--check", str(tmp_path))

    assert result.exit_code == 1
    assert set(result.stdout.splitlines()) == {
        f"stale: {tmp_path / 'server.json'}",
        f"stale: {tmp_path / 'user.json'}",
    }
    assert result.stderr == f"run: mcpctl schema export {tmp_path}\n"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_check_of_a_missing_directory_exits_one(run: Run, tmp_path: Path) -> None:
    result = run("schema", "export", "--check", str(tmp_path / "nowhere"))

    assert result.exit_code == 1
    assert not (tmp_path / "nowhere").exists()


def test_the_committed_schemas_are_up_to_date(run: Run) -> None:
    """CI fails here when a model changed and `mcpctl schema export schemas/` was not run."""
    result = run("schema", "export", "--check", str(REPO_ROOT / "schemas"))

    assert result.exit_code == 0, result.output


class TestWithTheJsonschemaLibrary:
    @pytest.mark.parametrize("document", example_documents())
    def test_every_example_validates_against_manifest_and_its_kind(
        self, validators: dict[str, Any], document: dict[str, Any]
    ) -> None:
        validators["manifest.json"].validate(document)
        validators[f"{document['kind'].lower()}.json"].validate(document)

    def test_a_list_of_the_examples_validates_against_manifest(
        self, validators: dict[str, Any]
    ) -> None:
        items = [param.values[0] for param in example_documents()]

        validators["manifest.json"].validate(
            {"apiVersion": "mcpctl/v1", "kind": "List", "items": items}
        )

    @pytest.mark.parametrize(
        "document",
        [
            {
                "apiVersion": "mcpctl/v1",
                "kind": "User",
                "metadata": {"name": "a"},
                "spec": {"x": 1},
            },
            {"apiVersion": "mcpctl/v1", "kind": "Usr", "metadata": {"name": "a"}, "spec": {}},
            {"apiVersion": "mcpctl/v2", "kind": "User", "metadata": {"name": "a"}, "spec": {}},
            {"apiVersion": "mcpctl/v1", "kind": "List", "items": [{"kind": "User"}]},
        ],
        ids=["unknown field", "unknown kind", "wrong apiVersion", "bad List item"],
    )
    def test_an_invalid_manifest_fails_against_manifest(
        self, validators: dict[str, Any], document: dict[str, Any]
    ) -> None:
        assert not validators["manifest.json"].is_valid(document)


class TestWithCheckJsonschema:
    """The command the `schema export` help suggests for CI.

    check-jsonschema reads one document per file, so multi-document files are
    given to it as a `kind: List`.
    """

    def check(self, schema: Path, *files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CHECK_JSONSCHEMA), "--schemafile", str(schema), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def test_the_examples_pass(self, exported: Path, tmp_path: Path) -> None:
        files = []
        for path in sorted(EXAMPLES.rglob("*.yaml")):
            documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
            if len(documents) == 1:
                files.append(path)
            else:
                as_list = tmp_path / f"{path.stem}-list.json"
                body = {"apiVersion": "mcpctl/v1", "kind": "List", "items": documents}
                as_list.write_text(json.dumps(body), encoding="utf-8")
                files.append(as_list)

        done = self.check(exported / "manifest.json", *files)

        assert done.returncode == 0, done.stdout + done.stderr

    def test_an_invalid_file_fails(self, exported: Path, tmp_path: Path) -> None:
        bad = tmp_path / "server.yaml"
        bad.write_text(
            "apiVersion: mcpctl/v1\nkind: Server\nmetadata: {name: time}\n"
            "spec: {command: [mcp-server-time], colour: red}\n",
            encoding="utf-8",
        )

        done = self.check(exported / "manifest.json", bad)

        assert done.returncode == 1
        assert "colour" in done.stdout + done.stderr
