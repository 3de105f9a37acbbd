"""`mcpctl config`: the contexts of the client config file, like `kubectl config`.

The file is `$MCPCTL_HOME/config` (default `~/.mcpctl/config`), shared with
mcpd, which writes a context for its bootstrap admin; `mcpctl.client.contexts` reads
and writes it (atomically, mode 0600). Tokens are never printed.
"""

from __future__ import annotations

import click

from mcpctl.cli.errors import cli_errors


def _complete_contexts(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    from click.shell_completion import CompletionItem

    from mcpctl.client.contexts import load_config

    try:
        names = [c.name for c in load_config().contexts]
    except Exception:  # completion must never break the shell
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


@click.group()
def config() -> None:
    """Show and switch the contexts of the config file ($MCPCTL_HOME/config).

    \b
    Examples:
      mcpctl config get-contexts
      mcpctl config use-context prod
      mcpctl --context staging get servers
    """


@config.command("get-contexts")
@click.option("-o", "--output", "fmt", type=click.Choice(("table", "name")), default="table")
def get_contexts(fmt: str) -> None:
    """List the contexts; `*` marks the current one.

    \b
    Example:
      mcpctl config get-contexts
    """
    from mcpctl.cli.rendering.objects import format_table
    from mcpctl.client.contexts import load_config

    with cli_errors():
        cfg = load_config()
    if fmt == "name":
        click.echo("".join(f"{c.name}\n" for c in cfg.contexts), nl=False)
        return
    rows = [
        [
            "*" if c.name == cfg.current_context else "",
            c.name,
            c.server,
            c.user or "",
            "yes" if c.token else "no",
        ]
        for c in cfg.contexts
    ]
    click.echo(format_table(["CURRENT", "NAME", "SERVER", "USER", "LOGGED-IN"], rows), nl=False)


@config.command("current-context")
def current_context() -> None:
    """Print the name of the current context.

    \b
    Example:
      mcpctl config current-context
    """
    from mcpctl.client.contexts import load_config

    with cli_errors():
        click.echo(load_config().get().name)


@config.command("use-context")
@click.argument("name", shell_complete=_complete_contexts)
def use_context(name: str) -> None:
    """Make NAME the current context.

    \b
    Example:
      mcpctl config use-context prod
    """
    from mcpctl.client.contexts import load_config, save_config

    with cli_errors():
        cfg = load_config()
        cfg.get(name)  # must exist
        cfg.current_context = name
        save_config(cfg)
    click.echo(f"switched to context {name!r}")


@config.command("delete-context")
@click.argument("name", shell_complete=_complete_contexts)
def delete_context(name: str) -> None:
    """Remove the context NAME (and its token) from the file.

    \b
    Example:
      mcpctl config delete-context old
    """
    from mcpctl.client.contexts import load_config, save_config

    with cli_errors():
        cfg = load_config()
        cfg.get(name)
        cfg.contexts = [c for c in cfg.contexts if c.name != name]
        if cfg.current_context == name:
            cfg.current_context = None
        save_config(cfg)
    click.echo(f"deleted context {name!r}")


@config.command("view")
def view() -> None:
    """Print the config file with tokens masked.

    \b
    Example:
      mcpctl config view
    """
    import yaml

    from mcpctl.client.contexts import config_path, load_config

    with cli_errors():
        data = load_config().to_dict()
    for context in data["contexts"]:
        if context.get("token"):
            context["token"] = "REDACTED"
    click.echo(f"# {config_path()}")
    click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)
