"""The `mcpctl` command group, loading each command's module only when it runs.

`mcpctl --help` must start within 2x of `python -c pass` + 100 ms, so the
group knows its commands by name and short help, and imports a command's
module (and through it pydantic and PyYAML) only to run it.
"""

from __future__ import annotations

import importlib
import sys

import click

from mcpctl import __version__

#: name -> (module:attribute, short help). The help is shown without importing.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "mcpctl.cli.validate:validate",
        "Check manifests offline: schema, references, cycles (for CI).",
    ),
    "diff": (
        "mcpctl.cli.diff:diff",
        "Show what changes between two sets of manifests (or a git revision).",
    ),
    "schema": ("mcpctl.cli.schema:schema", "Export the JSON Schema of every kind."),
    "hooks": ("mcpctl.cli.hooks:hooks", "Install and run git hooks that validate manifests."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute = entry[0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="mcpctl", message="%(prog)s %(version)s")
def cli() -> None:
    """mcpctl: a GitOps control plane for MCP servers.

    Declare MCP servers, secrets, projects, prompts, LLMs, users and access
    rules as YAML manifests; validate and diff them offline in CI.

    \b
    Examples:
      mcpctl validate examples/
      mcpctl diff --base origin/main manifests/
      mcpctl schema export schemas/
    """


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="mcpctl")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
