"""The Templates that ship with mcpctl: the built-in catalogue.

One canonical manifest per template in `templates/` beside this module, shipped
in the package (the wheel takes every file of `src/mcpctl`). Two callers:
`check_set`'s `Catalog` knows them, so `mcpctl validate` checks a Server using
a built-in template offline, with no mcpd; and the leader's start seeds them
into the database (`reconciler.seeding`), labelled `BUILTIN_LABEL`, so they are
objects like any other, listed, described and exported to the state repo.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources

from mcpctl.errors import InvalidManifest
from mcpctl.manifests.loading import LoadResult, Manifest, load_text
from mcpctl.schemas import Template

#: The label of a built-in Template mcpd keeps as shipped; without it ("true"), the
#: Template is the user's and mcpd never touches it.
BUILTIN_LABEL = "mcpctl.dev/builtin"


def is_builtin(labels: Mapping[str, str]) -> bool:
    """Whether an object's labels say mcpd keeps it as the package ships it."""
    return labels.get(BUILTIN_LABEL) == "true"


@cache
def builtin_manifests() -> tuple[Manifest, ...]:
    """The built-in Templates as loaded from their files (with file:line origins),
    sorted by name."""
    result = LoadResult()
    folder = resources.files("mcpctl.manifests") / "templates"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            result.extend(load_text(entry.read_text("utf-8"), f"<builtin>/{entry.name}"))
    if result.issues:  # pragma: no cover - guarded by the tests
        raise InvalidManifest(result.issues)
    return tuple(
        sorted(
            (m for m in result.manifests if isinstance(m.resource, Template)),
            key=lambda m: m.resource.name,
        )
    )


@cache
def builtin_templates() -> dict[str, Template]:
    """The built-in Templates by name."""
    templates: dict[str, Template] = {}
    for manifest in builtin_manifests():
        assert isinstance(manifest.resource, Template)
        templates[manifest.resource.name] = manifest.resource
    return templates
