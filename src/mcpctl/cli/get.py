"""`mcpctl get` and `mcpctl describe`: reading objects from mcpd, kubectl-style."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mcpctl.cli.completion import complete_kinds, complete_names, names_of
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_ERROR

if TYPE_CHECKING:
    from mcpctl.cli.resources import JsonObject, Kind
    from mcpctl.client.http import ApiClient

OUTPUTS = ("table", "wide", "yaml", "json", "name")

project_option = click.option(
    "-p",
    "--project",
    metavar="NAME",
    shell_complete=names_of("projects"),
    help="The project of project-scoped kinds (prompts, promptrequests); mcptokens: filter.",
)


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


@click.command()
@click.argument("kind", shell_complete=complete_kinds)
@click.argument("names", nargs=-1, metavar="[NAME...]", shell_complete=complete_names)
@project_option
@click.option(
    "-l", "--selector", metavar="SELECTOR", help="Describe the objects with these labels."
)
@click.option(
    "--show-values",
    is_flag=True,
    help="Secrets: show the values (needs `run reveal-secrets`).",
)
@target_options()
def describe(
    kind: str,
    names: tuple[str, ...],
    project: str | None,
    selector: str | None,
    show_values: bool,
) -> None:
    """Show one object in full: spec, status, what it uses and what uses it, recent events.

    Without NAME, every object of the KIND (or those matching -l).

    \b
    Examples:
      mcpctl describe server github
      mcpctl describe project demo
      mcpctl describe secret github-token --show-values
      mcpctl describe prompt intro -p demo
    """
    from mcpctl.cli.rendering.description import render_describe
    from mcpctl.cli.resources import (
        get_object,
        list_objects,
        need_project,
        object_path,
        resolve_kind,
    )
    from mcpctl.errors import McpctlError

    with api_errors():
        model = resolve_kind(kind)
        scope = need_project(model, project)
        secrets = show_values and model.KIND == "Secret"
        with connect() as client:
            if names:
                objects = [
                    get_object(client, model, name, project=scope, show_secrets=secrets)
                    for name in names
                ]
            else:
                objects = list_objects(client, model, project=scope, selector=selector)
                if secrets:
                    objects = [
                        get_object(
                            client, model, o["metadata"]["name"], project=scope, show_secrets=True
                        )
                        for o in objects
                    ]
            if not objects:
                click.echo(f"No {model.PLURAL} found.", err=True)
            texts = []
            for obj in objects:
                name = obj["metadata"]["name"]
                try:
                    references = client.request(
                        "GET", object_path(model, name, scope) + "/references"
                    )
                except McpctlError as e:
                    references = f"cannot tell: {e}"
                try:
                    params = {"kind": model.KIND, "name": name}
                    if scope:
                        params["project"] = scope
                    answer = client.request("GET", "/api/v1/events", params=params)
                    events = answer.get("items") if isinstance(answer, dict) else answer
                except McpctlError as e:
                    events = f"cannot list: {e}"
                texts.append(
                    render_describe(obj, references=references, events=events, show_values=secrets)
                )
        click.echo("\n".join(texts), nl=False)
