"""The `mcpctl` group: version, help with examples on every command, unknown commands."""

from __future__ import annotations

import pytest

from mcpctl import __version__
from mcpctl.cli.main import COMMANDS

from .conftest import Run

EVERY_COMMAND = [
    [],
    ["validate"],
    ["diff"],
    ["schema"],
    ["schema", "export"],
    ["hooks"],
    ["hooks", "install"],
    ["hooks", "pre-commit"],
    ["get"],
    ["describe"],
    ["create"],
    *(
        ["create", kind]
        for kind in (
            "llm",
            "secret",
            "server",
            "project",
            "prompt",
            "user",
            "group",
            "serviceaccount",
            "rbac",
            "mcptoken",
            "token",
        )
    ),
    ["apply"],
    ["delete"],
    ["edit"],
    ["login"],
    ["logout"],
    ["passwd"],
    ["set"],
    ["set", "password"],
    ["revoke"],
    ["revoke", "token"],
    ["revoke", "mcptoken"],
    ["gitops"],
    ["gitops", "status"],
    ["gitops", "verify"],
    ["gitops", "timelines"],
    ["gitops", "sync"],
    ["restore"],
    ["seal"],
    ["config"],
    ["config", "get-contexts"],
    ["config", "current-context"],
    ["config", "use-context"],
    ["config", "delete-context"],
    ["config", "view"],
    ["completion"],
    ["logs"],
    ["mcp-config"],
]


def test_version_prints_the_program_and_version(run: Run) -> None:
    result = run("--version")

    assert result.exit_code == 0
    assert result.stdout == f"mcpctl {__version__}\n"


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: " ".join(c) or "mcpctl")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command_shows_an_example(run: Run, command: list[str], flag: str) -> None:
    result = run(*command, flag)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: mcpctl")
    assert "Example" in result.stdout


def test_every_registered_command_is_covered_by_the_help_test() -> None:
    assert {c[0] for c in EVERY_COMMAND if c} == set(COMMANDS)


def test_the_top_level_help_lists_every_command(run: Run) -> None:
    result = run("--help")

    listed = result.stdout.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"  {name} " in listed


def test_an_unknown_command_is_a_usage_error(run: Run) -> None:
    result = run("valdate", "examples/")

    assert result.exit_code == 2
    assert "No such command 'valdate'" in result.stderr


def test_a_usage_error_of_a_command_is_one_line_naming_its_help(run: Run) -> None:
    result = run("create", "llm", "x", "--type", "openai", "--model", "m", "--extra", "oops")

    assert result.exit_code == 2
    assert result.stderr == (
        "error: Invalid value for --extra: expected KEY=VALUE, got 'oops'"
        " (see `mcpctl create llm --help`)\n"
    )
