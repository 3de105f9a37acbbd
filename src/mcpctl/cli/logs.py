"""`mcpctl logs SERVER|INSTANCE`: what a running server wrote, streamed from mcpd.

`mcpctl logs server/time` (or `time`) merges the Server's instances, each line
prefixed with `[instance]` when it has more than one; `mcpctl logs
instance/time-x7k2p` reads one instance. `-f` follows until the instance ends
(Ctrl-C to stop), `--tail N` starts with the last N lines, `--since 10m` with
the lines of the last ten minutes. Needs `run logs` and `view` on the Server.
"""

from __future__ import annotations

import sys

import click

from mcpctl.cli.connection import api_errors, connect, target_options


def _target(name: str) -> tuple[str, str]:
    """(plural, name) of `server/NAME`, `instance/NAME` or a bare Server name."""
    kind, slash, rest = name.partition("/")
    if not slash:
        return "servers", name
    plural = {
        "server": "servers",
        "servers": "servers",
        "instance": "instances",
        "instances": "instances",
    }.get(kind.lower())
    if plural is None or not rest:
        raise click.UsageError(f"{name!r}: give server/NAME, instance/NAME or a Server's name")
    return plural, rest


@click.command("logs")
@click.argument("target", metavar="SERVER|INSTANCE")
@click.option("-f", "--follow", is_flag=True, help="Go on printing lines as they come.")
@click.option("--tail", type=click.IntRange(min=1), help="Start with the last N lines.")
@click.option("--since", metavar="DURATION", help="Start with the lines of the last 10s, 5m, 1h...")
@click.option("--instance", metavar="NAME", help="Of a Server, one instance only.")
@target_options()
def logs(
    target: str, follow: bool, tail: int | None, since: str | None, instance: str | None
) -> None:
    """Print the log of a Server's instances, or of one instance.

    \b
    Examples:
      mcpctl logs time
      mcpctl logs server/time -f --tail 20
      mcpctl logs instance/time-x7k2p --since 10m
    """
    from urllib.parse import quote

    from mcpctl.parameters import parse_duration

    plural, name = _target(target)
    params: dict[str, str] = {}
    if follow:
        params["follow"] = "true"
    if tail is not None:
        params["tail"] = str(tail)
    if since is not None:
        with api_errors():
            parse_duration(since, "--since")
        params["since"] = since
    if instance is not None:
        if plural != "servers":
            raise click.UsageError("--instance picks one instance of a Server")
        params["instance"] = instance
    out = sys.stdout.buffer
    with api_errors(), connect() as client:
        try:
            for line in client.stream(
                f"/api/v1/{plural}/{quote(name, safe='')}/log", params=params
            ):
                out.write(line)
                if follow:
                    out.flush()
        except KeyboardInterrupt:
            pass
        finally:
            out.flush()
