"""The MCP channel to each running instance (its issue fills it): one connection per
instance over stdio, streamable HTTP or SSE, shared by the health probes and the
proxy, forwarding JSON-RPC as bytes. The only package beside `proxy` that imports
the `mcp` SDK."""
