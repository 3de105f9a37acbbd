"""Status writes: what the runtime observes of an object, beside the spec users write.

The one path that changes an object's `status`: the row's status and its
listed form (`rendered`, what `GET /api/v1/<kind>` returns) change together in
the caller's transaction, so a list never shows an old status. A status is
not part of the desired state: it bumps neither the resourceVersion nor the
generation, records no change (nothing for git) and no audit entry.
`ObjectService.write_status` opens the transaction; the runtime's loops call it.
"""

from __future__ import annotations

from typing import Any

from mcpctl.errors import NotFound
from mcpctl.manifests.references import Key, format_key
from mcpctl.store import Session
from mcpctl.store.objects import find_object
from mcpctl.store.rows import render


async def write_status(session: Session, key: Key, status: dict[str, Any] | None) -> dict[str, Any]:
    """Set the status of the object `key` (None: clear it) in the caller's transaction;
    the object's API form with it."""
    row = await find_object(session, *key)
    if row is None:
        raise NotFound(f"{format_key(key)} not found")
    row.status = status
    return render(row)
