"""`mcpctl describe`: one object in full, with what it uses, what uses it, and its events.

Fetches the object, its `/references` and its recent Events from mcpd (and
a ServiceAccount's tokens: prefix, creator, age, end, state);
`rendering.description` turns them into kubectl-describe-like text. A part
mcpd will not give (no permission on events, say) is shown with the reason.
"""

from __future__ import annotations

import click

from mcpctl.cli.completion import complete_kinds, complete_names
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.options import project_option


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

    Without NAME, every object of the KIND (or those matching -l). A
    ServiceAccount's description lists its tokens too.

    \b
    Examples:
      mcpctl describe server github
      mcpctl describe project demo
      mcpctl describe secret github-token --show-values
      mcpctl describe prompt intro -p demo
      mcpctl describe serviceaccount ci
    """
    from mcpctl.cli.rendering.description import render_describe
    from mcpctl.cli.resources import (
        get_object,
        list_objects,
        need_project,
        object_path,
        resolve_kind,
        tokens_path,
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
                tokens = None
                if model.KIND == "ServiceAccount":
                    try:
                        answer = client.request("GET", tokens_path(name))
                        tokens = answer.get("items") if isinstance(answer, dict) else answer
                    except McpctlError as e:
                        tokens = f"cannot list: {e}"
                texts.append(
                    render_describe(
                        obj,
                        references=references,
                        events=events,
                        tokens=tokens,
                        show_values=secrets,
                    )
                )
        click.echo("\n".join(texts), nl=False)
