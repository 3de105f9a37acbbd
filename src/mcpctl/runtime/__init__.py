"""Running MCP servers: the drivers behind one protocol (not built yet).

Its issue fills this package: a process driver (`command` servers as children
of mcpd), a Docker driver (`image` servers, the only package importing the
`docker` SDK) and external URLs, each able to start, stop, list, give logs
and open the MCP channel of an instance. The loops that drive Servers to
running instances live in `reconciler`, beside the git loops
(docs/architecture.md, "Where the coming pieces land").
"""
