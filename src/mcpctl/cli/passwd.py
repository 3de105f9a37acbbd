"""`mcpctl passwd`: change one's own password, with the current one.

Who "one" is comes from mcpd (`GET /api/v1/auth/me`): a session of a user who
logged in, not a token. The new password is asked twice without echo (or read
from stdin after the current one, for scripts), and two entries that differ
are refused before anything is sent. mcpd logs out the user's other sessions;
this one stays. Another user's password is `mcpctl set password` (`set.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.flags import ask_new_password, read_password_lines

if TYPE_CHECKING:
    from mcpctl.client.http import ApiClient


def whoami(client: ApiClient) -> tuple[str, str]:
    """(kind, name) of the credential the command sends: ("User", "alice"), ("McpToken", ...)."""
    from mcpctl.errors import BackendUnavailable

    me = client.request("GET", "/api/v1/auth/me")
    if not isinstance(me, dict) or not isinstance(me.get("name"), str):
        raise BackendUnavailable("mcpd answered who you are without a name")
    return str(me.get("kind", "User")), me["name"]


@click.command()
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the current password, then the new one, from stdin (one per line; no prompt).",
)
@target_options()
def passwd(password_stdin: bool) -> None:
    """Change your own password: the current one, then the new one twice.

    You stay logged in here; your other sessions are logged out. Passwords
    are never echoed. With --password-stdin, standard input holds two lines:
    the current password, then the new one.

    \b
    Examples:
      mcpctl passwd
      printf '%s\\n%s\\n' "$OLD" "$NEW" | mcpctl passwd --password-stdin
    """
    from mcpctl.cli.resources import object_path
    from mcpctl.errors import InvalidInput
    from mcpctl.kindnames import BY_KIND_NAME

    with api_errors(), connect() as client:
        kind, name = whoami(client)
        if kind != "User":
            raise InvalidInput(
                f"passwords belong to users who log in, and this credential is {kind} "
                f"{name!r}: log in with `mcpctl login SERVER --username USER` first"
            )
        if password_stdin:
            current, new = read_password_lines(("the current password", "the new one"))
        else:
            current = str(click.prompt(f"Current password of {name}", hide_input=True, err=True))
            new = ask_new_password(f"New password of {name}")
        client.request(
            "PUT",
            object_path(BY_KIND_NAME["User"], name) + "/password",
            body={"password": new, "currentPassword": current},
        )
    click.echo(f"password of {name} changed; your other sessions were logged out")
