"""`python -m mcpctl` runs the CLI (the git hooks call it this way)."""

from mcpctl.cli.main import main

main()
