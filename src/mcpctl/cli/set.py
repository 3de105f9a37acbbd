"""`mcpctl set password USER`: what a user has that is not in a manifest.

A password is never part of the User object (nor of the state repo): it is
set through its own route, `PUT /api/v1/users/USER/password`. Setting another
user's needs `run set-passwords`, and mcpd refuses it for a user holding a
permission the caller lacks (whoever sets the password can log in as them).
One's own password is `mcpctl passwd` (`passwd.py`), which asks the current one.
"""

from __future__ import annotations

import click

from mcpctl.cli.completion import names_of
from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.flags import ask_new_password, read_password_stdin


@click.group("set")
def set_group() -> None:
    """Set what a manifest does not hold: a user's password.

    \b
    Example:
      mcpctl set password alice
    """


@set_group.command("password")
@click.argument("user", shell_complete=names_of("users"))
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin (one line).")
@target_options()
def set_password(user: str, password_stdin: bool) -> None:
    """Set another USER's password (asked twice, never echoed).

    Needs `run set-passwords`, and is refused for a user who holds a
    permission you do not. The user's sessions are logged out. For your
    own password use `mcpctl passwd`.

    \b
    Examples:
      mcpctl set password alice
      printf '%s' "$PW" | mcpctl set password ci-bot --password-stdin
    """
    import contextlib

    from mcpctl.cli.passwd import whoami
    from mcpctl.cli.resources import get_object, object_path
    from mcpctl.errors import Forbidden, InvalidInput
    from mcpctl.kindnames import BY_KIND_NAME

    model = BY_KIND_NAME["User"]
    with api_errors(), connect() as client:
        if whoami(client) == ("User", user):
            raise InvalidInput(
                "that is you: change your own password with `mcpctl passwd` "
                "(it asks for the current one)"
            )
        # a user that does not exist is told before the prompts; without `view users`
        # (`run set-passwords` alone), mcpd decides when the password comes
        with contextlib.suppress(Forbidden):
            get_object(client, model, user)
        password = (
            read_password_stdin() if password_stdin else ask_new_password(f"New password of {user}")
        )
        client.request("PUT", object_path(model, user) + "/password", body={"password": password})
    click.echo(f"password of user/{user} set; their sessions were logged out")
