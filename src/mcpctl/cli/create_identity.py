"""`mcpctl create user|group|serviceaccount|rbac|mcptoken|token`: who may do what, from flags.

`token` is no object: a new token of a ServiceAccount, minted by mcpd.
"""

from __future__ import annotations

from typing import Any

import click

from mcpctl.cli.completion import names_of
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.creating import (
    binding_flags,
    create_options,
    parse_bindings,
    send_object,
    set_given,
)
from mcpctl.cli.flags import parse_expiry, parse_subject, read_password_stdin


@click.command("user")
@click.argument("name")
@click.option("--email", required=True, help="The user's e-mail address.")
@click.option("--display-name", help="The name shown to people.")
@click.option("--password-stdin", is_flag=True, help="Set the password, read from stdin.")
@create_options
def create_user(
    name: str,
    email: str,
    display_name: str | None,
    password_stdin: bool,
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create a User (and, with --password-stdin, set the password).

    \b
    Examples:
      mcpctl create user alice --email alice@example.com
      printf '%s' "$PW" | mcpctl create user bob --email bob@example.com --password-stdin
    """
    password = read_password_stdin() if password_stdin else None
    spec: dict[str, Any] = {"email": email}
    set_given(spec, displayName=display_name)
    answer = send_object("User", name, spec, labels=labels, flags={}, fmt=fmt, dry_run=dry_run)
    if password is not None and not dry_run and answer is not None:
        from mcpctl.cli.resources import object_path
        from mcpctl.schemas import User

        with api_errors(), connect() as client:
            client.request(
                "PUT", object_path(User, name) + "/password", body={"password": password}
            )
        click.echo(f"user/{name} password set", err=fmt is not None)


@click.command("group")
@click.argument("name")
@click.option(
    "--member",
    "members",
    multiple=True,
    shell_complete=names_of("users"),
    help="A user in the group (repeatable).",
)
@click.option("--description", help="What the group is for.")
@create_options
def create_group(
    name: str,
    members: tuple[str, ...],
    description: str | None,
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create a Group of users.

    \b
    Example:
      mcpctl create group ops --member alice --member bob
    """
    spec: dict[str, Any] = {}
    if members:
        spec["members"] = list(members)
    set_given(spec, description=description)
    send_object(
        "Group",
        name,
        spec,
        labels=labels,
        flags={"spec.members": "--member"},
        fmt=fmt,
        dry_run=dry_run,
    )


@click.command("serviceaccount")
@click.argument("name")
@click.option("--description", help="What the account is for.")
@create_options
def create_serviceaccount(
    name: str, description: str | None, labels: tuple[str, ...], dry_run: bool, fmt: str | None
) -> None:
    """Create a ServiceAccount: a machine identity.

    \b
    Example:
      mcpctl create serviceaccount ci --description "GitHub Actions"
    """
    spec: dict[str, Any] = {}
    set_given(spec, description=description)
    send_object("ServiceAccount", name, spec, labels=labels, flags={}, fmt=fmt, dry_run=dry_run)


@click.command("rbac")
@click.argument("name")
@click.option(
    "--subject",
    "subjects",
    multiple=True,
    metavar="KIND:NAME",
    help="user:alice, group:ops, serviceaccount:ci or mcptoken:x (repeatable).",
)
@click.option(
    "--binding",
    "bindings",
    multiple=True,
    metavar="ROLE:RESOURCE[/NAME]",
    help="view|create|edit|delete on a kind (plural or *), optionally one object (repeatable).",
)
@click.option(
    "--operation",
    "operations",
    multiple=True,
    metavar="OPERATION",
    help="A run binding: backup, restore, logs, ... or * (repeatable).",
)
@create_options
def create_rbac(
    name: str,
    subjects: tuple[str, ...],
    bindings: tuple[str, ...],
    operations: tuple[str, ...],
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create an Rbac: every subject gets every binding.

    \b
    Examples:
      mcpctl create rbac viewers --subject group:everyone --binding view:*
      mcpctl create rbac ops --subject user:alice --binding edit:servers --operation logs
      mcpctl create rbac gh --subject serviceaccount:ci --binding edit:servers/github
    """
    spec = {
        "subjects": [parse_subject(s) for s in subjects],
        "bindings": parse_bindings(bindings, operations),
    }
    flags = binding_flags(bindings, operations)
    send_object("Rbac", name, spec, labels=labels, flags=flags, fmt=fmt, dry_run=dry_run)


@click.command("mcptoken")
@click.argument("name")
@click.option(
    "--project",
    shell_complete=names_of("projects"),
    help="Limit the token to one project's endpoint.",
)
@click.option(
    "--expires", metavar="DURATION|TIME", help="30d, 12h, 2w from now, or an RFC 3339 time."
)
@click.option(
    "--rbac-mode",
    metavar="MODE",
    help="bindings (what Rbacs grant; default) or clone (your permissions, frozen).",
)
@click.option("--description", help="What the token is for.")
@click.option(
    "--binding",
    "bindings",
    multiple=True,
    metavar="ROLE:RESOURCE[/NAME]",
    help="Grant the token a binding (repeatable; never more than you hold).",
)
@click.option(
    "--operation",
    "operations",
    multiple=True,
    metavar="OPERATION",
    help="Grant the token a run binding (repeatable).",
)
@create_options
def create_mcptoken(
    name: str,
    project: str | None,
    expires: str | None,
    rbac_mode: str | None,
    description: str | None,
    bindings: tuple[str, ...],
    operations: tuple[str, ...],
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create an McpToken and print the token: it is shown this once.

    The token goes to stdout alone (the confirmation to stderr), so that
    TOKEN=$(mcpctl create mcptoken ...) keeps it.

    \b
    Examples:
      mcpctl create mcptoken laptop --project demo --expires 30d
      mcpctl create mcptoken ci --binding view:servers --operation sync --expires 2w
    """
    spec: dict[str, Any] = {}
    set_given(spec, project=project, rbacMode=rbac_mode, description=description)
    if expires is not None:
        spec["expiresAt"] = parse_expiry(expires)
    grants = parse_bindings(bindings, operations)
    grant_flags = binding_flags(bindings, operations)
    flags = {"spec.expiresAt": "--expires", "spec.rbacMode": "--rbac-mode"}
    if grants:
        # checked locally as an Rbac would be, so that a bad binding names its flag
        from mcpctl.cli.connection import ValidationFailed
        from mcpctl.cli.flags import explain
        from mcpctl.kindnames import API_VERSION
        from mcpctl.manifests import validate_object

        probe = {
            "apiVersion": API_VERSION,
            "kind": "Rbac",
            "metadata": {"name": name},
            "spec": {"subjects": [{"kind": "McpToken", "name": name}], "bindings": grants},
        }
        issues = validate_object(probe)
        if isinstance(issues, list):
            for issue in issues:
                click.echo(f"error: {explain(issue, grant_flags, data=probe)}", err=True)
            raise ValidationFailed(f"cannot create McpToken {name!r}: nothing was sent")
    answer = send_object(
        "McpToken",
        name,
        spec,
        labels=labels,
        flags=flags,
        fmt=fmt,
        dry_run=dry_run,
        extra_body={"bindings": grants} if grants else None,
        confirm_on_stderr=True,
    )
    if answer is not None and fmt is None:
        token = answer.get("token")
        if isinstance(token, str):
            click.echo("the token is shown only now: store it safely", err=True)
            click.echo(token)


@click.command("token")
@click.argument(
    "serviceaccount", metavar="SERVICEACCOUNT", shell_complete=names_of("serviceaccounts")
)
@click.option(
    "--expires",
    metavar="DURATION|TIME",
    help="30d, 12h, 2w from now, or an RFC 3339 time (default: no end).",
)
@target_options()
def create_token(serviceaccount: str, expires: str | None) -> None:
    """Create a token of a ServiceAccount and print it: it is shown this once.

    SERVICEACCOUNT is serviceaccount/NAME (or NAME). The token goes to stdout
    alone (TOKEN=$(mcpctl create token ...) keeps it). You must hold all the
    ServiceAccount holds. `mcpctl describe serviceaccount NAME` lists its
    tokens, `mcpctl revoke token` revokes them.

    \b
    Examples:
      mcpctl create token serviceaccount/ci --expires 30d
      TOKEN=$(mcpctl create token ci --expires 12h)
    """
    from mcpctl.cli.resources import serviceaccount_named, tokens_path
    from mcpctl.errors import BackendUnavailable

    with api_errors():
        name = serviceaccount_named(serviceaccount)
        body = {"expiresAt": parse_expiry(expires)} if expires is not None else {}
        with connect() as client:
            answer = client.request("POST", tokens_path(name), body=body)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise BackendUnavailable(f"mcpd answered the token of serviceaccount/{name} without it")
    until = f", until {body['expiresAt']}" if body else ""
    click.echo(f"serviceaccount/{name}: token created{until}", err=True)
    click.echo("the token is shown only now: store it safely", err=True)
    click.echo(token)
