"""The manifests of `-f PATH` on their way to mcpd: loaded, checked, put in a request.

Shared by the commands that send local manifests: `apply` (and `apply
--watch`), `delete -f`, `diff -f` and `seal`. `load_local` loads and checks
them here (every issue printed, exit 1, nothing sent); `request_items` and
`apply_body` turn them into the API's JSON; `locator` points an issue mcpd
found back at the file and line its object came from.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mcpctl.cli.errors import CliError, cli_errors
from mcpctl.cli.flags import parse_field

if TYPE_CHECKING:
    from mcpctl.errors import ManifestIssue
    from mcpctl.manifests import LoadResult, Manifest


def load_local(paths: tuple[str, ...], *, refusal: CliError | None = None) -> LoadResult:
    """Load and check the manifests under `paths`: the set, or every issue printed and
    `refusal` raised (default: exit 1, nothing was sent)."""
    from mcpctl.cli.connection import ValidationFailed, show_issues
    from mcpctl.manifests import load_paths
    from mcpctl.manifests.references import check_duplicates

    with cli_errors():
        result = load_paths(list(paths))
    issues = [*result.issues, *check_duplicates(result.manifests)]
    if issues:
        show_issues(issues, objects=len(result.manifests), files=len(result.files))
        raise refusal or ValidationFailed("the manifests are invalid: nothing was sent")
    return result


def request_items(manifests: list[Manifest]) -> list[dict[str, Any]]:
    """The manifests as the API's JSON: canonical, secret values included, no status."""
    from mcpctl.manifests import to_plain

    return [to_plain(m.resource, secrets="plain") for m in manifests]


def apply_body(
    manifests: list[Manifest], *, dry_run: bool = False, prune: bool, selector: str | None
) -> dict[str, Any]:
    """The body of `POST /api/v1/apply` for these manifests."""
    return {
        "items": request_items(manifests),
        "dryRun": dry_run,
        "prune": prune,
        **({"selector": selector} if selector else {}),
    }


def locator(manifests: list[Manifest]) -> Any:
    """A function pointing an issue from mcpd at the file and line of its object."""
    from mcpctl.manifests.references import object_key

    by_key = {object_key(m.resource): m for m in manifests}

    def locate(issue: ManifestIssue) -> ManifestIssue:
        if issue.file is not None:
            return issue
        manifest = None
        if issue.kind is not None and issue.name is not None:
            manifest = by_key.get((issue.kind, issue.project, issue.name))
        if manifest is not None and manifest.origin is not None:
            return manifest.issue(issue.message, issue.code, parse_field(issue.field))
        # not from a file here (a stored object, say): mcpd's positions mean nothing
        return replace(issue, file="mcpd", line=None, column=None, document=None)

    return locate
