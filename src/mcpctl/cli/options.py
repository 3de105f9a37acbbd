"""The click options several commands share, so that each reads the same everywhere.

`-p/--project` of `get` and `describe`, and `-f/--filename` of `apply`,
`delete` and `seal`. The options every API command takes (`--context`,
`--server`, `--token`) are `connection.target_options`, next to `connect`
which reads them. click and the standard library only: imported by the
command modules when the command runs or shows its help.
"""

from __future__ import annotations

import click

from mcpctl.cli.completion import names_of

files_option = click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    metavar="PATH",
    type=click.Path(allow_dash=True),
    help="A manifest file or directory (walked recursively), or - for stdin (repeatable).",
)

project_option = click.option(
    "-p",
    "--project",
    metavar="NAME",
    shell_complete=names_of("projects"),
    help="The project of project-scoped kinds (prompts, promptrequests); mcptokens: filter.",
)
