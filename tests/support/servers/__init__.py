"""MCP servers of the project's own for the tests: real servers on the `mcp` SDK."""
