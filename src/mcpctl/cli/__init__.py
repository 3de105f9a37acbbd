"""The `mcpctl` command line: click commands, output formats, exit codes.

Start-up time is a feature: `main` imports click alone, and each command
imports what it needs (pydantic, PyYAML, later the HTTP client) when it runs.
"""
