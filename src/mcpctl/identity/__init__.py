"""Who a caller is: passwords, login sessions, McpTokens, ServiceAccount tokens, bootstrap.

Stands on `objects` (Users, ServiceAccounts and McpTokens are objects, written
through the same path as every other kind) and on `access` (a token is capped
by what its creator holds). The API authenticates every request here.
"""

from mcpctl.identity.service import IdentityService, Login, Unauthenticated

__all__ = ["IdentityService", "Login", "Unauthenticated"]
