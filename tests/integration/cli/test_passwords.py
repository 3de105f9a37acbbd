"""Passwords through the real CLI against a real mcpd.

`mcpctl passwd` (one's own, with the current one, asked or from stdin) and
`mcpctl set password USER` (another's, behind `run set-passwords`, refused
for a user holding more). Every refusal is one `error:` line and changes
nothing: the old password still works, the other sessions still live. Users
log in with a home of their own (`tmp_path/home`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpctl.client.contexts import load_config
from tests.support.manifests import binding, manifest

from .conftest import PASSWORD, Cli, one_error_line

pytestmark = pytest.mark.integration

NEW = "new-horse-battery-staple"


def a_user(cli: Cli, *bindings: dict[str, str]) -> str:
    """A user with the password PASSWORD and an Rbac granting `bindings`."""
    name = cli.name("user")
    cli.user(name, *bindings)
    return name


def logged_in(cli: Cli, home: Path, user: str) -> str:
    """Log `user` in with the CLI into `home`; the context's session token."""
    result = cli.run(
        "login", cli.mcpd.url, "-u", user, "--password-stdin", input=PASSWORD, home=home
    )
    assert result.exit_code == 0, result.output
    token = load_config(home / "config").get().token
    assert token is not None
    return token


def can_log_in(cli: Cli, user: str, password: str) -> bool:
    answer = cli.admin.post("/api/v1/auth/login", json={"username": user, "password": password})
    return answer.status_code == 200


def password_changes(cli: Cli, user: str) -> list[str]:
    """Who set `user`'s password, per the audit log."""
    answer = cli.admin.get("/api/v1/auditevents", params={"kind": "User", "limit": "5000"})
    answer.raise_for_status()
    entries = [i["spec"] for i in answer.json()["items"]]
    return [e["user"] for e in entries if e.get("name") == user and e["verb"] == "set-password"]


# ---- passwd --------------------------------------------------------------------------------


def test_passwd_asks_twice_without_echo_and_logs_out_the_other_sessions(
    cli: Cli, tmp_path: Path
) -> None:
    user = a_user(cli, binding("view", "servers"))
    home = tmp_path / "home"
    session = logged_in(cli, home, user)
    other = logged_in(cli, tmp_path / "elsewhere", user)

    result = cli.run("passwd", input=f"{PASSWORD}\n{NEW}\n{NEW}\n", home=home)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"password of {user} changed; your other sessions were logged out\n"
    assert f"Current password of {user}: " in result.stderr
    assert f"New password of {user} (again): " in result.stderr
    assert PASSWORD not in result.output
    assert NEW not in result.output
    assert cli.identity(session) == user  # this session stays
    assert cli.identity(other) is None
    assert can_log_in(cli, user, NEW)
    assert not can_log_in(cli, user, PASSWORD)


def test_passwd_reads_the_current_and_the_new_password_from_stdin(
    cli_db: Cli, tmp_path: Path
) -> None:
    user = a_user(cli_db)
    home = tmp_path / "home"
    logged_in(cli_db, home, user)

    result = cli_db.run("passwd", "--password-stdin", input=f"{PASSWORD}\n{NEW}\n", home=home)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert can_log_in(cli_db, user, NEW)


def test_passwd_with_a_wrong_current_password_is_refused_and_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    logged_in(cli, home, user)
    other = logged_in(cli, tmp_path / "elsewhere", user)

    result = cli.run("passwd", "--password-stdin", input=f"not-the-password\n{NEW}\n", home=home)

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == "error: forbidden: the current password is not right"
    assert can_log_in(cli, user, PASSWORD)
    assert cli.identity(other) == user


def test_passwd_refuses_two_different_new_passwords_before_sending_anything(
    cli: Cli, tmp_path: Path
) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    logged_in(cli, home, user)
    other = logged_in(cli, tmp_path / "elsewhere", user)

    result = cli.run("passwd", input=f"{PASSWORD}\n{NEW}\n{NEW}-typo\n", home=home)

    assert result.exit_code == 2
    assert result.stderr.endswith("error: the two new passwords differ: nothing was changed\n")
    assert password_changes(cli, user) == ["admin"]  # the one cli.user made, no other
    assert can_log_in(cli, user, PASSWORD)
    assert cli.identity(other) == user


def test_passwd_needs_both_lines_on_stdin(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    logged_in(cli, home, user)

    result = cli.run("passwd", "--password-stdin", input=f"{PASSWORD}\n", home=home)

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        "error: --password-stdin: standard input holds the current password and the new one,"
        " one per line (see `mcpctl passwd --help`)"
    )
    assert can_log_in(cli, user, PASSWORD)


def test_passwd_with_a_token_says_to_log_in(cli: Cli) -> None:
    created = cli.admin.post(
        "/api/v1/mcptokens", json=manifest("McpToken", cli.name("tok"), {"rbacMode": "clone"})
    )
    assert created.status_code == 201, created.text
    token, name = created.json()["token"], created.json()["object"]["metadata"]["name"]

    result = cli.run("--token", token, "passwd", "--password-stdin", input=f"x\n{NEW}\n")

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        f"error: passwords belong to users who log in, and this credential is McpToken "
        f"{name!r}: log in with `mcpctl login SERVER --username USER` first"
    )


# ---- set password ----------------------------------------------------------------------------


def test_set_password_sets_another_users_and_logs_out_their_sessions(cli_db: Cli) -> None:
    user = a_user(cli_db, binding("view", "servers"))
    answer = cli_db.admin.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    their_session = answer.json()["token"]

    result = cli_db.run("set", "password", user, input=f"{NEW}\n{NEW}\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"password of user/{user} set; their sessions were logged out\n"
    assert NEW not in result.output
    assert cli_db.identity(their_session) is None
    assert can_log_in(cli_db, user, NEW)
    assert password_changes(cli_db, user) == ["admin", "admin"]


def test_set_password_of_a_user_holding_more_is_refused_naming_what_they_hold(cli: Cli) -> None:
    setter = cli.user(
        cli.name("setter"),
        binding("view", "users"),
        {"role": "run", "action": "set-passwords"},
    )
    target = a_user(cli, binding("view", "servers"), binding("delete", "servers"))

    result = cli.run(
        "--token", setter, "set", "password", target, "--password-stdin", input=f"{NEW}\n"
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    assert one_error_line(result.stderr) == (
        f"error: forbidden: User {target!r} holds what you do not: delete servers, view servers"
    )
    assert can_log_in(cli, target, PASSWORD)


def test_set_password_needs_run_set_passwords(cli: Cli, viewer: str) -> None:
    target = a_user(cli)

    result = cli.run(
        "--token", viewer, "set", "password", target, "--password-stdin", input=f"{NEW}\n"
    )

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == "error: forbidden: needs run set-passwords"
    assert can_log_in(cli, target, PASSWORD)


@pytest.mark.parametrize(
    ("args", "input", "line"),
    [
        (["admin"], f"{NEW}\n{NEW}\n", "error: that is you: change your own password with"),
        (["{user}-nobody"], f"{NEW}\n{NEW}\n", "error: User/{user}-nobody not found"),
        (["{user}"], f"{NEW}\n{NEW}-typo\n", "error: the two new passwords differ"),
    ],
    ids=["oneself", "unknown", "mismatch"],
)
def test_set_password_refusals_are_one_line_and_change_nothing(
    cli: Cli, args: list[str], input: str, line: str
) -> None:
    user = a_user(cli)

    result = cli.run("set", "password", *(a.replace("{user}", user) for a in args), input=input)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(line.replace("{user}", user))
    assert password_changes(cli, user) == ["admin"]
    assert can_log_in(cli, user, PASSWORD)
