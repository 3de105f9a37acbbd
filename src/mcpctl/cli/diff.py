"""`mcpctl diff`: the semantic change between two sets of manifests, offline."""

from __future__ import annotations

import os
import sys

import click

from mcpctl.cli.diffview import FORMATS
from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK, CliError, cli_errors


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
def diff(paths: tuple[str, ...], base: str | None, fmt: str, color: bool | None) -> None:
    """Show what changes between two sets of manifests, object by object.

    With --base REV, inside a git checkout: what merging this branch changes,
    i.e. the manifests under PATH at REV against the working tree. Without
    it: exactly two paths, OLD and NEW. Formatting, key order and spelled-out
    defaults are not changes; secret values are never shown. Each side must
    load cleanly; run `mcpctl validate` for the checks across the whole set.

    Exit status, like `kubectl diff`: 0 no change, 1 changes, 2 error
    (invalid manifests included, with every issue reported).

    \b
    Examples:
      mcpctl diff --base origin/main manifests/
      mcpctl diff --base HEAD~1
      mcpctl diff -o json old/ new/
    """
    from mcpctl.cli.diffview import render_json, render_text, render_unified
    from mcpctl.cli.report import render_text as render_issues
    from mcpctl.errors import NotFound
    from mcpctl.manifests import LoadResult, diff_sets, load_paths
    from mcpctl.manifests.references import check_duplicates

    if base is None and len(paths) != 2:
        raise click.UsageError("give two paths (OLD NEW), or --base REV [PATH...]")
    use_color = sys.stdout.isatty() if color is None else color
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
