"""The built-in catalogue: the Templates that ship with mcpctl are valid, canonical,
cover the servers the project promises, and launch what they declare."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcpctl.cli.main import cli
from mcpctl.manifests import dump_object, load_text
from mcpctl.manifests.builtins import (
    BUILTIN_LABEL,
    builtin_manifests,
    builtin_templates,
    is_builtin,
)

FOLDER = resources.files("mcpctl.manifests") / "templates"

#: The servers the catalogue must cover (puppeteer or playwright: playwright).
PROMISED = {
    "time",
    "fetch",
    "git",
    "filesystem",
    "everything",
    "memory",
    "sequential-thinking",
    "github",
    "gitlab",
    "slack",
    "postgres",
    "sqlite",
    "brave-search",
    "playwright",
    "grafana",
    "home-assistant",
}

#: Words in a parameter's name that say it holds a credential.
CREDENTIAL = re.compile(r"TOKEN|KEY|PASSWORD|SECRET|DATABASE_URI")


def catalogue_files() -> list[str]:
    return sorted(e.name for e in FOLDER.iterdir() if e.name.endswith(".yaml"))


def test_the_catalogue_covers_the_promised_servers() -> None:
    assert set(builtin_templates()) == PROMISED


def test_every_catalogue_file_is_valid_for_mcpctl_validate() -> None:
    folder = Path(str(FOLDER))
    result = CliRunner().invoke(cli, ["validate", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == f"{len(PROMISED)} objects in {len(PROMISED)} files: valid\n"


def test_every_file_holds_one_template_named_after_it() -> None:
    assert catalogue_files() == [f"{name}.yaml" for name in sorted(PROMISED)]
    for manifest in builtin_manifests():
        assert manifest.origin is not None
        assert manifest.origin.file == f"<builtin>/{manifest.resource.name}.yaml"


def test_built_in_templates_are_labelled_as_built_in() -> None:
    for template in builtin_templates().values():
        assert template.metadata.labels == {BUILTIN_LABEL: "true"}
        assert is_builtin(template.metadata.labels)


def test_only_the_label_s_value_true_marks_a_built_in() -> None:
    assert not is_builtin({})
    assert not is_builtin({BUILTIN_LABEL: "false"})
    assert not is_builtin({BUILTIN_LABEL: ""})


def test_builtin_template_files_are_in_canonical_form() -> None:
    for name in catalogue_files():
        text = (FOLDER / name).read_text("utf-8")
        loaded = load_text(text, name)
        assert loaded.issues == []
        assert dump_object(loaded.manifests[0].resource) == text, name


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_a_built_in_template_describes_itself_and_its_parameters(name: str) -> None:
    template = builtin_templates()[name]
    assert template.spec.description
    for param in template.spec.parameters:
        assert param.description, param.name


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_a_built_in_template_states_its_transport(name: str) -> None:
    """Every upstream in the catalogue speaks MCP over stdio as launched: said, not inferred."""
    assert builtin_templates()[name].spec.transport == "stdio"


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_credentials_are_secret_parameters_filled_from_a_secret(name: str) -> None:
    for param in builtin_templates()[name].spec.parameters:
        assert bool(CREDENTIAL.search(param.name)) == param.secret, param.name
        if param.secret:
            assert param.required, param.name


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_a_launch_names_only_declared_parameters_and_each_required_one(name: str) -> None:
    """Parameters reach a server as its environment; a server that takes them as
    arguments gets them through `sh -c 'exec ... "$NAME"'`, whose script names only
    declared parameters (no other argv holds a `$`: nothing expands it)."""
    spec = builtin_templates()[name].spec
    declared = {p.name for p in spec.parameters}
    if spec.command is not None and spec.command[:2] == ["sh", "-c"]:
        script = spec.command[2]
        assert script.startswith("exec "), "the shell gives way to the server (signals)"
        used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", script))
        assert used
        assert used <= declared, used - declared
    else:
        assert spec.command is None or "$" not in " ".join(spec.command)


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_a_launch_is_the_upstream_s_documented_one(name: str) -> None:
    """npx with -y (no prompt on a server), uvx, or a container image."""
    spec = builtin_templates()[name].spec
    if spec.image is not None:
        assert spec.command is None
        return
    assert spec.command is not None
    line = spec.command[2] if spec.command[:2] == ["sh", "-c"] else " ".join(spec.command)
    assert line.removeprefix("exec ").split()[0] in ("npx", "uvx"), line
    if "npx" in line:
        assert " -y " in f" {line} ", line
