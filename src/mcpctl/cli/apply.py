"""`mcpctl apply -f` and `mcpctl delete`: manifests against mcpd, kubectl-style.

`apply` checks the files here first (every issue printed, exit 1, nothing
sent), then sends them as one `POST /api/v1/apply`: mcpd validates them with
the stored objects and applies all or nothing. Issues mcpd finds are pointed
back at the file and line the object came from. With `--watch` it goes on
applying on every change to the files (see `watching`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from mcpctl.cli.completion import complete_kinds, complete_names
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_ERROR, cli_errors
from mcpctl.cli.flags import parse_field
from mcpctl.cli.rendering.verbs import VERBS

if TYPE_CHECKING:
    from mcpctl.errors import ManifestIssue
    from mcpctl.manifests import LoadResult, Manifest

files_option = click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    metavar="PATH",
    type=click.Path(allow_dash=True),
    help="A manifest file or directory (walked recursively), or - for stdin (repeatable).",
)


def load_local(paths: tuple[str, ...]) -> LoadResult:
    """Load and check the manifests under `paths`: every issue printed and exit 1, or the set."""
    from mcpctl.cli.connection import ValidationFailed, show_issues
    from mcpctl.manifests import load_paths
    from mcpctl.manifests.references import check_duplicates

    with cli_errors():
        result = load_paths(list(paths))
    issues = [*result.issues, *check_duplicates(result.manifests)]
    if issues:
        show_issues(issues, objects=len(result.manifests), files=len(result.files))
        raise ValidationFailed("the manifests are invalid: nothing was sent")
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


def check_watch(paths: tuple[str, ...], dry_run: bool, fmt: str) -> None:
    """Usage errors of `--watch`: it needs files or directories, applies, and prints text."""
    if dry_run:
        raise click.UsageError(
            "--watch applies: see changes without applying with `mcpctl diff -f`"
        )
    if fmt != "text":
        raise click.UsageError("--watch prints text: -o json does not go with it")
    for path in paths:
        if path == "-":
            raise click.UsageError(
                "--watch needs files or directories: stdin (-) cannot be watched"
            )
        if not os.path.exists(path):
            raise click.UsageError(f"{path}: no such file or directory")


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


def change_key(change: dict[str, Any]) -> tuple[str, str | None, str]:
    project = change.get("project")
    return (
        str(change.get("kind")),
        project if isinstance(project, str) else None,
        str(change.get("name")),
    )


@click.command()
@files_option
@click.option("--dry-run", is_flag=True, help="Ask mcpd what would change; change nothing.")
@click.option(
    "--prune",
    is_flag=True,
    help="Delete stored objects matching -l that the files do not hold.",
)
@click.option(
    "-l", "--selector", metavar="SELECTOR", help="With --prune: which objects to consider."
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    help="json: mcpd's answer.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Then apply again on every change to the files, showing each diff (Ctrl-C stops).",
)
@click.option(
    "--watch-limit",
    type=click.IntRange(min=1),
    hidden=True,
    help="With --watch: stop after this many rounds (for tests).",
)
@target_options()
def apply(
    paths: tuple[str, ...],
    dry_run: bool,
    prune: bool,
    selector: str | None,
    fmt: str,
    watch: bool,
    watch_limit: int | None,
) -> None:
    """Create or update the objects in manifest files on mcpd, all or nothing.

    Files, directories (walked recursively) and - (stdin) are read as
    `mcpctl validate` reads them; invalid manifests are reported with file and
    line and nothing is sent. Unchanged objects are left alone.

    With --watch, the files and directories are watched after the apply, and
    every save applies the whole set again: the objects that changed are shown
    with their fields, then a timestamped summary. Invalid manifests, or mcpd
    refusing them, are reported and the watch goes on; Ctrl-C stops it (exit
    status 0). An object taken out of the files stays on mcpd unless --prune
    -l SELECTOR deletes it.

    \b
    Examples:
      mcpctl apply -f manifests/
      mcpctl apply -f manifests/ --watch
      mcpctl apply -f server.yaml --dry-run
      mcpctl apply -f manifests/ --prune -l team=infra
      mcpctl get server time -o yaml | mcpctl apply -f -
    """
    import json

    from mcpctl.cli.resources import short_ref
    from mcpctl.schemas import BY_KIND

    if not paths:
        raise click.UsageError("give the manifests with -f PATH")
    if prune and not selector:
        raise click.UsageError("--prune needs -l SELECTOR: which stored objects it may delete")
    if selector and not prune:
        raise click.UsageError("-l SELECTOR applies only with --prune")
    if watch_limit is not None and not watch:
        raise click.UsageError("--watch-limit applies only with --watch")
    if watch:
        from mcpctl.cli.watching import ApplyWatch  # watchfiles: only when watching

        check_watch(paths, dry_run, fmt)
        with cli_errors():
            connect().close()  # a missing context is an error now, not at every save
        ApplyWatch(paths, prune, selector, limit=watch_limit).run()
        return
    loaded = load_local(paths)
    body = apply_body(loaded.manifests, dry_run=dry_run, prune=prune, selector=selector)
    locate = locator(loaded.manifests)
    counts = {"objects": len(loaded.manifests), "files": len(loaded.files)}
    with api_errors(**counts, locate=locate), connect() as client:
        answer = client.request("POST", "/api/v1/apply", body=body)
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    changes = answer.get("changes", []) if isinstance(answer, dict) else []
    by_key = {change_key(c): c for c in changes if isinstance(c, dict)}
    suffix = " (dry run)" if dry_run else ""
    for manifest in loaded.manifests:
        r = manifest.resource
        change = by_key.pop((r.KIND, r.project, r.name), None)
        verb = VERBS.get(change.get("action", ""), "configured") if change else "unchanged"
        click.echo(f"{short_ref(type(r), r.name, r.project)} {verb}{suffix}")
    for (kind, project, name), change in by_key.items():
        model = BY_KIND.get(kind)
        ref = short_ref(model, name, project) if model else f"{kind.lower()}/{name}"
        click.echo(f"{ref} {VERBS.get(change.get('action', ''), 'pruned')}{suffix}")


@click.command()
@click.argument("kind", required=False, shell_complete=complete_kinds)
@click.argument("names", nargs=-1, metavar="[NAME...]", shell_complete=complete_names)
@files_option
@click.option("-p", "--project", metavar="NAME", help="The project of project-scoped kinds.")
@click.option(
    "-l", "--selector", metavar="SELECTOR", help="Delete the objects of KIND with these labels."
)
@click.option(
    "--ignore-not-found", is_flag=True, help="An object that does not exist is not an error."
)
@target_options()
def delete(
    kind: str | None,
    names: tuple[str, ...],
    paths: tuple[str, ...],
    project: str | None,
    selector: str | None,
    ignore_not_found: bool,
) -> None:
    """Delete objects by KIND and NAME, by label, or those a manifest file names.

    An object still referenced is not deleted: mcpd names what refers to it.
    With -f, objects go in reverse dependency order (projects before the
    servers they list). Every object is tried; the exit status is 2 if any
    could not be deleted.

    \b
    Examples:
      mcpctl delete server time
      mcpctl delete prompt intro -p demo
      mcpctl delete servers -l team=old
      mcpctl delete -f manifests/
    """
    from mcpctl.cli.resources import (
        list_objects,
        name_of,
        need_project,
        object_path,
        resolve_kind,
        short_ref,
    )
    from mcpctl.client.http import NotLoggedIn
    from mcpctl.errors import BackendUnavailable, McpctlError, NotFound
    from mcpctl.manifests import delete_order

    if paths and (kind or names):
        raise click.UsageError("give KIND NAME... or -f PATH, not both")
    if not paths and not kind:
        raise click.UsageError("give KIND NAME..., KIND -l SELECTOR, or -f PATH")
    if kind and not names and not selector:
        raise click.UsageError(f"name the {kind} to delete, or select them with -l")
    targets: list[tuple[Any, str, str | None]] = []
    if paths:
        loaded = load_local(paths)
        targets = [
            (type(m.resource), m.resource.name, m.resource.project)
            for m in delete_order(loaded.manifests)
        ]
    failed = False
    with api_errors(), connect() as client:
        if kind:
            model = resolve_kind(kind)
            scope = need_project(model, project)
            chosen = list(names) or [
                name_of(o) for o in list_objects(client, model, project=scope, selector=selector)
            ]
            targets = [(model, name, scope) for name in chosen]
            if not targets:
                click.echo(f"No {model.PLURAL} found.", err=True)
        for model, name, scope in targets:
            ref = short_ref(model, name, scope)
            try:
                client.request("DELETE", object_path(model, name, scope))
            except NotFound:
                if not ignore_not_found:
                    click.echo(f"error: {ref} not found", err=True)
                    failed = True
                continue
            except (BackendUnavailable, NotLoggedIn):
                raise  # no use trying the others
            except McpctlError as e:
                click.echo(f"error: {ref}: {e}", err=True)
                failed = True
                continue
            click.echo(f"{ref} deleted")
    if failed:
        sys.exit(EXIT_ERROR)
