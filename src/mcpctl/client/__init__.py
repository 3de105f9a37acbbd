"""mcpd's HTTP client and the contexts file, shared by the CLI and the coming mcplocal."""
