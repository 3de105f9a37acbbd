"""Shell completion: the scripts, and words that need no mcpd (commands, kinds).

Object names, asked of mcpd, are tested against the real one in
tests/integration/cli/test_completion.py.
"""

from __future__ import annotations

import pytest
from click.shell_completion import ShellComplete

from mcpctl.cli.main import cli

from .conftest import Run


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
