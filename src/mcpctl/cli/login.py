"""`mcpctl login`: a session token from mcpd, kept in a context of the config file.

The context (named for the server's host:port unless given) becomes the
current one; `mcpctl logout` revokes the token again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from mcpctl.cli.connection import api_errors
from mcpctl.cli.flags import read_password_stdin

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
