"""`mcpctl edit KIND NAME`: the object's canonical YAML in $EDITOR, applied on save.

Like `kubectl edit`: what mcpd refuses (an invalid manifest, a conflicting
change) reopens the editor with the error on top of the text as it was
saved; saving it unchanged, or emptying it, gives up. A failure that another
round in the editor cannot fix (no permission, mcpd down) keeps the edited
text in a file and names it, so that no work is lost.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import click

from mcpctl.cli.completion import complete_kinds, complete_names
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import CliError

if TYPE_CHECKING:
    from mcpctl.cli.resources import Kind
    from mcpctl.client.http import ApiClient
    from mcpctl.errors import ManifestIssue
    from mcpctl.manifests import Manifest

HEADER = """\
# Edit the object below; it is applied when you save and close the editor.
# Lines starting with '#' are ignored; an empty file cancels the edit.
# metadata.resourceVersion guards against overwriting someone else's change.
"""


class EditRefused(Exception):
    """The edited text cannot be applied as it is: reopen the editor with this message."""


def strip_comments(text: str) -> str:
    """The text without full-line comments (the header and earlier errors)."""
    return "".join(line for line in text.splitlines(True) if not line.lstrip().startswith("#"))


def with_errors(text: str, errors: list[str]) -> str:
    lines = "".join(f"# {line}\n" for e in errors for line in e.splitlines())
    return HEADER + "#\n# your change was not applied:\n" + lines + "#\n" + strip_comments(text)


def parse_edit(
    text: str, model: Kind, name: str, project: str | None
) -> tuple[dict[str, Any], Manifest]:
    """The edited object as the API's JSON (and as read), or EditRefused naming every problem."""
    from mcpctl.manifests import load_text, to_plain

    result = load_text(text, "edit")
    if result.issues:
        raise EditRefused("\n".join(_issue_line(i) for i in result.issues))
    if len(result.manifests) != 1:
        raise EditRefused(f"error: expected one object, found {len(result.manifests)}")
    manifest = result.manifests[0]
    resource = manifest.resource
    if (resource.KIND, resource.name, resource.project) != (model.KIND, name, project):
        raise EditRefused(
            f"error: the kind, name and project cannot be edited (expected {model.KIND}/{name})"
        )
    return to_plain(resource, secrets="plain", server_fields=True), manifest


def _issue_line(issue: ManifestIssue) -> str:
    where = f"line {issue.line}: " if issue.line is not None else ""
    field = f" (field {issue.field})" if issue.field else ""
    return f"error: {where}{issue.message}{field}"


def keep_copy(text: str) -> str:
    """Save the edited text in a temp file; its path."""
    fd, path = tempfile.mkstemp(prefix="mcpctl-edit-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@click.command()
@click.argument("kind", shell_complete=complete_kinds)
@click.argument("name", shell_complete=complete_names)
@click.option("-p", "--project", metavar="NAME", help="The project of project-scoped kinds.")
@target_options()
def edit(kind: str, name: str, project: str | None) -> None:
    """Edit an object's manifest in $EDITOR (or $VISUAL) and apply it on save.

    Secret values are shown masked (null); a null value keeps the stored one.

    \b
    Examples:
      mcpctl edit server github
      EDITOR="code --wait" mcpctl edit project demo
      mcpctl edit prompt intro -p demo
    """
    from mcpctl.cli.rendering.objects import render_yaml
    from mcpctl.cli.resources import get_object, need_project, resolve_kind, short_ref

    with api_errors():
        model = resolve_kind(kind)
        scope = need_project(model, project)
        with connect() as client:
            current = get_object(client, model, name, project=scope)
            original = strip_comments(render_yaml([current], single=True))
            text = HEADER + original
            previous = original
            while True:
                edited = click.edit(text, extension=".yaml", require_save=True)
                body = strip_comments(edited) if edited is not None else None
                if body is None or not body.strip() or body == original:
                    click.echo("Edit cancelled, no changes made.", err=True)
                    return
                if body == previous and previous != original:
                    path = keep_copy(edited or "")
                    raise CliError(
                        f"edit cancelled: saved unchanged after an error; your text is in {path}"
                    )
                previous = body
                try:
                    _put(client, model, name, scope, edited or "")
                except EditRefused as e:
                    text = with_errors(body, [str(e)])
                    continue
                click.echo(f"{short_ref(model, name, scope)} edited")
                return


def _put(client: ApiClient, model: Kind, name: str, scope: str | None, text: str) -> None:
    """Send the edited text; what another round in the editor can fix becomes EditRefused."""
    from mcpctl.cli.flags import parse_field
    from mcpctl.cli.resources import object_path
    from mcpctl.errors import Conflict, InvalidInput, InvalidManifest, McpctlError

    data, manifest = parse_edit(text, model, name, scope)
    try:
        client.request("PUT", object_path(model, name, scope), body=data)
    except InvalidManifest as e:
        located = [manifest.issue(i.message, i.code, parse_field(i.field)) for i in e.issues]
        raise EditRefused("\n".join(_issue_line(i) for i in located)) from e
    except Conflict as e:
        raise EditRefused(
            f"error: {e}\nchanged since you opened it? cancel and edit again, or remove"
            " metadata.resourceVersion to overwrite that change"
        ) from e
    except InvalidInput as e:
        raise EditRefused(f"error: {e}") from e
    except McpctlError as e:
        path = keep_copy(text)
        raise type(e)(f"{e} (your edit is saved in {path})") from e
