"""Running MCP servers: the drivers behind one protocol (`base`).

The docker driver (`docker`: `image` servers as containers, the only module importing
the `docker` SDK) is built; the process driver (`command` servers as children of
mcpd) and external URLs are to come. Each starts, stops, lists, gives logs and hands
out the way to an instance's MCP channel. The loops that drive Servers to running
instances live in `reconciler`, beside the git loops (docs/architecture.md, "The
runtime").
"""
