"""`mcpctl gitops status|verify|timelines|sync|clone`: the state repo, as mcpd keeps it.

The group and its API subcommands; `clone` (and the hidden git credential
helper behind it) are in `gitcredential`. Restoring a revision is
`mcpctl restore` (`restore.py`), sealing Secrets for a push `mcpctl seal`
(`seal.py`).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK
from mcpctl.cli.rendering.verbs import render_counts


@click.group()
def gitops() -> None:
    """The state repo: every write is a commit there.

    \b
    Examples:
      mcpctl gitops status
      mcpctl gitops verify
      mcpctl gitops timelines
      mcpctl gitops clone state    (git pull/push then use the context's token)
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
    imported = answer.get("lastImported") or {}
    _replicas(answer)
    click.echo(f"head:             {answer.get('head') or '(none)'}")
    cluster = answer.get("clusterHead")
    if cluster and cluster != answer.get("head"):
        click.echo(f"cluster's main:   {cluster} (this replica's main is not there yet)")
    click.echo(f"exported change:  {answer.get('exportedChange')} of {answer.get('lastChange')}")
    click.echo(f"pending:          {'yes' if answer.get('pending') else 'no'}")
    lag = answer.get("exportLag") or {}
    if lag.get("writes"):
        click.echo(
            f"export lag:       p50 {lag['p50'] * 1000:.0f} ms, p95 {lag['p95'] * 1000:.0f} ms, "
            f"max {lag['max'] * 1000:.0f} ms (last {lag['writes']} writes)"
        )
    if lag.get("oldestPendingSeconds") is not None:
        click.echo(f"oldest pending:   {lag['oldestPendingSeconds']:.3f} s")
    last = f"{imported['commit'][:12]} ({imported.get('via')})" if imported else "(none)"
    click.echo(f"last imported:    {last}")
    remote = answer.get("remote")
    if remote:
        click.echo(f"remote:           {remote.get('url')} ({remote.get('transport')})")
        click.echo(f"last sync:        {remote.get('lastSync') or '(not yet)'}")
        click.echo(f"last pushed:      {(remote.get('lastPushed') or '(none)')[:12]}")
        click.echo(f"last fetched:     {(remote.get('lastFetched') or '(none)')[:12]}")
        if remote.get("lastError"):
            click.echo(f"last error:       {remote['lastError']}")
    else:
        click.echo("remote:           (none: start mcpd with --git-remote URL to mirror)")
    if answer.get("publicKey"):
        click.echo(f"deploy key:       {answer['publicKey']}")
    conflicts = answer.get("conflicts") or []
    click.echo(f"conflicts:        {len(conflicts)} recent (the database won)")
    for conflict in conflicts[:10]:
        click.echo(f"  {conflict.get('time')}  {conflict.get('message')}")


def _replicas(answer: dict[str, Any]) -> None:
    """This replica's role and the leader (on PostgreSQL, where several may share one database)."""
    replica, leader = answer.get("replica") or {}, answer.get("leader") or {}
    if not replica:
        return
    click.echo(f"replica:          {replica.get('name')} ({replica.get('role')})")
    if replica.get("role") == "single":
        return
    if leader:
        click.echo(
            f"leader:           {leader.get('name')} at {leader.get('url')}, term "
            f"{leader.get('term')}, lease renewed {leader.get('leaseAgeSeconds')} s ago, "
            f"{leader.get('leaseRemainingSeconds')} s left"
        )
    else:
        click.echo("leader:           none (an election is on)")
    members = answer.get("replicas") or []
    if members:
        click.echo(
            "replicas:         "
            + ", ".join(
                f"{m.get('name')} ({m.get('role')}, seen {m.get('seenSecondsAgo')} s ago)"
                for m in members
            )
        )
    following = answer.get("following") or {}
    if following and not following.get("able", True):
        click.echo(f"following:        unable: {following.get('problem')}")


@gitops.command("verify")
@target_options()
def verify() -> None:
    """Check the invariant: the tree at main is exactly the export of the database.

    Prints each differing path and the unified diff (a/ is main, b/ the export
    of the database; secret values sealed on both sides). Exit status 0 in
    sync, 1 when anything differs.

    \b
    Example:
      mcpctl gitops verify
    """
    with api_errors(), connect() as client:
        answer = client.request("GET", "/api/v1/gitops/verify")
    different = answer.get("differences") or []
    for path in different:
        click.echo(f"differs: {path}")
    if answer.get("diff"):
        click.echo(answer["diff"], nl=False)
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
    from mcpctl.cli.rendering.objects import format_table

    rows = [
        # a note gains a line per restore to the same head: the newest is shown
        ["timelines/" + item["name"], item["commit"][:12], (item.get("note") or "").split("\n")[-1]]
        for item in items
    ]
    click.echo(format_table(["NAME", "COMMIT", "NOTE"], rows), nl=False)


@gitops.command("sync")
@target_options()
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text")
def sync(fmt: str) -> None:
    """Sync with the mirrored remote now: fetch and import its commits, push main.

    Objects changed on both sides keep mcpd's version (see `mcpctl gitops
    status` for the conflicts). Needs `run sync`.

    \b
    Example:
      mcpctl gitops sync
    """
    import json

    with api_errors(), connect() as client:
        answer = client.request("POST", "/api/v1/gitops/sync")
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2))
        return
    action = answer.get("action")
    head = str(answer.get("head") or "")[:12]
    if action == "imported":
        imported = answer.get("imported") or {}
        done = render_counts(imported.get("summary") or {})
        click.echo(f"imported {str(answer.get('fetched'))[:12]}: {done}")
        for conflict in imported.get("conflicts") or []:
            click.echo(f"conflict: {conflict['kind']}/{conflict['name']}: mcpd's version kept")
    click.echo(f"{answer.get('remote')} is at {head}")


def _add_clone_commands() -> None:
    from mcpctl.cli.gitcredential import clone, credential

    gitops.add_command(clone)
    gitops.add_command(credential)


_add_clone_commands()
