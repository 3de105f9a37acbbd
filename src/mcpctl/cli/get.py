"""`mcpctl get`: listing objects of a kind from mcpd, or showing the named ones, kubectl-style.

Fetches here, prints through `rendering.objects` (tables per kind, canonical
YAML, the API's JSON, names). `describe` shows one object in full.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mcpctl.cli.completion import complete_kinds, complete_names
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_ERROR
from mcpctl.cli.options import project_option

if TYPE_CHECKING:
    from mcpctl.cli.resources import JsonObject, Kind
    from mcpctl.client.http import ApiClient

OUTPUTS = ("table", "wide", "yaml", "json", "name")


@click.command()
@click.argument("kind", shell_complete=complete_kinds)
@click.argument("names", nargs=-1, metavar="[NAME...]", shell_complete=complete_names)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(OUTPUTS),
    default="table",
    show_default=True,
    help="table, wide (more columns), yaml (canonical, with status), json (the API's), name.",
)
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector: k=v,k2!=v2,k3.")
@project_option
@click.option(
    "-A", "--all-projects", is_flag=True, help="Project-scoped kinds: list them in every project."
)
@click.option(
    "--show-values",
    is_flag=True,
    help="Secrets with -o yaml|json: include the values (needs `run reveal-secrets`).",
)
@target_options()
def get(
    kind: str,
    names: tuple[str, ...],
    fmt: str,
    selector: str | None,
    project: str | None,
    all_projects: bool,
    show_values: bool,
) -> None:
    """List objects of a KIND, or show the named ones.

    KIND is a kind in any spelling: server, servers or Server. Tables show
    what matters for each kind; -o yaml gives the canonical manifest (with
    the server's metadata and status), ready to edit and apply.

    \b
    Examples:
      mcpctl get servers
      mcpctl get server github -o yaml
      mcpctl get llms -o wide -l team=infra
      mcpctl get prompts -p demo
      mcpctl get secret github-token -o yaml --show-values
    """
    from mcpctl.cli.rendering.objects import render
    from mcpctl.cli.resources import (
        get_object,
        list_objects,
        need_project,
        resolve_kind,
    )
    from mcpctl.errors import InvalidInput, McpctlError

    failed = False
    with api_errors():
        model = resolve_kind(kind)
        if show_values and fmt not in ("yaml", "json"):
            raise InvalidInput("--show-values needs -o yaml or -o json")
        if names and selector:
            raise InvalidInput("give NAMEs or a --selector, not both")
        if names and all_projects:
            raise InvalidInput("give NAMEs with --project, not --all-projects")
        secrets = show_values and model.KIND == "Secret"
        with connect() as client:
            objects: list[JsonObject] = []
            if names:
                scope = need_project(model, project)
                for name in names:
                    try:
                        objects.append(
                            get_object(client, model, name, project=scope, show_secrets=secrets)
                        )
                    except McpctlError as e:
                        click.echo(f"error: {e}", err=True)
                        failed = True
            else:
                for scope in _scopes(client, model, project, all_projects):
                    found = list_objects(client, model, project=scope, selector=selector)
                    if secrets:
                        found = [
                            get_object(
                                client,
                                model,
                                o["metadata"]["name"],
                                project=scope,
                                show_secrets=True,
                            )
                            for o in found
                        ]
                    objects.extend(found)
        if not objects and not names and fmt in ("table", "wide", "name"):
            where = f" in project {project}" if model.PROJECT_SCOPED and project else ""
            click.echo(f"No {model.PLURAL} found{where}.", err=True)
        elif objects or fmt in ("json", "yaml"):
            click.echo(
                render(fmt, model.KIND, objects, single=len(names) == 1, show_secrets=secrets),
                nl=False,
            )
    if failed:
        sys.exit(EXIT_ERROR)


def _scopes(
    client: ApiClient, model: Kind, project: str | None, all_projects: bool
) -> list[str | None]:
    """The projects to list a kind in: none for cluster-wide kinds."""
    from mcpctl.cli.resources import list_objects, name_of, need_project, resolve_kind

    if not model.PROJECT_SCOPED:
        return [project if model.KIND == "McpToken" else None]
    if all_projects:
        return [name_of(p) for p in list_objects(client, resolve_kind("projects"))]
    return [need_project(model, project)]
