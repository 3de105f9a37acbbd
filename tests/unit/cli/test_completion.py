"""Shell completion: the scripts, kinds, and object names asked of mcpd (quietly)."""

from __future__ import annotations

import pytest
from click.shell_completion import ShellComplete

from mcpctl.cli.main import cli
from mcpctl.contexts import ClientConfig, Context, save_config

from .conftest import Run
from .fakeapi import FakeMcpd


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _mcpctl_completion mcpctl"),
        ("zsh", "#compdef mcpctl"),
        ("fish", "complete --no-files --command mcpctl"),
    ],
)
def test_completion_prints_the_script_for_each_shell(run: Run, shell: str, marker: str) -> None:
    result = run("completion", shell)

    assert result.exit_code == 0
    assert marker in result.stdout
    assert "_MCPCTL_COMPLETE" in result.stdout


def test_an_unknown_shell_is_a_usage_error(run: Run) -> None:
    result = run("completion", "tcsh")

    assert result.exit_code == 2


def complete(line: str) -> list[str]:
    """What TAB offers after `line` (ending in a space: a new word; else the last word)."""
    words = line.split()
    incomplete = "" if line.endswith(" ") else words.pop()
    completer = ShellComplete(cli, {}, "mcpctl", "_MCPCTL_COMPLETE")
    return [item.value for item in completer.get_completions(words[1:], incomplete)]


def test_commands_and_kinds_complete(mcpctl_home: object) -> None:
    assert "describe" in complete("mcpctl desc")
    assert complete("mcpctl get serv") == ["servers", "serviceaccounts"]


@pytest.fixture
def stored(mcpd: FakeMcpd) -> FakeMcpd:
    for name in ("github", "gitlab", "time"):
        mcpd.put(
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Server",
                "metadata": {"name": name},
                "spec": {"command": [name]},
            }
        )
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Secret",
            "metadata": {"name": "gh"},
            "spec": {"data": {"TOKEN": None, "USER": None}},
        }
    )
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Prompt",
            "metadata": {"name": "intro", "project": "demo"},
            "spec": {"content": "x"},
        }
    )
    return mcpd


def test_names_come_from_mcpd(stored: FakeMcpd) -> None:
    assert complete("mcpctl get servers ") == ["github", "gitlab", "time"]
    assert complete("mcpctl describe server git") == ["github", "gitlab"]
    assert complete("mcpctl delete server t") == ["time"]
    assert complete("mcpctl edit Server ") == ["github", "gitlab", "time"]


def test_project_scoped_names_complete_once_the_project_is_given(stored: FakeMcpd) -> None:
    assert complete("mcpctl get prompts ") == []
    assert complete("mcpctl get prompts -p demo ") == ["intro"]


def test_options_naming_objects_complete_their_names(stored: FakeMcpd) -> None:
    assert complete("mcpctl create project p --servers gi") == ["github", "gitlab"]
    assert complete("mcpctl create llm x --api-key-ref ") == ["gh/TOKEN", "gh/USER"]


def test_completion_uses_the_chosen_context(stored: FakeMcpd) -> None:
    config = ClientConfig()
    config.put(Context("dead", "http://127.0.0.1:9", token="x"), make_current=True)
    config.put(Context("live", stored.url, token="good-token"), make_current=False)
    save_config(config)

    assert complete("mcpctl get servers ") == []
    assert complete("mcpctl --context live get servers ") == ["github", "gitlab", "time"]


@pytest.mark.parametrize(
    "trouble",
    ["no-config", "server-down", "token-rejected", "unknown-kind"],
)
def test_any_failure_offers_nothing_and_never_raises(trouble: str, stored: FakeMcpd) -> None:
    line = "mcpctl get servers "
    if trouble == "no-config":
        save_config(ClientConfig())
    elif trouble == "server-down":
        line = "mcpctl --server http://127.0.0.1:9 get servers "
    elif trouble == "token-rejected":
        stored.tokens.clear()
    else:
        line = "mcpctl get sever "

    assert complete(line) == []
