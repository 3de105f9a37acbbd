"""The MCP proxy: one endpoint per project, for AI clients (not built yet).

Its issue fills this package: `/mcp/<project>` served by mcpd (streamable
HTTP, both protocol eras), the aggregation and namespacing of the project's
servers' tools, prompts and resources, caching, gating, and `mcplocal`, the
proxy on a user's machine. It stands on the runtime's channels to running
instances and on `identity` (McpTokens); it sits at the layer of `api`, and
with the channel package it is the only one that imports the `mcp` SDK
(docs/architecture.md, "Where the coming pieces land").
"""
