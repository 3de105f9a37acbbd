"""Who is calling and what they may do: principals, policy, RBAC, audit.

Every operation of mcpd (object writes, identity, the git loops, the API's
gitops routes) asks here whether its caller may act, and records what it did
or was refused in the audit log, in the same transaction as the act itself.
Deny by default: a principal holds only what an Rbac object grants it, and a
token never more than its creator.
"""

from mcpctl.access.policy import SYSTEM, Policy, Principal

__all__ = ["SYSTEM", "Policy", "Principal"]
