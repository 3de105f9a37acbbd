"""`mcpctl mcp-config`: the snippet an AI client takes, with no token in it."""

from __future__ import annotations

import json
from pathlib import Path

from mcpctl.client.contexts import ClientConfig, Context, save_config
from tests.unit.cli.conftest import Run


def test_claude_code_gets_mcplocal_with_the_project_and_the_contexts_server(
    run: Run, mcpctl_home: Path
) -> None:
    config = ClientConfig()
    config.put(Context("prod", "https://mcpd.example.com/", "alice", "mcpctl_session_secret"))
    save_config(config)

    result = run("mcp-config", "demo")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "mcpServers": {
            "demo": {
                "type": "stdio",
                "command": "mcplocal",
                "args": ["demo", "--server", "https://mcpd.example.com"],
            }
        }
    }
    assert "mcpctl_session_secret" not in result.output


def test_claude_desktop_gets_mcplocals_absolute_path_and_the_chosen_context(
    run: Run, mcpctl_home: Path
) -> None:
    config = ClientConfig()
    config.put(Context("prod", "https://mcpd.example.com", "alice", "t"))
    config.put(Context("dev", "http://127.0.0.1:7420", "bob", "t2"), make_current=False)
    save_config(config)

    result = run("mcp-config", "demo", "--client", "claude-desktop", "--context", "dev")

    entry = json.loads(result.stdout)["mcpServers"]["demo"]
    assert Path(entry["command"]).is_absolute()
    assert Path(entry["command"]).name == "mcplocal"
    assert entry["args"] == ["demo", "--server", "http://127.0.0.1:7420", "--context", "dev"]


def test_without_a_context_it_says_what_to_do(run: Run) -> None:
    result = run("mcp-config", "demo")

    assert result.exit_code == 1
    assert "--server URL" in result.stderr
