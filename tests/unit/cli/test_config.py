"""Contexts: the config file, login and logout, and which mcpd and token a command uses."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mcpctl.contexts import ClientConfig, Context, load_config, save_config

from .conftest import Run
from .fakeapi import FakeMcpd, serve


def write_config(home: Path, *contexts: Context, current: str | None = None) -> None:
    config = ClientConfig(current_context=current)
    for context in contexts:
        config.put(context, make_current=False)
    save_config(config, home / "config")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_saves_a_current_context_with_the_token_in_a_0600_file(
    run: Run, mcpctl_home: Path
) -> None:
    with serve() as mcpd:
        result = run("login", mcpd.url, "--username", "admin", "--password-stdin", input="secret\n")

        assert result.exit_code == 0, result.output
        host_port = mcpd.url.removeprefix("http://")
        config = load_config()
        assert config.current_context == host_port
        assert config.get() == Context(host_port, mcpd.url, "admin", "sess-admin")
        assert mcpd.requests[0].body == {"username": "admin", "password": "secret"}
    assert mode_of(mcpctl_home / "config") == 0o600
    assert mode_of(mcpctl_home) == 0o700
    assert "sess-admin" not in result.output


def test_login_prompts_for_the_password_without_echoing_it(run: Run) -> None:
    with serve() as mcpd:
        result = run("login", mcpd.url, "-u", "admin", "--context-name", "dev", input="secret\n")

    assert result.exit_code == 0, result.output
    assert "Password for admin" in result.stderr
    assert "secret" not in result.output
    assert load_config().get("dev").token == "sess-admin"


def test_a_wrong_password_is_one_line_and_writes_nothing(run: Run, mcpctl_home: Path) -> None:
    with serve() as mcpd:
        result = run("login", mcpd.url, "-u", "admin", "--password-stdin", input="nope\n")

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {mcpd.url} refused to log in admin: wrong username or password\n"
    )
    assert not (mcpctl_home / "config").exists()


def test_login_keeps_the_other_contexts(run: Run, mcpctl_home: Path) -> None:
    write_config(mcpctl_home, Context("prod", "https://prod:7420", "alice", "t1"), current="prod")

    with serve() as mcpd:
        result = run("login", mcpd.url, "-u", "admin", "--password-stdin", input="secret")

    assert result.exit_code == 0, result.output
    config = load_config()
    assert [c.name for c in config.contexts] == ["prod", mcpd.url.removeprefix("http://")]
    assert config.get("prod").token == "t1"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("127.0.0.1:7420", "http://127.0.0.1:7420"),
        ("localhost:7420", "http://localhost:7420"),
        ("mcpd.example.com", "https://mcpd.example.com"),
        ("https://mcpd.example.com:8443/", "https://mcpd.example.com:8443"),
    ],
)
def test_a_server_without_a_scheme_is_http_on_loopback_only(given: str, url: str) -> None:
    from mcpctl.cli.auth import server_url

    assert server_url(given) == url


def test_logout_revokes_the_session_and_forgets_the_token(run: Run, mcpd: FakeMcpd) -> None:
    result = run("logout")

    assert result.exit_code == 0, result.output
    assert mcpd.paths("POST") == ["/api/v1/auth/logout"]
    assert "good-token" not in mcpd.tokens
    context = load_config().get("test")
    assert (context.server, context.user, context.token) == (mcpd.url, "admin", None)


def test_logout_forgets_a_token_mcpd_rejects_already(run: Run, mcpd: FakeMcpd) -> None:
    mcpd.tokens.clear()

    result = run("logout")

    assert result.exit_code == 0, result.output
    assert load_config().get("test").token is None


def test_get_contexts_marks_the_current_one_and_never_shows_tokens(
    run: Run, mcpctl_home: Path
) -> None:
    write_config(
        mcpctl_home,
        Context("dev", "http://127.0.0.1:7420", "admin", "sekrit-1"),
        Context("prod", "https://prod:7420", "alice"),
        current="prod",
    )

    result = run("config", "get-contexts")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "CURRENT   NAME   SERVER                  USER    LOGGED-IN",
        "          dev    http://127.0.0.1:7420   admin   yes",
        "*         prod   https://prod:7420       alice   no",
    ]
    view = run("config", "view")
    assert "sekrit" not in view.stdout
    assert "token: REDACTED" in view.stdout


def test_use_context_switches_and_rewrites_the_file_atomically(run: Run, mcpctl_home: Path) -> None:
    write_config(
        mcpctl_home,
        Context("dev", "http://127.0.0.1:7420"),
        Context("prod", "https://prod:7420"),
        current="dev",
    )
    before = (mcpctl_home / "config").stat().st_ino

    result = run("config", "use-context", "prod")

    assert result.exit_code == 0
    assert run("config", "current-context").stdout == "prod\n"
    assert (mcpctl_home / "config").stat().st_ino != before  # replaced, not rewritten in place
    assert sorted(p.name for p in mcpctl_home.iterdir()) == ["config"]  # no temp file left
    assert mode_of(mcpctl_home / "config") == 0o600


def test_using_an_unknown_context_is_one_line(run: Run, mcpctl_home: Path) -> None:
    write_config(mcpctl_home, Context("dev", "http://127.0.0.1:7420"), current="dev")

    result = run("config", "use-context", "nope")

    assert result.exit_code == 2
    assert result.stderr == f"error: no context named 'nope' in {mcpctl_home / 'config'}\n"


def test_delete_context_removes_it_and_unsets_current(run: Run, mcpctl_home: Path) -> None:
    write_config(mcpctl_home, Context("dev", "http://127.0.0.1:7420", token="t"), current="dev")

    result = run("config", "delete-context", "dev")

    assert result.exit_code == 0
    assert load_config() == ClientConfig(current_context=None, contexts=[])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "expected a mapping with currentContext and contexts"),
        ("contexts:\n- name: x\n", "contexts[0] needs a name and a server"),
    ],
)
def test_a_broken_config_file_is_one_line_error(
    run: Run, mcpctl_home: Path, text: str, message: str
) -> None:
    mcpctl_home.mkdir()
    (mcpctl_home / "config").write_text(text)

    for args in (["get", "servers"], ["config", "get-contexts"]):
        result = run(*args)

        assert result.exit_code == 2
        assert result.stderr == f"error: {mcpctl_home / 'config'}: {message}\n"


def test_no_config_at_all_says_how_to_log_in(run: Run) -> None:
    result = run("get", "servers")

    assert result.exit_code == 2
    assert result.stderr == ("error: no current context: run `mcpctl login SERVER` or start mcpd\n")


def test_the_context_option_picks_another_context(
    run: Run, mcpd: FakeMcpd, mcpctl_home: Path
) -> None:
    config = load_config()
    config.put(Context("other", mcpd.url, token="other-token"), make_current=False)
    save_config(config)
    mcpd.tokens.add("other-token")

    for args in (
        ["--context", "other", "get", "servers"],
        ["get", "servers", "--context", "other"],
    ):
        mcpd.requests.clear()
        assert run(*args).exit_code == 0
        assert mcpd.requests[0].headers["authorization"] == "Bearer other-token"


def test_mcpctl_context_in_the_environment_picks_the_context(
    run: Run, mcpd: FakeMcpd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCTL_CONTEXT", "nope")

    result = run("get", "servers")

    assert result.exit_code == 2
    assert "no context named 'nope'" in result.stderr


def test_a_token_option_overrides_the_contexts(run: Run, mcpd: FakeMcpd) -> None:
    mcpd.tokens.add("flag-token")

    assert run("get", "servers", "--token", "flag-token").exit_code == 0
    assert mcpd.requests[0].headers["authorization"] == "Bearer flag-token"


def test_another_server_never_gets_the_contexts_token(run: Run, mcpd: FakeMcpd) -> None:
    with serve() as other:
        result = run("--server", other.url, "get", "servers")

        assert result.exit_code == 2
        assert "authorization" not in other.requests[0].headers
        assert (
            result.stderr
            == f"error: not logged in to {other.url}: run `mcpctl login {other.url}`\n"
        )
    assert mcpd.requests == []
