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
from mcpctl.cli.connection import target_options

#: name -> (module:attribute, short help). The help is shown without importing.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "mcpctl.cli.validate:validate",
        "Check manifests offline: schema, references, cycles (for CI).",
    ),
    "diff": (
        "mcpctl.cli.diff:diff",
        "Show what changes: manifests vs mcpd (-f), two sets, or a git revision.",
    ),
    "schema": ("mcpctl.cli.schema:schema", "Export the JSON Schema of every kind."),
    "hooks": ("mcpctl.cli.hooks:hooks", "Install and run git hooks that validate manifests."),
    "get": ("mcpctl.cli.get:get", "List objects of a kind, or show the named ones."),
    "describe": (
        "mcpctl.cli.describe:describe",
        "Show an object in full: spec, status, references, events.",
    ),
    "create": ("mcpctl.cli.create:create", "Create an object from flags."),
    "apply": ("mcpctl.cli.apply:apply", "Create or update objects from manifests on mcpd."),
    "delete": ("mcpctl.cli.delete:delete", "Delete objects by name or by manifest."),
    "edit": ("mcpctl.cli.edit:edit", "Edit an object's manifest in $EDITOR and apply it."),
    "login": ("mcpctl.cli.login:login", "Log in to an mcpd and save a context for it."),
    "logout": ("mcpctl.cli.logout:logout", "Log out: revoke the session and forget its token."),
    "passwd": ("mcpctl.cli.passwd:passwd", "Change your own password."),
    "set": ("mcpctl.cli.set:set_group", "Set what a manifest does not hold: a user's password."),
    "revoke": ("mcpctl.cli.revoke:revoke", "Revoke credentials: ServiceAccount tokens, McpTokens."),
    "gitops": (
        "mcpctl.cli.gitops:gitops",
        "The state repo: status, the invariant check, timelines, sync.",
    ),
    "restore": (
        "mcpctl.cli.restore:restore",
        "Restore every exported object to a revision of the state repo.",
    ),
    "seal": (
        "mcpctl.cli.seal:seal",
        "Seal Secret values for a push to the state repo (git takes no plaintext).",
    ),
    "logs": ("mcpctl.cli.logs:logs", "Print a Server's or an instance's log (-f to follow)."),
    "config": ("mcpctl.cli.config:config", "Show and switch contexts of the config file."),
    "mcp-config": (
        "mcpctl.cli.mcpconfig:mcp_config",
        "Print the MCP configuration that connects an AI client to a project.",
    ),
    "completion": (
        "mcpctl.cli.completion:completion",
        "Print the shell completion script (bash, zsh, fish).",
    ),
}


class UsageLine(click.ClickException):
    """A command used wrongly: `error: <what> (see `mcpctl CMD --help`)`, exit status 2."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


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

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a usage error of a command is one line, kubectl-style."""
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            if e.ctx is None:
                raise
            what = e.format_message().rstrip(".")
            raise UsageLine(f"{what} (see `{e.ctx.command_path} --help`)") from e

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="mcpctl", message="%(prog)s %(version)s")
@target_options(envvars=True)
def cli() -> None:
    """mcpctl: a GitOps control plane for MCP servers.

    Declare MCP servers, secrets, projects, prompts, LLMs, users and access
    rules as YAML manifests; validate and diff them offline in CI, and apply
    them to mcpd kubectl-style.

    \b
    Examples:
      mcpctl validate examples/
      mcpctl diff --base origin/main manifests/
      mcpctl login http://127.0.0.1:7420 --username admin
      mcpctl apply -f manifests/
      mcpctl get servers
    """


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="mcpctl")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
