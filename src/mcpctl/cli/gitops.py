"""`mcpctl gitops status|verify`: the state repo as mcpd sees it."""

from __future__ import annotations

import sys

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK


@click.group()
def gitops() -> None:
    """The state repo: every write is a commit there.

    \b
    Examples:
      mcpctl gitops status
      mcpctl gitops verify
    """


@gitops.command("status")
@target_options()
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text")
def status(fmt: str) -> None:
    """Show the head of main and whether every write has been committed.

    \b
    Example:
      mcpctl gitops status -o json
    """
    import json

    with api_errors(), connect() as client:
        answer = client.request("GET", "/api/v1/gitops/status")
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2))
        return
    click.echo(f"head:             {answer.get('head') or '(none)'}")
    click.echo(f"exported change:  {answer.get('exportedChange')}")
    click.echo(f"last change:      {answer.get('lastChange')}")
    click.echo(f"pending:          {'yes' if answer.get('pending') else 'no'}")


@gitops.command("verify")
@target_options()
def verify() -> None:
    """Check the invariant: the tree at main is exactly the export of the database.

    Prints each differing path; exit status 0 in sync, 1 when anything differs.

    \b
    Example:
      mcpctl gitops verify
    """
    with api_errors(), connect() as client:
        answer = client.request("GET", "/api/v1/gitops/verify")
    different = answer.get("differences") or []
    for path in different:
        click.echo(f"differs: {path}")
    if different:
        click.echo(f"{len(different)} path(s) differ from the export of the database", err=True)
        sys.exit(EXIT_FOUND)
    click.echo("in sync: main is the export of the database")
    sys.exit(EXIT_OK)
