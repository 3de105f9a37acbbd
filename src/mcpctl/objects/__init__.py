"""Resource objects in the database: reads, writes, status writes, events, selectors.

`ObjectService` is the one path every write takes, whatever its source (the
API, a push, the mirror, a restore): validation alone and against the stored
objects, RBAC, audit and the change log, in one transaction; after the commit
the write's followers (the exporter, the mirror) are told what it stored.
"""

from mcpctl.objects.selectors import Selector
from mcpctl.objects.service import ObjectService, WriteResult

__all__ = ["ObjectService", "Selector", "WriteResult"]
