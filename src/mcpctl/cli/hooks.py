"""`mcpctl hooks`: install the pre-commit hook, and the command it runs."""

from __future__ import annotations

import sys

import click

from mcpctl.cli.errors import EXIT_FOUND, EXIT_OK, cli_errors


@click.group()
def hooks() -> None:
    """Git hooks that validate manifests before they are committed.

    \b
    Example:
      mcpctl hooks install manifests/
    """


@hooks.command("install")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option("--force", is_flag=True, help="Replace a pre-commit hook mcpctl did not install.")
def install(paths: tuple[str, ...], force: bool) -> None:
    """Install a pre-commit hook validating the staged manifests under PATH (default: .).

    The hook checks what is staged, not the working tree, and refuses the
    commit when anything is invalid, listing every issue with file and line.
    Users of the pre-commit framework can use the `mcpctl-validate` hook from
    this project's `.pre-commit-hooks.yaml` instead.

    \b
    Examples:
      mcpctl hooks install
      mcpctl hooks install manifests/
    """
    from mcpctl.hooks import GitRepo, install_pre_commit

    with cli_errors():
        repo = GitRepo.find()
        target = install_pre_commit(repo, list(paths) or ["."], force=force)
    click.echo(f"installed {target}")


@hooks.command("pre-commit")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
def pre_commit(paths: tuple[str, ...]) -> None:
    """Validate the staged manifests under PATH (what the installed hook runs).

    Exit status: 0 valid, 1 invalid, 2 error.

    \b
    Example:
      mcpctl hooks pre-commit manifests/
    """
    from mcpctl.cli.rendering.issues import render_text
    from mcpctl.hooks import GitRepo, run_pre_commit

    with cli_errors():
        repo = GitRepo.find()
        result, issues = run_pre_commit(repo, list(paths) or ["."])
    color = sys.stderr.isatty()
    if issues:
        click.echo(
            render_text(
                issues, objects=len(result.manifests), files=len(result.files), color=color
            ),
            nl=False,
            err=True,
        )
        click.echo(
            "mcpctl: commit refused; fix the manifests above (or commit --no-verify)", err=True
        )
        sys.exit(EXIT_FOUND)
    sys.exit(EXIT_OK)
