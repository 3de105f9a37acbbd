"""`mcpctl login` and `mcpctl logout`: session tokens kept in a context of the config file."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import click

from mcpctl.cli.connection import api_errors, target_settings

LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def server_url(server: str) -> str:
    """`host:port` as a URL: http on loopback, https elsewhere; URLs as given."""
    server = server.strip().rstrip("/")
    if "://" in server:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.BadParameter(f"expected an http(s) URL or HOST:PORT, got {server!r}")
        return server
    host = urlsplit(f"//{server}").hostname or ""
    scheme = "http" if host in LOOPBACK else "https"
    return f"{scheme}://{server}"


def context_name_for(url: str) -> str:
    """The default context name of a server: its `host:port`."""
    return urlsplit(url).netloc


def read_password_stdin() -> str:
    """A password from standard input (one line; the line end is not part of it)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("--password-stdin: standard input holds no password")
    return password


@click.command()
@click.argument("server", metavar="SERVER")
@click.option("-u", "--username", required=True, help="The user to log in as.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (no prompt).")
@click.option(
    "--context-name",
    metavar="NAME",
    help="Name of the context to save (default: the server's host:port).",
)
def login(server: str, username: str, password_stdin: bool, context_name: str | None) -> None:
    """Log in to mcpd at SERVER and save a context with the session token.

    SERVER is a URL, or HOST:PORT (http on localhost, https elsewhere). The
    context becomes the current one; the config file is written with mode
    0600 since it holds the token.

    \b
    Examples:
      mcpctl login http://127.0.0.1:7420 --username admin
      mcpctl login mcpd.example.com -u alice --context-name prod
      printf '%s' "$PW" | mcpctl login https://mcpd.example.com -u ci --password-stdin
    """
    from mcpctl.client.contexts import Context, config_path, load_config, save_config
    from mcpctl.client.http import ApiClient, NotLoggedIn
    from mcpctl.errors import BackendUnavailable

    url = server_url(server)
    name = context_name or context_name_for(url)
    with api_errors():
        config = load_config()  # a broken file is reported before the password is asked
    password = (
        read_password_stdin()
        if password_stdin
        else click.prompt(f"Password for {username} at {url}", hide_input=True, err=True)
    )
    with api_errors():
        try:
            with ApiClient(server=url) as client:
                answer = client.request(
                    "POST", "/api/v1/auth/login", body={"username": username, "password": password}
                )
        except NotLoggedIn as e:
            raise NotLoggedIn(f"{url} refused to log in {username}: {e.detail}", e.detail) from e
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise BackendUnavailable(f"{url} answered the login without a token")
        config.put(Context(name=name, server=url, user=username, token=token))
        save_config(config)
    expires = answer.get("expiresAt")
    until = f", until {expires}" if isinstance(expires, str) else ""
    click.echo(
        f"logged in to {url} as {username}{until}; context {name!r} saved in {config_path()}"
    )


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
