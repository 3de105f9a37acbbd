"""The Templates that ship with mcpctl (seeded by mcpd, known to `validate`)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from mcpctl.errors import InvalidManifest
from mcpctl.manifests.loading import LoadResult, load_text
from mcpctl.schemas import Template


@cache
def builtin_templates() -> dict[str, Template]:
    """The built-in Templates by name."""
    result = LoadResult()
    folder = resources.files("mcpctl.manifests") / "templates"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            result.extend(load_text(entry.read_text("utf-8"), f"<builtin>/{entry.name}"))
    if result.issues:  # pragma: no cover - guarded by the tests
        raise InvalidManifest(result.issues)
    return {
        m.resource.name: m.resource for m in result.manifests if isinstance(m.resource, Template)
    }
