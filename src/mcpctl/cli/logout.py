"""`mcpctl logout`: revoke the session token of a context and forget it.

The context stays, with its server and user, for the next `mcpctl login`.
"""

from __future__ import annotations

import click

from mcpctl.cli.connection import api_errors, target_settings


@click.command()
@click.option("--context", "context_name", metavar="NAME", help="The context to log out of.")
def logout(context_name: str | None) -> None:
    """Log out: revoke the session token and remove it from the context.

    The context stays (with its server and user) for the next `mcpctl login`.
    A token mcpd no longer accepts is removed all the same.

    \b
    Examples:
      mcpctl logout
      mcpctl logout --context prod
    """
    from dataclasses import replace

    from mcpctl.client.contexts import load_config, save_config
    from mcpctl.client.http import ApiClient, NotLoggedIn

    name = context_name or target_settings().get("context")
    with api_errors():
        config = load_config()
        context = config.get(name)
        if not context.token:
            click.echo(f"not logged in: context {context.name!r} holds no token")
            return
        try:
            with ApiClient(server=context.server, token=context.token, context=context.name) as c:
                c.request("POST", "/api/v1/auth/logout")
        except NotLoggedIn:
            pass  # expired or revoked already: forgetting it is all that is left
        config.contexts = [
            replace(c, token=None) if c.name == context.name else c for c in config.contexts
        ]
        save_config(config)
    click.echo(f"logged out of {context.server} (context {context.name!r})")
