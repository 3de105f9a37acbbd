"""Contexts: the config file, read, shown, switched and broken, with no mcpd involved.

Login, logout and which context and token a command uses are tested
against the real mcpd in tests/integration/cli/test_auth.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mcpctl.client.contexts import ClientConfig, Context, load_config, save_config

from .conftest import Run


def write_config(home: Path, *contexts: Context, current: str | None = None) -> None:
    config = ClientConfig(current_context=current)
    for context in contexts:
        config.put(context, make_current=False)
    save_config(config, home / "config")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


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
    from mcpctl.cli.login import server_url

    assert server_url(given) == url


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


def test_the_directories_made_for_the_config_are_private_whatever_the_umask(
    mcpctl_home: Path,
) -> None:
    home = mcpctl_home / "nested" / "home"
    before = os.umask(0o022)
    try:
        write_config(home, Context("dev", "http://127.0.0.1:7420", token="t"))
    finally:
        os.umask(before)

    assert [mode_of(p) for p in (home / "config", home, home.parent, mcpctl_home)] == [
        0o600,
        0o700,
        0o700,
        0o700,
    ]


def test_a_config_directory_others_may_write_to_is_refused_with_the_fix(
    run: Run, mcpctl_home: Path
) -> None:
    write_config(mcpctl_home, Context("dev", "http://127.0.0.1:7420", token="t"))
    before = (mcpctl_home / "config").read_text()
    mcpctl_home.chmod(0o777)

    result = run("config", "use-context", "dev")

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {mcpctl_home} is writable by other users (mode 0777) and the config holds "
        f"credentials: run `chmod 700 {mcpctl_home}`\n"
    )
    assert (mcpctl_home / "config").read_text() == before
    assert sorted(p.name for p in mcpctl_home.iterdir()) == ["config"]


def test_a_config_directory_others_may_only_read_is_written_to(mcpctl_home: Path) -> None:
    mcpctl_home.mkdir()
    mcpctl_home.chmod(0o755)

    write_config(mcpctl_home, Context("dev", "http://127.0.0.1:7420", token="t"))

    assert (mode_of(mcpctl_home / "config"), mode_of(mcpctl_home)) == (0o600, 0o755)
