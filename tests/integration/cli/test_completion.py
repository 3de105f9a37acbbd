"""Shell completion of object names, asked of a real mcpd by the installed command.

The shell's side is what bash does on TAB: run `mcpctl` with
`_MCPCTL_COMPLETE=bash_complete`, the words typed so far in `COMP_WORDS` and
the index of the word to complete in `COMP_CWORD`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpctl.client.contexts import ClientConfig, Context, save_config
from tests.support.manifests import manifest
from tests.support.postgres import free_port

from .conftest import Cli

pytestmark = pytest.mark.integration


def complete(cli: Cli, line: str, home: Path | None = None) -> list[str]:
    """What TAB offers after `line` (ending in a space: a new word; else the last word)."""
    words = line.split()
    index = len(words) if line.endswith(" ") else len(words) - 1
    done = cli.command(
        home=home,
        env={"_MCPCTL_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(index)},
    )
    assert (done.returncode, done.stderr) == (0, "")
    return [item.split(",", 1)[1] for item in done.stdout.splitlines() if item]


@pytest.fixture(scope="module")
def stored(cli: Cli) -> str:
    """Servers `<n>-github`, `<n>-gitlab`, `<n>-time`; Secret `<n>-gh`; Prompt `intro` in `<n>`."""
    n = cli.name("comp")
    for name in ("github", "gitlab", "time"):
        cli.create(manifest("Server", f"{n}-{name}", {"command": [name]}))
    cli.create(manifest("Secret", f"{n}-gh", {"data": {"TOKEN": "a", "USER": "b"}}))
    cli.create(manifest("Project", n, {}))
    cli.create(manifest("Prompt", "intro", {"content": "x"}, project=n))
    return n


def test_object_names_come_from_mcpd(cli: Cli, stored: str) -> None:
    n = stored

    assert complete(cli, f"mcpctl get servers {n}-") == [f"{n}-github", f"{n}-gitlab", f"{n}-time"]
    assert complete(cli, f"mcpctl describe server {n}-git") == [f"{n}-github", f"{n}-gitlab"]
    assert complete(cli, f"mcpctl delete server {n}-t") == [f"{n}-time"]


def test_project_scoped_names_complete_once_the_project_is_given(cli: Cli, stored: str) -> None:
    assert complete(cli, "mcpctl get prompts ") == []
    assert complete(cli, f"mcpctl get prompts -p {stored} ") == ["intro"]


def test_options_naming_objects_complete_their_names(cli: Cli, stored: str) -> None:
    n = stored

    assert complete(cli, f"mcpctl create project p --servers {n}-gi") == [
        f"{n}-github",
        f"{n}-gitlab",
    ]
    assert complete(cli, f"mcpctl create llm x --api-key-ref {n}-") == [
        f"{n}-gh/TOKEN",
        f"{n}-gh/USER",
    ]


def test_completion_uses_the_chosen_context(cli: Cli, stored: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = ClientConfig()
    config.put(Context("dead", f"http://127.0.0.1:{free_port()}", token="x"))
    config.put(Context("live", cli.mcpd.url, token=cli.mcpd.admin_token), make_current=False)
    save_config(config, home / "config")

    assert complete(cli, f"mcpctl edit server {stored}-ti", home=home) == []
    assert complete(cli, f"mcpctl --context live edit server {stored}-ti", home=home) == [
        f"{stored}-time"
    ]


@pytest.mark.parametrize("trouble", ["no-config", "server-down", "token-rejected", "unknown-kind"])
def test_any_failure_offers_nothing_and_prints_nothing(
    cli: Cli, stored: str, tmp_path: Path, trouble: str
) -> None:
    line = f"mcpctl get servers {stored}-"
    home = None
    if trouble == "no-config":
        home = tmp_path / "empty-home"
    elif trouble == "server-down":
        line = f"mcpctl --server http://127.0.0.1:{free_port()} get servers {stored}-"
    elif trouble == "token-rejected":
        line = f"mcpctl --token not-a-token get servers {stored}-"
    else:
        line = f"mcpctl get sever {stored}-"

    assert complete(cli, line, home=home) == []
