"""The operations of mcpd, independent of HTTP: objects, identity, RBAC, audit.

The API calls these; so will the git importer. Each operation opens its own
transaction; RBAC is checked and audit entries are written inside it.
"""

from mcpctl.service.access import SYSTEM, Principal
from mcpctl.service.identity import IdentityService, Login, Unauthenticated
from mcpctl.service.labels import Selector
from mcpctl.service.objects import ObjectService, WriteResult

__all__ = [
    "SYSTEM",
    "IdentityService",
    "Login",
    "ObjectService",
    "Principal",
    "Selector",
    "Unauthenticated",
    "WriteResult",
]
