"""`mcpctl validate`: every offline check over files, directories or stdin."""

from __future__ import annotations

import gc
import sys

import click

from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK, cli_errors, fast_exit
from mcpctl.cli.rendering.issues import FORMATS
from mcpctl.errors import ManifestIssue


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format: text for people, json for tools, junit for CI reports, "
    "github for workflow annotations.",
)
@click.option(
    "--schema-only",
    is_flag=True,
    help="Check each object alone; skip references across the set (for partial sets).",
)
@click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=None,
    metavar="BYTES",
    help="Refuse larger files (default 4 MiB).",
)
@click.option(
    "--color/--no-color", default=None, help="Colour the text report (default: on a terminal)."
)
def validate(
    paths: tuple[str, ...],
    fmt: str,
    schema_only: bool,
    max_file_size: int | None,
    color: bool | None,
) -> None:
    """Validate manifests: schema, names, references, cycles, duplicates.

    PATH is a file, a directory (read recursively: *.yaml, *.yml, *.json;
    hidden entries skipped) or - for standard input. Every issue is reported
    with file, line, column, object and field. Exit status: 0 valid, 1
    invalid, 2 usage or I/O error.

    \b
    Examples:
      mcpctl validate examples/
      mcpctl validate -o github manifests/          # in a GitHub workflow
      mcpctl validate -o junit manifests/ > report.xml
      cat server.yaml | mcpctl validate -
    """
    # Building one large set: cyclic collections only cost time (restored for in-process
    # callers such as tests; the real process ends in fast_exit).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _validate(paths, fmt, schema_only, max_file_size, color)
    finally:
        if gc_was_enabled:
            gc.enable()


def _validate(
    paths: tuple[str, ...],
    fmt: str,
    schema_only: bool,
    max_file_size: int | None,
    color: bool | None,
) -> None:
    # Imported here, not at module top: `mcpctl --help` must not pay for pydantic.
    from mcpctl.cli.rendering.issues import render
    from mcpctl.manifests import MAX_FILE_SIZE, check_set, load_paths

    with cli_errors():
        result = load_paths(list(paths), max_file_size=max_file_size or MAX_FILE_SIZE)
        issues = list(result.issues)
        if not schema_only:
            issues.extend(check_set(result.manifests))
    use_color = sys.stdout.isatty() if color is None else color
    text = render(
        fmt,
        issues,
        objects=len(result.manifests) + _invalid_objects(issues),
        files=len(result.files),
        color=use_color and fmt == "text",
    )
    # color= keeps forced styles on a pipe: click strips them from non-terminals.
    click.echo(text, nl=False, color=use_color)
    fast_exit(EXIT_FOUND if issues else EXIT_OK)


_SET_CODES = frozenset({"reference", "duplicate", "cycle", "default-backend", "template-parameter"})


def _invalid_objects(issues: list[ManifestIssue]) -> int:
    """Objects that failed their own checks (and so are not among the loaded ones)."""
    return len(
        {
            (i.file, i.document, i.kind, i.name)
            for i in issues
            if i.kind and i.code not in _SET_CODES
        }
    )
