"""`mcpctl apply -f`: manifests against mcpd, kubectl-style.

`apply` checks the files here first (every issue printed, exit 1, nothing
sent), then sends them as one `POST /api/v1/apply`: mcpd validates them with
the stored objects and applies all or nothing. Issues mcpd finds are pointed
back at the file and line the object came from (`sending` does the loading,
the request and the pointing, for `delete -f`, `diff -f` and `seal` too).
With `--watch` it goes on applying on every change to the files (see
`watching`).
"""

from __future__ import annotations

import os
from typing import Any

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import cli_errors
from mcpctl.cli.options import files_option
from mcpctl.cli.rendering.verbs import VERBS
from mcpctl.cli.sending import apply_body, load_local, locator


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

    from mcpctl.cli.resources import key_ref, short_ref

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
        ref = key_ref(kind, project, name)
        click.echo(f"{ref} {VERBS.get(change.get('action', ''), 'pruned')}{suffix}")
