"""`check_set`: every check a set of manifests must pass, in one call.

The single entry point for `mcpctl validate`, the API, the pre-receive hook
and the importer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mcpctl.errors import ManifestIssue
from mcpctl.manifests.loading import Manifest
from mcpctl.manifests.ordering import find_cycles
from mcpctl.manifests.references import (
    Catalog,
    check_container_fields,
    check_default_backend,
    check_duplicates,
    check_references,
    check_template_parameters,
)
from mcpctl.schemas import Resource, Secret, Server


def check_set(
    manifests: Sequence[Manifest], existing: Iterable[Resource] = ()
) -> list[ManifestIssue]:
    """Every consistency issue of `manifests` (over `existing`, when given)."""
    issues: list[ManifestIssue] = list(check_duplicates(manifests))
    catalog = Catalog(manifests, existing)
    issues.extend(check_default_backend(manifests, catalog))
    for manifest in manifests:
        issues.extend(check_references(manifest, catalog))
        if isinstance(manifest.resource, Server):
            issues.extend(check_template_parameters(manifest, manifest.resource, catalog))
            issues.extend(check_container_fields(manifest, manifest.resource, catalog))
    issues.extend(find_cycles(manifests, catalog))
    return issues


def check_sealable(manifest: Manifest) -> list[ManifestIssue]:
    """What keeps `manifest` from being sealed (`mcpctl seal`): not a Secret, a value not
    given (null keeps a stored value, which sealing cannot know)."""
    resource = manifest.resource
    if not isinstance(resource, Secret):
        return [manifest.issue(f"only Secrets are sealed: this is a {resource.KIND}", "kind")]
    return [
        manifest.issue(
            f"key {key!r} has no value to seal: give its value",
            "secret-value",
            ("spec", "data", key),
        )
        for key, value in resource.spec.data.items()
        if value is None
    ]
