"""`mcpctl diff`: the semantic change between two sets of manifests, or files and mcpd.

Offline (two paths, or `--base REV`) the change sets are computed here; with
`-f PATH` mcpd computes them (`POST /api/v1/apply` with `dryRun`), against
what it stores, and they are rendered the same way.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from mcpctl.cli.connection import target_options
from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK, CliError, cli_errors
from mcpctl.cli.rendering.changes import FORMATS

if TYPE_CHECKING:
    from mcpctl.client.http import ApiClient
    from mcpctl.manifests import Key
    from mcpctl.schemas import Resource


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option(
    "--base",
    "base",
    metavar="REV",
    help="Compare the manifests at git revision REV with the working tree (PATHs default to .).",
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: objects and fields; json: for tools; unified: a diff of canonical YAML.",
)
@click.option(
    "--color/--no-color", default=None, help="Colour the output (default: on a terminal)."
)
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    metavar="PATH",
    type=click.Path(allow_dash=True),
    help="Compare these manifests with what mcpd stores (repeatable; - for stdin).",
)
@click.option("--prune", is_flag=True, help="With -f: also show what `apply --prune` deletes.")
@click.option("-l", "--selector", metavar="SELECTOR", help="With --prune: the objects to consider.")
@target_options()
def diff(
    paths: tuple[str, ...],
    base: str | None,
    fmt: str,
    color: bool | None,
    files: tuple[str, ...],
    prune: bool,
    selector: str | None,
) -> None:
    """Show what changes between two sets of manifests, object by object.

    With -f PATH: what `mcpctl apply -f PATH` would change on mcpd (nothing
    is changed). With --base REV, inside a git checkout: what merging this
    branch changes, i.e. the manifests under PATH at REV against the working
    tree. Otherwise: exactly two paths, OLD and NEW. Formatting, key order
    and spelled-out defaults are not changes; secret values are never shown.
    Each side must load cleanly; run `mcpctl validate` for the checks across
    the whole set.

    Exit status, like `kubectl diff`: 0 no change, 1 changes, 2 error
    (invalid manifests included, with every issue reported).

    \b
    Examples:
      mcpctl diff -f manifests/
      mcpctl diff --base origin/main manifests/
      mcpctl diff --base HEAD~1
      mcpctl diff -o json old/ new/
    """
    from mcpctl.cli.rendering.changes import render_json, render_text, render_unified
    from mcpctl.cli.rendering.issues import render_text as render_issues
    from mcpctl.errors import NotFound
    from mcpctl.manifests import LoadResult, diff_sets, load_paths
    from mcpctl.manifests.references import check_duplicates

    use_color = sys.stdout.isatty() if color is None else color
    if files:
        if paths or base is not None:
            raise click.UsageError("give -f PATH alone, or two paths, or --base REV [PATH...]")
        diff_live(files, fmt=fmt, color=color, prune=prune, selector=selector)
    if prune or selector:
        raise click.UsageError("--prune and -l apply only with -f PATH")
    if base is None and len(paths) != 2:
        raise click.UsageError("give two paths (OLD NEW), or --base REV [PATH...], or -f PATH")
    with cli_errors():
        if base is not None:
            from mcpctl.hooks import GitRepo, load_at_revision

            repo = GitRepo.find()
            targets = list(paths) or ["."]
            old = load_at_revision(repo, base, targets)
            # A path deleted since REV is a set of removals, not an error.
            present = [p for p in targets if os.path.lexists(p)]
            for gone in sorted(set(targets) - set(present)):
                if not repo.has_path(base, repo.relative(gone)):
                    raise NotFound(f"{gone}: no such file or directory, here or at {base}")
            new = load_paths(present) if present else LoadResult()
        else:
            old = load_paths([paths[0]])
            new = load_paths([paths[1]])
        # Each side must load; references are `validate`'s job, since PATHs may be a part
        # of the set. Duplicates are checked: they would make the diff ambiguous.
        problems = [
            *old.issues,
            *new.issues,
            *check_duplicates(old.manifests),
            *check_duplicates(new.manifests),
        ]

    def issues_of(result: LoadResult) -> int:
        return len(result.manifests)

    if problems:
        err_color = sys.stderr.isatty() if color is None else color
        click.echo(
            render_issues(
                problems,
                objects=issues_of(old) + issues_of(new),
                files=len(old.files) + len(new.files),
                color=err_color,
            ),
            nl=False,
            err=True,
            color=err_color,
        )
        raise CliError("cannot diff invalid manifests (see the issues above)")
    changes = diff_sets(old.manifests, new.manifests)
    if fmt == "json":
        click.echo(render_json(changes), nl=False, color=use_color)
    elif fmt == "unified":
        old_by = {m.key: m for m in old.manifests}
        new_by = {m.key: m for m in new.manifests}
        click.echo(
            render_unified(changes, old_by, new_by, color=use_color), nl=False, color=use_color
        )
    else:
        click.echo(render_text(changes, color=use_color), nl=False, color=use_color)
    sys.exit(EXIT_FOUND if changes else EXIT_OK)


def diff_live(
    files: tuple[str, ...], *, fmt: str, color: bool | None, prune: bool, selector: str | None
) -> None:
    """Render what applying `files` would change on mcpd, and exit 0 or 1 (2 on error)."""
    from mcpctl.cli.connection import connect, show_issues
    from mcpctl.cli.rendering.changes import (
        changes_from_api,
        render_json,
        render_text,
        render_unified,
    )
    from mcpctl.cli.sending import load_local, locator, request_items
    from mcpctl.errors import InvalidManifest
    from mcpctl.manifests import Manifest

    if prune and not selector:
        raise click.UsageError("--prune needs -l SELECTOR: which stored objects it may delete")
    if selector and not prune:
        raise click.UsageError("-l SELECTOR applies only with --prune")
    use_color = sys.stdout.isatty() if color is None else color
    local = load_local(
        files, refusal=CliError("cannot diff invalid manifests (see the issues above)")
    )
    body = {
        "items": request_items(local.manifests),
        "dryRun": True,
        "prune": prune,
        **({"selector": selector} if selector else {}),
    }
    with cli_errors(), connect() as client:
        try:
            answer = client.request("POST", "/api/v1/apply", body=body)
        except InvalidManifest as e:
            locate = locator(local.manifests)
            show_issues(
                [locate(i) for i in e.issues],
                objects=len(local.manifests),
                files=len(local.files),
            )
            raise CliError("mcpd refused the manifests (see the issues above)") from e
        changes = changes_from_api(answer)
        if fmt == "unified":
            new_by = {m.key: m for m in local.manifests}
            old_by: dict[Key, Manifest] = {}
            for change in changes.changes:
                if change.action == "add":
                    continue
                live = _fetch_live(client, change.key)
                if live is not None:
                    old_by[change.key] = Manifest(live)
            click.echo(
                render_unified(changes, old_by, new_by, color=use_color),
                nl=False,
                color=use_color,
            )
    if fmt == "json":
        click.echo(render_json(changes), nl=False, color=use_color)
    elif fmt == "text":
        click.echo(render_text(changes, color=use_color), nl=False, color=use_color)
    sys.exit(EXIT_FOUND if changes else EXIT_OK)


def _fetch_live(client: ApiClient, key: Key) -> Resource | None:
    """The stored object of a change, for the unified view (None if gone or unreadable)."""
    from mcpctl.cli.resources import get_object, to_resource
    from mcpctl.errors import NotFound
    from mcpctl.schemas import BY_KIND

    kind, project, name = key
    model = BY_KIND.get(kind)
    if model is None:
        return None
    try:
        return to_resource(get_object(client, model, name, project=project))
    except NotFound:
        return None
