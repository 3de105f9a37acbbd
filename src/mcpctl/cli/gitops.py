"""`mcpctl gitops status|verify|timelines|sync` and `mcpctl restore`: the state repo."""

from __future__ import annotations

import sys

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK


@click.group()
def gitops() -> None:
    """The state repo: every write is a commit there.

    \b
    Examples:
      mcpctl gitops status
      mcpctl gitops verify
      mcpctl gitops timelines
      git clone http://mcpd:7420/git/state.git   (a token as the password)
    """


@gitops.command("status")
@target_options()
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text")
def status(fmt: str) -> None:
    """Show the head of main and whether every write has been committed.

    \b
    Example:
      mcpctl gitops status -o json
    """
    import json

    with api_errors(), connect() as client:
        answer = client.request("GET", "/api/v1/gitops/status")
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2))
        return
    click.echo(f"head:             {answer.get('head') or '(none)'}")
    click.echo(f"exported change:  {answer.get('exportedChange')}")
    click.echo(f"last change:      {answer.get('lastChange')}")
    click.echo(f"pending:          {'yes' if answer.get('pending') else 'no'}")


@gitops.command("verify")
@target_options()
def verify() -> None:
    """Check the invariant: the tree at main is exactly the export of the database.

    Prints each differing path; exit status 0 in sync, 1 when anything differs.

    \b
    Example:
      mcpctl gitops verify
    """
    with api_errors(), connect() as client:
        answer = client.request("GET", "/api/v1/gitops/verify")
    different = answer.get("differences") or []
    for path in different:
        click.echo(f"differs: {path}")
    if different:
        click.echo(f"{len(different)} path(s) differ from the export of the database", err=True)
        sys.exit(EXIT_FOUND)
    click.echo("in sync: main is the export of the database")
    sys.exit(EXIT_OK)


@gitops.command("timelines")
@target_options()
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text")
def timelines(fmt: str) -> None:
    """List the heads earlier restores left behind (newest first).

    Each is a branch `timelines/<UTC time>-<sha>` of the state repo; restore
    one with `mcpctl restore --to timelines/NAME`.

    \b
    Example:
      mcpctl gitops timelines
    """
    import json

    with api_errors(), connect() as client:
        answer = client.request("GET", "/api/v1/gitops/timelines")
    items = answer.get("items") or []
    if fmt == "json":
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no timelines: nothing has been restored yet")
        return
    click.echo(f"{'NAME':<36} {'COMMIT':<12}  NOTE")
    for item in items:
        notes = (item.get("note") or "").splitlines()
        name = "timelines/" + item["name"]
        click.echo(f"{name:<36} {item['commit'][:12]:<12}  {notes[-1] if notes else ''}")


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
    counts = answer.get("summary") or {}
    done = (
        ", ".join(f"{n} {what}" for what, n in sorted(counts.items()) if n) or "no object changed"
    )
    click.echo(f"restored main to {rev} ({target}): {done}")
    click.echo(f"the previous head is kept on timelines/{answer.get('timeline')}")
