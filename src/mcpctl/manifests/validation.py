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
    check_default_backend,
    check_duplicates,
    check_references,
    check_template_parameters,
)
from mcpctl.schemas import Resource, Server


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
    issues.extend(find_cycles(manifests, catalog))
    return issues
