"""Shell completion: `mcpctl completion bash|zsh|fish`, and the callbacks that list names.

Completion is click's (`_MCPCTL_COMPLETE=bash_source mcpctl`); the command
prints the script to source. Resource names are asked of mcpd with one short
attempt: completion that fails offers nothing rather than an error, so a
down server or a missing login never breaks the shell.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def complete_kinds(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Kinds by plural, the way `get` lists them."""
    from mcpctl.kindnames import KIND_NAMES as KINDS

    return [CompletionItem(m.PLURAL) for m in KINDS if m.PLURAL.startswith(incomplete.lower())]


def _objects(ctx: click.Context, kind: str) -> list[dict[str, object]]:
    """Objects of `kind` on the chosen mcpd, or none on any failure (one 2-second try)."""
    try:
        from mcpctl.cli.connection import connect
        from mcpctl.cli.resources import list_objects, resolve_kind

        model = resolve_kind(kind)
        project = ctx.params.get("project")
        if model.PROJECT_SCOPED and not project:
            return []
        with connect(ctx, quick=True) as client:
            return list_objects(client, model, project=project)
    except Exception:  # completion must never break the shell: offer nothing instead
        return []


def _names(ctx: click.Context, kind: str, incomplete: str) -> list[CompletionItem]:
    names = []
    for obj in _objects(ctx, kind):
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if isinstance(name, str) and name.startswith(incomplete):
            names.append(CompletionItem(name))
    return names


def complete_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Names of the kind given as the command's KIND argument."""
    kind = ctx.params.get("kind")
    return _names(ctx, kind, incomplete) if isinstance(kind, str) else []


def names_of(kind: str) -> Completer:
    """A completer of the names of one kind (for options naming other objects)."""

    def complete(
        ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return _names(ctx, kind, incomplete)

    return complete


def complete_secret_keys(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """`SECRET/KEY` for every key of every Secret (keys only: values are never fetched)."""
    found: list[str] = []
    for obj in _objects(ctx, "secrets"):
        meta, spec = obj.get("metadata"), obj.get("spec")
        if not isinstance(meta, dict) or not isinstance(spec, dict):
            continue
        keys = set(spec.get("data") or {}) | set(spec.get("sealedData") or {})
        found.extend(f"{meta.get('name')}/{key}" for key in sorted(keys))
    return [CompletionItem(ref) for ref in found if ref.startswith(incomplete)]


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Commands, options, kinds and the names of objects on the current mcpd
    (asked with a 2-second limit) complete on TAB.

    \b
    Examples:
      source <(mcpctl completion bash)          # in ~/.bashrc (bash 4.4+)
      mcpctl completion zsh > "${fpath[1]}/_mcpctl"
      mcpctl completion fish > ~/.config/fish/completions/mcpctl.fish
    """
    root = ctx.find_root().command
    script = get_completion_class(shell)
    if script is None:  # pragma: no cover - click ships all three
        raise click.UsageError(f"no completion for {shell}")
    click.echo(script(root, {}, "mcpctl", "_MCPCTL_COMPLETE").source())
