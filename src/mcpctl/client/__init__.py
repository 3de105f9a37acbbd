"""The client side of mcpd: its HTTP API and the contexts that say where it is.

`http` holds `ApiClient` (retries, deadlines, one mcpctl error per problem
answer) and `contexts` the kubeconfig-like file of servers and tokens. The
CLI (`mcpctl.cli`) calls both, and so will `mcplocal`, the local proxy that
is coming; mcpd itself uses `contexts` only, to write the context of its
bootstrap admin. Neither knows of click or of the CLI, so the two callers
share them as they are.

Kept empty on purpose: the CLI imports a submodule only when a command talks
to mcpd, and `mcpctl --help` must not pay for it.
"""
