"""`mcpctl gitops status|verify|timelines|sync`, `mcpctl restore`, `mcpctl seal`: the state repo."""

from __future__ import annotations

import sys

import click

from mcpctl.cli.apply import files_option
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
    click.echo(f"head:             {answer.get('head') or '(none)'}")
    click.echo(f"exported change:  {answer.get('exportedChange')} of {answer.get('lastChange')}")
    click.echo(f"pending:          {'yes' if answer.get('pending') else 'no'}")
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
    click.echo(f"{'NAME':<36} {'COMMIT':<12}  NOTE")
    for item in items:
        notes = (item.get("note") or "").splitlines()
        name = "timelines/" + item["name"]
        click.echo(f"{name:<36} {item['commit'][:12]:<12}  {notes[-1] if notes else ''}")


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


def _add_clone_commands() -> None:
    from mcpctl.cli.gitcredential import clone, credential

    gitops.add_command(clone)
    gitops.add_command(credential)


_add_clone_commands()


@click.command()
@files_option
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@target_options()
def seal(paths: tuple[str, ...], fmt: str) -> None:
    """Seal the values of Secret manifests, for a push to the state repo.

    Git takes no Secret value in plaintext: a pushed Secret carries its values
    under sealedData, sealed by mcpd with the state repo's key. A sealed value
    opens only as the key of the Secret it was sealed for; copied to another
    Secret or key, the push is refused.

    The files are read as `mcpctl validate` reads them; every document must be
    a Secret with each value given. The sealed manifests are printed, in the
    canonical form of the state repo; nothing is stored. Needs create (or edit,
    if it exists) of each Secret, as the push will.

    \b
    Examples:
      mcpctl seal -f github.yaml > secrets/github.yaml
      mcpctl get secret github -o yaml --show-values | mcpctl seal -f -
    """
    import json

    from mcpctl.cli.apply import load_local, locator, request_items
    from mcpctl.cli.connection import ValidationFailed, show_issues
    from mcpctl.manifests import check_sealable
    from mcpctl.manifests.canonical import dump_plain

    if not paths:
        raise click.UsageError("give the Secret manifests with -f PATH")
    loaded = load_local(paths)
    issues = [issue for m in loaded.manifests for issue in check_sealable(m)]
    if issues:
        show_issues(issues, objects=len(loaded.manifests), files=len(loaded.files))
        raise ValidationFailed("nothing was sealed")
    counts = {"objects": len(loaded.manifests), "files": len(loaded.files)}
    with api_errors(**counts, locate=locator(loaded.manifests)), connect() as client:
        answer = client.request(
            "POST", "/api/v1/gitops/seal", body={"items": request_items(loaded.manifests)}
        )
    items = answer.get("items", []) if isinstance(answer, dict) else []
    if fmt == "json":
        shown = items[0] if len(items) == 1 else {**answer, "items": items}
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    click.echo("---\n".join(dump_plain(item) for item in items), nl=False)
