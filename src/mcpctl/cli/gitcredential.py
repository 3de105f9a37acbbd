"""`mcpctl gitops clone` and the git credential helper behind it.

A clone of the state repo authenticates with the token of a CLI context, the
way `gh auth setup-git` does it: the clone's own git config names
`mcpctl gitops credential --context NAME` as its credential helper, so the
token stays in the 0600 config file of mcpctl and never in the clone's remote
URL, its `.git/config` or a shell history. The helper answers only for the
scheme, host and port of the context's server: another host asking gets
nothing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from urllib.parse import urlsplit

import click

from mcpctl.cli.connection import target_options, target_settings
from mcpctl.cli.errors import CliError, cli_errors

REPO_PATH = "/git/state.git"
#: The user name git is given (mcpd reads the token from the password).
USERNAME = "mcpctl"


def _context() -> tuple[str, str, str]:
    """(context name, server URL, token) of the chosen context; --server/--token refused."""
    from mcpctl.client.contexts import load_config

    settings = target_settings()
    if "server" in settings or "token" in settings:
        raise CliError(
            "a clone keeps a context, not a --server or --token: "
            "run `mcpctl login SERVER` first, then `mcpctl gitops clone --context NAME`"
        )
    context = load_config().get(settings.get("context"))
    if not context.token:
        raise CliError(f"context {context.name!r} has no token: run `mcpctl login` again")
    return context.name, context.server.rstrip("/"), context.token


def _origin(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) as git's credential protocol names them."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rsplit("@", 1)[-1].lower()


def _helper_command(context: str) -> str:
    """The `credential.helper` value: this mcpctl, by absolute path, for `context`."""
    program = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "mcpctl"
    if not os.path.exists(program):  # run as `python -m`, say
        program = "mcpctl"
    return f"!{shlex.quote(program)} gitops credential --context {shlex.quote(context)}"


@click.command("clone")
@target_options()
@click.argument("directory", required=False, default="state")
def clone(directory: str) -> None:
    """Clone the state repo, authenticated by the current (or --context) context.

    The token is not written into the clone: its git config calls
    `mcpctl gitops credential` instead, which hands git the context's token
    for mcpd's host only. `git pull` and `git push` then just work.

    \b
    Examples:
      mcpctl gitops clone                  # into ./state
      mcpctl gitops clone --context prod prod-state
    """
    with cli_errors():
        name, server, _ = _context()
        done = subprocess.run(
            [
                "git",
                "clone",
                "-c",
                "credential.helper=",  # this clone asks mcpctl only
                "-c",
                f"credential.helper={_helper_command(name)}",
                "--",
                server + REPO_PATH,
                directory,
            ],
            check=False,
        )
    sys.exit(done.returncode)


@click.command("credential", hidden=True)
@target_options()
@click.argument("operation", type=click.Choice(["get", "store", "erase"]))
def credential(operation: str) -> None:
    """git's credential helper protocol (git calls it; see `mcpctl gitops clone`)."""
    asked: dict[str, str] = {}
    for line in sys.stdin.read().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            asked[key.strip()] = value.strip()
    if operation != "get":
        return  # the token lives in mcpctl's config; git keeps nothing
    try:
        _, server, token = _context()
    except Exception:  # git asks the next helper, or the user, instead
        return
    scheme, host = _origin(server)
    if asked.get("protocol", "").lower() != scheme or asked.get("host", "").lower() != host:
        return  # never hand a context's token to another server
    click.echo(f"username={USERNAME}\npassword={token}\n", nl=False)
