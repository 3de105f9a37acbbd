"""`mcpctl mcp-config PROJECT`: the snippet that connects an AI client to a project.

It names `mcplocal` as the server's command, with the project and mcpd's URL as its
arguments, and no token: mcplocal reads it from `MCPCTL_TOKEN` or from this CLI's
context when it starts, so a `.mcp.json` committed to a repository gives nobody access.
`--client claude-code` prints a `.mcp.json` (`claude mcp add-json` takes its server
entry too); `--client claude-desktop` the entry of `claude_desktop_config.json`, with
mcplocal's absolute path (the desktop app does not share the shell's PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import click

from mcpctl.cli.connection import target_options, target_settings


@click.command("mcp-config")
@click.argument("project")
@click.option(
    "--client",
    type=click.Choice(["claude-code", "claude-desktop"]),
    default="claude-code",
    show_default=True,
    help="The AI client whose configuration to print.",
)
@target_options()
def mcp_config(project: str, client: str) -> None:
    """Print the MCP configuration that connects an AI client to PROJECT through mcplocal.

    The token is not in it: mcplocal takes MCPCTL_TOKEN, or this CLI's context (log in
    first, or create an McpToken: mcpctl create mcptoken NAME --project PROJECT).

    \b
    Examples:
      mcpctl mcp-config demo > .mcp.json
      mcpctl mcp-config demo --client claude-desktop
    """
    from mcpctl.client.contexts import load_config

    settings = target_settings()
    server = settings.get("server")
    context = settings.get("context")
    if server is None:
        try:
            server = load_config().get(context).server
        except Exception as e:  # no context yet: said with what to do
            raise click.ClickException(f"{e} (or give --server URL)") from None
    args = [project, "--server", server.rstrip("/")]
    if context is not None:
        args += ["--context", context]
    command = "mcplocal"
    if client == "claude-desktop":
        found = shutil.which("mcplocal") or os.path.join(
            os.path.dirname(sys.executable), "mcplocal"
        )
        command = os.path.abspath(found)
    entry: dict[str, object] = {"command": command, "args": args}
    if client == "claude-code":
        entry = {"type": "stdio", **entry}
    click.echo(json.dumps({"mcpServers": {project: entry}}, indent=2))
