"""`mcpctl restore --to REV`: every exported object back to a revision of the state repo.

mcpd does the restore (`POST /api/v1/gitops/restore`): the old head of main
is kept as a timeline branch (`mcpctl gitops timelines` lists them).
"""

from __future__ import annotations

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.rendering.verbs import render_counts


@click.command("restore")
@target_options()
@click.option(
    "--to", "rev", required=True, metavar="REV", help="A commit: sha, main~2, timelines/NAME."
)
@click.option("--reason", default="", help="Why (kept in the timeline's note and the commit).")
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text")
def restore(rev: str, reason: str, fmt: str) -> None:
    """Bring every exported object back to what the state repo held at REV.

    The current head of main is kept as a timeline branch; main gets a new
    commit whose tree is REV's; runtime objects (instances, audit) are not
    touched. Restoring to where main already is changes nothing. Needs the
    RBAC operation `run restore`.

    \b
    Examples:
      mcpctl restore --to main~1 --reason "undo the bad push"
      mcpctl gitops timelines
      mcpctl restore --to timelines/20261125T101500Z-1a2b3c4d5e6f
    """
    import json

    with api_errors(), connect() as client:
        answer = client.request(
            "POST", "/api/v1/gitops/restore", body={"to": rev, "reason": reason}
        )
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2))
        return
    target = str(answer.get("target", ""))[:12]
    if not answer.get("changed"):
        click.echo(f"main already holds what {rev} ({target}) holds: nothing to restore")
        return
    click.echo(f"restored main to {rev} ({target}): {render_counts(answer.get('summary') or {})}")
    click.echo(f"the previous head is kept on timelines/{answer.get('timeline')}")
