"""`mcpctl seal -f`: Secret manifests with their values sealed, for a push to the state repo.

Git takes no Secret value in plaintext; mcpd seals them
(`POST /api/v1/gitops/seal`) with the state repo's key, and this prints the
result in the repo's canonical form.
"""

from __future__ import annotations

import click

from mcpctl.cli.connection import api_errors, connect, target_options
from mcpctl.cli.options import files_option


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

    from mcpctl.cli.connection import ValidationFailed, show_issues
    from mcpctl.cli.sending import load_local, locator, request_items
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
