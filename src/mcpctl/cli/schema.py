"""`mcpctl schema export`: write (or check) the JSON Schema files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mcpctl.cli.errors import EXIT_FOUND, cli_errors


@click.group()
def schema() -> None:
    """JSON Schema of the manifest kinds, for editors and CI.

    \b
    Example:
      mcpctl schema export schemas/
    """


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the files are stale.")
def export(directory: Path, check: bool) -> None:
    """Write one schema per kind and `manifest.json` (any manifest) into DIRECTORY.

    \b
    Use them in an editor with yaml-language-server:
      # yaml-language-server: $schema=../schemas/manifest.json
    or in CI:
      check-jsonschema --schemafile schemas/manifest.json manifests/*.yaml

    \b
    Examples:
      mcpctl schema export schemas/
      mcpctl schema export --check schemas/    # fails when a model changed
    """
    from mcpctl.schemas.jsonschema import export_schemas, stale_schemas

    with cli_errors():
        if check:
            stale = stale_schemas(directory)
            for name in stale:
                click.echo(f"stale: {directory / name}")
            if stale:
                click.echo(f"run: mcpctl schema export {directory}", err=True)
                sys.exit(EXIT_FOUND)
            click.echo(f"{directory}: up to date")
            return
        written = export_schemas(directory)
    click.echo(f"wrote {len(written)} schema files to {directory}")
