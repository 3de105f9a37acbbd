"""The Templates that ship with mcpctl are valid and named after their files."""

from __future__ import annotations

from importlib import resources

from mcpctl.manifests import dump_object, load_text
from mcpctl.manifests.builtins import builtin_templates


def test_every_built_in_template_file_loads_and_is_named_after_its_file() -> None:
    folder = resources.files("mcpctl.manifests") / "templates"
    names = sorted(
        e.name.removesuffix(".yaml") for e in folder.iterdir() if e.name.endswith(".yaml")
    )
    assert names
    assert sorted(builtin_templates()) == names


def test_built_in_templates_are_labelled_as_built_in() -> None:
    for template in builtin_templates().values():
        assert template.metadata.labels.get("mcpctl.dev/builtin") == "true"


def test_built_in_templates_survive_the_canonical_round_trip() -> None:
    for template in builtin_templates().values():
        text = dump_object(template)
        [manifest] = load_text(text).manifests
        assert manifest.resource == template


def test_builtin_template_files_are_in_canonical_form() -> None:
    from importlib import resources

    from mcpctl.manifests import dump_object, load_text

    folder = resources.files("mcpctl.manifests") / "templates"
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            text = entry.read_text("utf-8")
            loaded = load_text(text, entry.name)
            assert loaded.issues == []
            assert dump_object(loaded.manifests[0].resource) == text, entry.name
