"""`mcpctl revoke token|mcptoken`: credentials that must stop working now.

- `revoke token SERVICEACCOUNT [PREFIX]`: a ServiceAccount's tokens
  (`DELETE /api/v1/serviceaccounts/NAME/tokens`), the ones starting PREFIX
  (as `mcpctl describe serviceaccount NAME` lists them), or every one not yet
  revoked, after a confirmation (`--yes` skips it);
- `revoke mcptoken NAME`: an McpToken (`POST /api/v1/mcptokens/NAME/revoke`);
  the object stays, marked revoked, in the database and the state repo.

A revoked token never authenticates again, and what was minted through it
dies with it. `mcpctl create token` and `mcpctl create mcptoken` make them.
"""

from __future__ import annotations

import click

from mcpctl.cli.completion import names_of
from mcpctl.cli.connection import api_errors, connect, target_options


@click.group()
def revoke() -> None:
    """Revoke credentials: ServiceAccount tokens, McpTokens.

    \b
    Examples:
      mcpctl revoke token serviceaccount/ci mcpctl_sat_Ab3x
      mcpctl revoke token serviceaccount/ci --yes
      mcpctl revoke mcptoken laptop
    """


def _tokens(count: int) -> str:
    return f"{count} token" + ("" if count == 1 else "s")


@revoke.command("token")
@click.argument("serviceaccount", metavar="SERVICEACCOUNT")
@click.argument("prefix", required=False)
@click.option("-y", "--yes", is_flag=True, help="Revoke every token without asking.")
@target_options()
def revoke_token(serviceaccount: str, prefix: str | None, yes: bool) -> None:
    """Revoke a ServiceAccount's tokens: those starting PREFIX, or all of them.

    SERVICEACCOUNT is serviceaccount/NAME (or NAME). PREFIX is a token's
    start as `mcpctl describe serviceaccount NAME` lists it. Without PREFIX,
    every token not yet revoked goes, after a confirmation (--yes to skip
    it). Tokens minted through a revoked one stop working too. Needs edit on
    the ServiceAccount.

    \b
    Examples:
      mcpctl revoke token serviceaccount/ci mcpctl_sat_Ab3x
      mcpctl revoke token serviceaccount/ci
      mcpctl revoke token ci --yes
    """
    from mcpctl.cli.resources import serviceaccount_named, tokens_path
    from mcpctl.errors import BackendUnavailable, InvalidInput

    with api_errors():
        name = serviceaccount_named(serviceaccount)
        ref = f"serviceaccount/{name}"
        with connect() as client:
            path = tokens_path(name)
            if prefix is None and not yes:
                listed = client.request("GET", path)
                items = listed.get("items") if isinstance(listed, dict) else None
                if not isinstance(items, list):
                    raise BackendUnavailable(f"mcpd answered the tokens of {ref} without items")
                live = [t for t in items if isinstance(t, dict) and t.get("revokedAt") is None]
                if not live:
                    click.echo(f"{ref} has no token to revoke")
                    return
                asked = f"Revoke every token of {ref} ({_tokens(len(live))} not revoked yet)?"
                if not click.confirm(asked, err=True):
                    raise InvalidInput("nothing was revoked (answer y, or give --yes)")
            answer = client.request("DELETE", path, params={"prefix": prefix} if prefix else None)
        count = answer.get("revoked") if isinstance(answer, dict) else None
        if not isinstance(count, int):
            raise BackendUnavailable(f"mcpd answered the revocation of {ref} without a count")
    which = f" starting {prefix}" if prefix else ""
    click.echo(f"revoked {_tokens(count)} of {ref}{which}")


@revoke.command("mcptoken")
@click.argument("name", shell_complete=names_of("mcptokens"))
@target_options()
def revoke_mcptoken(name: str) -> None:
    """Revoke an McpToken: its token never works again.

    The object stays (spec.revoked: true), so that no restore or apply of an
    older manifest brings the token back. Needs edit on the McpToken.

    \b
    Example:
      mcpctl revoke mcptoken laptop
    """
    from urllib.parse import quote

    with api_errors(), connect() as client:
        client.request("POST", f"/api/v1/mcptokens/{quote(name, safe='')}/revoke")
    click.echo(f"mcptoken/{name} revoked")
