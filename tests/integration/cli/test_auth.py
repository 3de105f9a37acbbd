"""Logging in and out of a real mcpd, choosing the context and token, and being refused.

Login and logout write a home of their own (`tmp_path/home`): the admin's
context in mcpd's state dir stays as it is for the other tests.
"""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mcpctl.client.contexts import ClientConfig, Context, load_config, save_config
from tests.support.manifests import binding, manifest
from tests.support.postgres import free_port

from .conftest import PASSWORD, Cli, one_error_line

pytestmark = pytest.mark.integration


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def a_user(cli: Cli, *bindings: dict[str, str]) -> str:
    """A user with a password, and an Rbac granting `bindings`."""
    name = cli.name("user")
    cli.create(manifest("User", name, {"email": f"{name}@example.com"}))
    cli.set_password(name)
    if bindings:
        spec = {"subjects": [{"kind": "User", "name": name}], "bindings": list(bindings)}
        cli.create(manifest("Rbac", f"{name}-rbac", spec))
    return name


def logged_in(cli: Cli, home: Path, user: str) -> Context:
    result = cli.run(
        "login", cli.mcpd.url, "-u", user, "--password-stdin", input=PASSWORD, home=home
    )
    assert result.exit_code == 0, result.output
    return load_config(home / "config").get()


def test_login_saves_a_current_context_whose_token_works(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli, binding("view", "servers"))
    home = tmp_path / "home"
    url = cli.mcpd.url
    host_port = urlsplit(url).netloc

    result = cli.run(
        "login", url, "--username", user, "--password-stdin", input=PASSWORD + "\n", home=home
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"logged in to {url} as {user}, until ")
    assert result.stdout.endswith(f"; context {host_port!r} saved in {home / 'config'}\n")
    config = load_config(home / "config")
    context = config.get()
    assert (config.current_context, context.server, context.user) == (host_port, url, user)
    assert context.token is not None
    assert context.token not in result.output
    assert cli.identity(context.token) == user
    assert (mode_of(home / "config"), mode_of(home)) == (0o600, 0o700)
    assert cli.run("get", "servers", home=home).exit_code == 0


def test_login_prompts_for_the_password_without_echoing_it(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"

    result = cli.run(
        "login", cli.mcpd.url, "-u", user, "--context-name", "dev", input=PASSWORD + "\n", home=home
    )

    assert result.exit_code == 0, result.output
    assert f"Password for {user} at {cli.mcpd.url}" in result.stderr
    assert PASSWORD not in result.output
    token = load_config(home / "config").get("dev").token
    assert token is not None
    assert cli.identity(token) == user


def test_a_wrong_password_is_one_line_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"

    result = cli.run(
        "login", cli.mcpd.url, "-u", user, "--password-stdin", input="wrong-password\n", home=home
    )

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        f"error: {cli.mcpd.url} refused to log in {user}: wrong user name or password"
    )
    assert not (home / "config").exists()


def test_login_keeps_the_other_contexts(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    config = ClientConfig()
    config.put(Context("prod", "https://prod.example.com:7420", "alice", "t1"))
    save_config(config, home / "config")

    context = logged_in(cli, home, user)

    config = load_config(home / "config")
    assert [c.name for c in config.contexts] == ["prod", context.name]
    assert config.get("prod").token == "t1"
    assert config.current_context == context.name


def test_logout_revokes_the_session_and_forgets_the_token(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    context = logged_in(cli, home, user)
    assert context.token is not None

    result = cli.run("logout", home=home)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"logged out of {cli.mcpd.url} (context {context.name!r})\n"
    assert cli.identity(context.token) is None
    after = load_config(home / "config").get(context.name)
    assert (after.server, after.user, after.token) == (cli.mcpd.url, user, None)


def test_logout_forgets_a_token_mcpd_no_longer_accepts(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    context = logged_in(cli, home, user)
    assert context.token is not None
    with cli.mcpd.client(context.token) as client:
        assert client.post("/api/v1/auth/logout").status_code in (200, 204)

    result = cli.run("logout", home=home)

    assert result.exit_code == 0, result.output
    assert load_config(home / "config").get(context.name).token is None


def test_a_rejected_token_says_to_log_in_again(cli: Cli, tmp_path: Path) -> None:
    user = a_user(cli)
    home = tmp_path / "home"
    context = logged_in(cli, home, user)
    assert context.token is not None
    with cli.mcpd.client(context.token) as client:
        client.post("/api/v1/auth/logout")

    result = cli.run("get", "servers", home=home)

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        f"error: the token of context {context.name!r} was rejected"
        " (the session has expired or was logged out):"
        f" log in again with `mcpctl login {cli.mcpd.url}`"
    )


# ---- which context and token a command uses ---------------------------------------------


@pytest.fixture
def two_contexts(cli: Cli, viewer: str, tmp_path: Path) -> Path:
    """A home whose current context is the admin's, and a context `viewer` of a view-only user."""
    home = tmp_path / "home"
    config = ClientConfig()
    config.put(Context("admin", cli.mcpd.url, "admin", cli.mcpd.admin_token))
    config.put(Context("viewer", cli.mcpd.url, "viewer", viewer), make_current=False)
    save_config(config, home / "config")
    return home


@pytest.mark.parametrize(
    "args",
    [["--context", "viewer", "get", "secrets"], ["get", "secrets", "--context", "viewer"]],
    ids=["before", "after"],
)
def test_the_context_option_picks_the_context_and_its_token(
    cli: Cli, two_contexts: Path, args: list[str]
) -> None:
    as_admin = cli.run("get", "secrets", home=two_contexts)
    as_viewer = cli.run(*args, home=two_contexts)

    assert as_admin.exit_code == 0, as_admin.output
    assert as_viewer.exit_code == 2
    assert one_error_line(as_viewer.stderr) == "error: forbidden: needs view on secrets"


def test_mcpctl_context_in_the_environment_picks_the_context(cli: Cli, two_contexts: Path) -> None:
    chosen = cli.run("get", "secrets", home=two_contexts, env={"MCPCTL_CONTEXT": "viewer"})
    unknown = cli.run("get", "secrets", home=two_contexts, env={"MCPCTL_CONTEXT": "nope"})

    assert one_error_line(chosen.stderr) == "error: forbidden: needs view on secrets"
    assert unknown.exit_code == 2
    assert one_error_line(unknown.stderr) == (
        f"error: no context named 'nope' in {two_contexts / 'config'}"
    )


def test_a_token_option_overrides_the_contexts(cli: Cli, viewer: str) -> None:
    result = cli.run("get", "secrets", "--token", viewer)

    assert one_error_line(result.stderr) == "error: forbidden: needs view on secrets"


def test_a_rejected_token_option_is_not_blamed_on_the_context(cli: Cli) -> None:
    url = cli.mcpd.url

    result = cli.run("get", "servers", "--token", "mcpctl_sess_not-a-session")

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: the token of {url} was rejected (")  # not "of context 'local'"
    assert line.endswith(f"): log in again with `mcpctl login {url}`")


def test_the_context_mcpd_writes_is_listed_without_its_token(cli: Cli) -> None:
    listed = cli.run("config", "get-contexts")
    shown = cli.run("config", "view")

    assert listed.exit_code == shown.exit_code == 0
    assert listed.stdout.splitlines()[1].split() == ["*", "local", cli.mcpd.url, "admin", "yes"]
    assert "token: REDACTED" in shown.stdout
    assert cli.mcpd.admin_token not in listed.stdout + shown.stdout


def test_another_server_never_gets_the_contexts_token(cli: Cli) -> None:
    other = cli.mcpd.url.replace("127.0.0.1", "localhost")  # the same mcpd, another name

    result = cli.run("--server", other, "get", "servers")

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        f"error: not logged in to {other}: run `mcpctl login {other}`"
    )


# ---- refusals, in one line -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["delete", "server", "{s}"], "error: server/{s}: forbidden: needs delete on servers/{s}"),
        (
            ["create", "server", "{s}-2", "--", "x"],
            "error: forbidden: needs create on servers/{s}-2",
        ),
        (["get", "secrets"], "error: forbidden: needs view on secrets"),
        (["describe", "secret", "{s}"], "error: forbidden: needs view on secrets/{s}"),
    ],
    ids=["delete", "create", "get", "describe"],
)
def test_a_forbidden_action_is_one_line_naming_the_permission(
    cli: Cli, viewer: str, args: list[str], line: str
) -> None:
    s = cli.name("srv")
    cli.create(manifest("Server", s, {"command": ["x"]}))

    result = cli.run("--token", viewer, *(a.replace("{s}", s) for a in args))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert one_error_line(result.stderr) == line.replace("{s}", s)
    assert cli.fetch("servers", s) is not None
    assert cli.fetch("servers", f"{s}-2") is None


def test_a_forbidden_apply_is_one_line_and_changes_nothing(
    cli: Cli, viewer: str, tmp_path: Path
) -> None:
    s = cli.name("srv")
    path = tmp_path / "server.yaml"
    path.write_text(
        f"apiVersion: mcpctl/v1\nkind: Server\nmetadata: {{name: {s}}}\nspec: {{command: [x]}}\n"
    )

    result = cli.run("--token", viewer, "apply", "-f", str(path))

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == f"error: forbidden: needs create on servers/{s}"
    assert cli.fetch("servers", s) is None


@pytest.mark.parametrize("case", ["unreachable", "forbidden", "not-found", "referenced"])
def test_the_installed_command_reports_errors_in_one_line(cli: Cli, viewer: str, case: str) -> None:
    """The real process: one `error:` line on stderr, exit status 2, never a traceback."""
    s = cli.name("srv")
    cli.create(manifest("Server", s, {"command": ["x"]}))
    cli.create(manifest("Project", s, {"servers": [s]}))
    url = f"http://127.0.0.1:{free_port()}"
    args = {
        "unreachable": ["--server", url, "get", "servers"],
        "forbidden": ["--token", viewer, "delete", "server", s],
        "not-found": ["get", "server", f"{s}-nope"],
        "referenced": ["delete", "server", s],
    }[case]

    done = cli.command(*args)

    assert done.returncode == 2
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    if case == "unreachable":
        assert line == f"error: cannot reach mcpd at {url}: is it running?"
