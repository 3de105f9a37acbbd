"""`mcpctl delete`: objects by KIND and NAME, by label, or those manifest files name.

Every object is tried (in reverse dependency order with -f); one that is
still referenced stays, and mcpd names what refers to it.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from mcpctl.cli.completion import complete_kinds, complete_names
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_ERROR
from mcpctl.cli.options import files_option
from mcpctl.cli.sending import load_local


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
