"""The `mcpctl` command line: click commands, output formats, exit codes.

One module per command path, named for it (`get`, `describe`, `apply`,
`delete`, `restore`, `seal`, `login`, ...; a group and its subcommands share
one: `gitops`, `config`, `hooks`, `schema`, `create`); `main` maps each
command name to its module. What several commands share is named for what it
does: `connection` (which mcpd, how failures end), `options`, `sending`,
`resources`, `flags`, `completion`, `errors`; what they print is in
`rendering`. mcpd is reached through `mcpctl.client` only.

Start-up time is a feature: `main` imports click alone, and each command
imports what it needs (pydantic, PyYAML, the HTTP client) when it runs.
"""
