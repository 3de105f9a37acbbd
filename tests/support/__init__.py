"""Test harness shipped with the tests: real PostgreSQL, real mcpd processes, and real
MCP servers (the project's test server, PyPI's and npm's reference servers)."""
