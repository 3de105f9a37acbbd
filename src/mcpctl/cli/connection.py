"""Which mcpd a command talks to, and how a command that talks to it ends.

The target is chosen kubectl-style, by the options every API command takes
(here or before the command name: `mcpctl --context prod get servers`):

- `--context NAME` (or `$MCPCTL_CONTEXT`), else the config's current context;
- `--server URL` and `--token TOKEN` (or `$MCPCTL_SERVER`, `$MCPCTL_TOKEN`)
  override the context's. A `--server` other than the context's never gets
  the context's token: it is sent only to the server it was issued by.

`api_errors` maps failures once: invalid manifests (local or answered by
mcpd with 422) print every issue and exit 1, anything else one line and exit 2.

Imported by `main` for the group's options: click and the standard library
only at module level, the HTTP client when a command connects.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mcpctl.cli.errors import EXIT_FOUND, CliError, cli_errors
from mcpctl.errors import InvalidManifest, ManifestIssue

if TYPE_CHECKING:
    from mcpctl.client.http import ApiClient

F = TypeVar("F", bound=Callable[..., Any])

_META = "mcpctl.target"
#: Seconds shell completion waits for mcpd before offering nothing.
COMPLETION_TIMEOUT = 2.0


class ValidationFailed(CliError):
    """Manifests were refused (issues printed above): exit status 1."""

    exit_code = EXIT_FOUND


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and param.name is not None:
        ctx.meta.setdefault(_META, {})[param.name] = value
    return value


#: (option, metavar, help, environment variable)
_TARGET_OPTIONS = (
    ("--context", "NAME", "The context of the config file to use.", "MCPCTL_CONTEXT"),
    ("--server", "URL", "The mcpd to talk to (overrides the context's).", "MCPCTL_SERVER"),
    ("--token", "TOKEN", "The bearer token to send (overrides the context's).", "MCPCTL_TOKEN"),
)


def target_options(*, envvars: bool = False) -> Callable[[F], F]:
    """`--context`, `--server` and `--token`, remembered for `connect` (not passed to `f`)."""

    def decorate(f: F) -> F:
        for decl, metavar, helptext, var in reversed(_TARGET_OPTIONS):
            f = click.option(
                decl,
                metavar=metavar,
                help=helptext,
                envvar=var if envvars else None,
                expose_value=False,
                is_eager=True,
                callback=_remember,
            )(f)
        return f

    return decorate


def target_settings(ctx: click.Context | None = None) -> dict[str, str]:
    """The `--context`/`--server`/`--token` values given to this invocation."""
    ctx = ctx or click.get_current_context()
    settings: dict[str, str] = ctx.meta.get(_META, {})
    return settings


def connect(ctx: click.Context | None = None, *, quick: bool = False) -> ApiClient:
    """A client for the chosen mcpd; `quick`: one short attempt (for shell completion)."""
    from mcpctl.client.contexts import load_config
    from mcpctl.client.http import NO_RETRY, ApiClient, RetryPolicy
    from mcpctl.errors import NotFound

    settings = target_settings(ctx)
    config = load_config()
    server, token, name = settings.get("server"), settings.get("token"), settings.get("context")
    context = None
    if name is not None or server is None:
        context = config.get(name)
    elif config.current_context is not None:
        current = config.get()
        if current.server.rstrip("/") == server.rstrip("/"):
            context = current
    if context is not None:
        if server is None or server.rstrip("/") == context.server.rstrip("/"):
            token = token or context.token
        server = server or context.server
    if server is None:  # pragma: no cover - config.get() raises first
        raise NotFound("no server: give --server URL or run `mcpctl login SERVER`")
    # a rejected token is blamed on the context only if it is the context's (not --token's)
    owner = context.name if context is not None and token and token == context.token else None
    return ApiClient(
        server=server,
        token=token,
        context=owner,
        timeout=COMPLETION_TIMEOUT if quick else 30.0,
        retry=NO_RETRY if quick else RetryPolicy(),
    )


def show_issues(issues: Sequence[ManifestIssue], *, objects: int, files: int) -> None:
    """Print every issue (and a summary line) on stderr, coloured on a terminal."""
    from mcpctl.cli.rendering.issues import render_text

    color = sys.stderr.isatty()
    click.echo(
        render_text(issues, objects=objects, files=files, color=color),
        nl=False,
        err=True,
        color=color,
    )


@contextmanager
def api_errors(
    *,
    objects: int = 0,
    files: int = 0,
    locate: Callable[[ManifestIssue], ManifestIssue] = (lambda issue: issue),
) -> Iterator[None]:
    """Invalid manifests: every issue, exit 1. Any other failure: one line, exit 2.

    `locate` may point an issue the server found at the local file it came from.
    """
    with cli_errors():
        try:
            yield
        except InvalidManifest as e:
            issues = [locate(issue) for issue in e.issues]
            show_issues(issues, objects=objects, files=files)
            raise ValidationFailed("nothing was changed (see the issues above)") from e
