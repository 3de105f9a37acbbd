"""Who a caller is: passwords, login sessions, McpTokens, ServiceAccount tokens, bootstrap.

Stands on `objects` (Users, ServiceAccounts and McpTokens are objects, written
through the same path as every other kind) and on `access` (a token is capped
by what its creator holds). The API and the git endpoint authenticate every
request here (`service`); `credentials` holds the token formats and password
hashing, `bootstrap` the first start's admin, `throttling` the back-off of
failed logins.
"""

from mcpctl.identity.bootstrap import AdminCreated, AdminFound, Bootstrapper
from mcpctl.identity.credentials import Unauthenticated
from mcpctl.identity.service import IdentityService, Login
from mcpctl.identity.throttling import (
    LoginThrottle,
    Throttled,
    ThrottleSchedule,
    ThrottleSettings,
)

__all__ = [
    "AdminCreated",
    "AdminFound",
    "Bootstrapper",
    "IdentityService",
    "Login",
    "LoginThrottle",
    "ThrottleSchedule",
    "ThrottleSettings",
    "Throttled",
    "Unauthenticated",
]
